import { createHash, randomBytes } from 'node:crypto'
import { fail } from './errors.js'
import { normaliseTags } from './formats.js'
import { parsePropertyString } from './params.js'
import type { ConfigValue, SimGuest } from './state.js'

/** Options applied directly to a running CT; hot-plugged ones count as applied too (§5.3). */
const LIVE_OPTIONS = new Set(['description', 'onboot', 'startup', 'protection', 'hostname', 'hookscript', 'cores', 'tags', 'lock', 'memory', 'swap', 'cpulimit', 'cpuunits'])

/** Whether a change of `key` on a running CT is applied at once (fastplug or hotplug). */
export function appliesLive(key: string, guest: SimGuest): boolean {
  if (LIVE_OPTIONS.has(key)) return true
  if (/^net\d+$/.test(key)) return true
  if (/^(mp|dev)\d+$/.test(key)) return guest.config[key] === undefined
  return false
}

/** A random MAC with the Proxmox OUI `BC:24:11`. */
export function randomMac(): string {
  return ['BC', '24', '11', ...[...randomBytes(3)].map((b) => b.toString(16).toUpperCase().padStart(2, '0'))].join(':')
}

/** Re-prints a property string: `first` key first, the rest alphabetically. */
export function printPropertyString(map: Record<string, string>, first?: string): string {
  const keys = Object.keys(map).filter((k) => k !== first).sort()
  const parts = first && map[first] !== undefined ? [first === 'volume' ? map[first] : `${first}=${map[first]}`] : []
  return [...parts, ...keys.map((k) => `${k}=${map[k]}`)].join(',')
}

/** Canonical `net[n]`: `name` first, others alphabetical, `hwaddr` and `type=veth` added. */
export function canonicalNet(value: string, previous?: string): string {
  const map = parsePropertyString(value) ?? {}
  const prevMac = previous ? parsePropertyString(previous)?.hwaddr : undefined
  map.hwaddr = (map.hwaddr ?? prevMac ?? randomMac()).toUpperCase()
  map.type ??= 'veth'
  return printPropertyString(map, 'name')
}

/** Formats a size in bytes like PVE `format_size` (largest exact unit). */
export function formatSize(bytes: number): string {
  for (const [unit, f] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes % f === 0 && bytes >= f) return `${bytes / f}${unit}`
  }
  return String(bytes)
}

/** Parses `8G`, `512M`, `1.5G`, plain bytes… into bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(s)
  if (!m) throw fail(`invalid size '${s}'`)
  const f = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2] as 'K'] ?? 1
  return Math.round(Number(m[1]) * f)
}

/**
 * Allocates the rootfs: `STORAGE:SIZE` (GiB) or a bare number (with `storage`) becomes
 * `local-lvm:vm-<vmid>-disk-0,size=<n>G`; an existing volid is kept.
 */
export function allocateRootfs(value: string | undefined, vmid: number, storage: string): { value: string; storage: string } {
  const map = parsePropertyString(value ?? `${storage}:4`, 'volume') ?? { volume: `${storage}:4` }
  let vol = map.volume ?? `${storage}:4`
  if (/^\d+(\.\d+)?$/.test(vol)) vol = `${storage}:${vol}`
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(vol)
  let st = vol.split(':')[0] ?? storage
  if (m) {
    st = m[1] as string
    map.size = formatSize(Math.round(Number(m[2]) * 2 ** 30))
    map.volume = `${st}:vm-${vmid}-disk-0`
  } else {
    map.volume = vol
    map.size ??= '8G'
  }
  return { value: printPropertyString(map, 'volume'), storage: st }
}

/** Volume keys of a CT config (`rootfs`, `mp[n]`, `unused[n]`). */
export const isVolumeKey = (key: string): boolean => key === 'rootfs' || /^(mp|unused)\d+$/.test(key)

/**
 * The next free `vm-<vmid>-disk-<n>` name on `storage` for `vmid`, given the configs (current,
 * pending, snapshots) of that CT that may already name some (PVE's find_free_diskname).
 */
export function freeDiskName(storage: string, vmid: number, configs: Record<string, ConfigValue>[]): string {
  const used = new Set<string>()
  for (const cfg of configs) {
    for (const [k, v] of Object.entries(cfg)) {
      if (!isVolumeKey(k)) continue
      const vol = (parsePropertyString(String(v), 'volume') ?? {}).volume
      if (vol) used.add(vol)
    }
  }
  for (let n = 0; ; n++) if (!used.has(`${storage}:vm-${vmid}-disk-${n}`)) return `${storage}:vm-${vmid}-disk-${n}`
}

/**
 * Allocates a mount point given in the allocation form `STORAGE:SIZE` (GiB): a new volume
 * `STORAGE:vm-<vmid>-disk-<n>` with `size=<SIZE>G`, as PVE does on create and on PUT config.
 * Any other value (an existing volid, a bind mount) is returned unchanged.
 */
export function allocateMountPoint(value: ConfigValue, vmid: number, configs: Record<string, ConfigValue>[]): ConfigValue {
  const map = parsePropertyString(String(value), 'volume')
  const m = map?.volume ? /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(map.volume) : null
  if (!map || !m) return value
  const storage = m[1] as string
  map.size = formatSize(Math.round(Number(m[2]) * 2 ** 30))
  map.volume = freeDiskName(storage, vmid, configs)
  return printPropertyString(map, 'volume')
}

/** Normalises one config value on write (tags, description, net[n]). */
export function normaliseValue(key: string, value: ConfigValue, previous?: ConfigValue): ConfigValue {
  if (key === 'tags') return normaliseTags(String(value))
  if (key === 'description') {
    const s = String(value)
    return s === '' || s.endsWith('\n') ? s : `${s}\n`
  }
  if (/^net\d+$/.test(key)) return canonicalNet(String(value), previous === undefined ? undefined : String(previous))
  return value
}

/** The config `GET …/config` returns: pending merged in unless `current`, deletions hidden. */
export function effectiveConfig(g: SimGuest, current: boolean): Record<string, ConfigValue> {
  if (current) return { ...g.config }
  const out: Record<string, ConfigValue> = { ...g.config, ...g.pending }
  for (const k of g.pendingDelete) delete out[k]
  return out
}

function serialiseSection(cfg: Record<string, ConfigValue>): string {
  const desc = cfg.description !== undefined ? String(cfg.description).split('\n').filter((l, i, a) => i < a.length - 1 || l !== '').map((l) => `#${l}\n`).join('') : ''
  const keys = Object.keys(cfg).filter((k) => k !== 'description').sort()
  return desc + keys.map((k) => `${k}: ${cfg[k]}\n`).join('')
}

/** Canonical serialisation of the config file (main, snapshots, pending), as pct writes it. */
export function serialiseConfig(g: SimGuest): string {
  let text = serialiseSection(g.parent ? { ...g.config, parent: g.parent } : g.config)
  for (const s of g.snapshots) {
    text += `\n[${s.name}]\n${serialiseSection({ ...s.config, snaptime: s.snaptime, ...(s.parent ? { parent: s.parent } : {}) })}`
  }
  if (Object.keys(g.pending).length > 0 || g.pendingDelete.length > 0) {
    const p: Record<string, ConfigValue> = { ...g.pending }
    if (g.pendingDelete.length > 0) p.delete = g.pendingDelete.join(',')
    text += `\n[pve:pending]\n${serialiseSection(p)}`
  }
  return text
}

/** `digest`: SHA-1 hex of the serialised config file. */
export function configDigest(g: SimGuest): string {
  return createHash('sha1').update(serialiseConfig(g)).digest('hex')
}

/** The guest name as status/list show it: hostname without whitespace, or `CT<vmid>`. */
export function guestName(g: SimGuest): string {
  const h = g.config.hostname
  return h === undefined ? `CT${g.vmid}` : String(h).replace(/\s+/g, '')
}
