/**
 * `diffGuest`: the pure comparison of a desired guest config with what Proxmox reports, after
 * normalisation (normalize.ts), classified by impact (DESIGN §4):
 * - `live`: applied on a running guest (cores, memory, swap, tags, description, onboot, NICs, new
 *   mount points, disk growth),
 * - `restart`: stored but pending until the next start (features, nameserver, mount options, …),
 * - `replace`: only a re-creation changes it (template, unprivileged, rootfs storage),
 * - `data-loss`: a mount point removed or moved (its data goes).
 * A disk shrink is not data-loss: Proxmox refuses it, so the change carries `refused`.
 */
import type { Impact } from '../runtime/controller.js'
import { bytesToGiB, diffPropertyMaps, normalizeDescription, normalizeTags, parseVolume } from './normalize.js'
import { parsePropertyString } from './property-string.js'
import type { DesiredGuest, ObservedGuest, PlanFieldChange, SizeUnit } from './types.js'

/** Keys Proxmox applies to a running CT at once (fastplug or hotplug, REFERENCE §5.3). */
const LIVE_KEYS = new Set(['description', 'onboot', 'startup', 'protection', 'hostname', 'hookscript', 'cores', 'tags', 'memory', 'swap', 'cpulimit', 'cpuunits'])
/** Keys that can only be set at creation. */
const REPLACE_KEYS = new Set(['unprivileged', 'arch', 'ostype'])
/** Keys Proxmox adds to property strings on its own. */
const NET_SERVER_KEYS = ['hwaddr', 'type'] as const
const VOLUME_SERVER_KEYS = ['size'] as const

/**
 * Manifest-facing path per Proxmox key (or `key.option` of a property string). Keys without a
 * manifest field get a name saying what they are (`state.startOnBoot`, `network.interface`), never the raw
 * Proxmox key, so a plan reads in the user's vocabulary.
 */
const DEFAULT_PATHS: Record<string, string> = {
  hostname: 'hostname',
  onboot: 'state.startOnBoot',
  cores: 'resources.cores',
  memory: 'resources.memory',
  swap: 'resources.swap',
  'rootfs.size': 'resources.disk',
  'rootfs.storage': 'resources.storage',
  'net0.bridge': 'network.bridge',
  'net0.ip': 'network.ip',
  'net0.gw': 'network.gateway',
  'net0.name': 'network.interface',
}

/** Keys whose numbers carry a unit in the plan (`resources.memory: 256Mi -> 1Gi`). */
const KEY_UNITS: Record<string, SizeUnit> = { memory: 'MiB', swap: 'MiB' }

/** Keys whose 0/1 value is shown as a boolean (`state.startOnBoot: false -> true`). */
const BOOLEAN_KEYS = new Set(['onboot'])
const BOOLEAN_VOLUME_OPTIONS = new Set(['backup', 'ro', 'acl', 'quota', 'replicate', 'shared'])

function asBoolean(v: string | number | undefined): boolean | undefined {
  if (v === undefined) return undefined
  return Number(v) === 1
}

/** Orders impacts from mildest to worst. */
export const IMPACT_ORDER: Record<Impact, number> = { live: 0, restart: 1, replace: 2, 'data-loss': 3 }

/** The worst impact of a list of changes (`live` for an empty list). */
export function worstImpact(changes: { impact: Impact }[]): Impact {
  let worst: Impact = 'live'
  for (const c of changes) if (IMPACT_ORDER[c.impact] > IMPACT_ORDER[worst]) worst = c.impact
  return worst
}

function pathFor(desired: DesiredGuest, key: string): string {
  const known = desired.paths?.[key] ?? DEFAULT_PATHS[key]
  if (known) return known
  // Other options of a NIC: `net0.firewall` → `network.firewall`, `net1.tag` → `network[1].tag`.
  const nic = /^net(\d+)\.(.+)$/.exec(key)
  if (nic) return nic[1] === '0' ? `network.${nic[2]}` : `network[${nic[1]}].${nic[2]}`
  return key
}

/** Manifest path of an option of a volume: `volumes.data.path` for `mp0.mp`, `resources.disk.<opt>` for rootfs. */
function volumeOptionPath(desired: DesiredGuest, key: string, option: string): string {
  const base = key === 'rootfs' ? pathFor(desired, 'rootfs.size') : pathFor(desired, key)
  return `${base}.${option === 'mp' ? 'path' : option}`
}

function scalar(v: string | number | undefined): string | number | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'number') return v
  const n = Number(v)
  return v.trim() !== '' && Number.isFinite(n) && String(n) === v.trim() ? n : v
}

/**
 * Field changes needed to turn `observed` into `desired`, sorted by path. An empty array means the
 * guest is converged. Keys only the observed side has are ignored (Proxmox adds `arch`, `ostype`,
 * `digest`, …), except mount points (`mp[n]`), whose absence from the desired side is a removal.
 */
export function diffGuest(desired: DesiredGuest, observed: ObservedGuest): PlanFieldChange[] {
  const out: PlanFieldChange[] = []
  const want = desired.config
  const have = observed.config
  const pending = new Set(observed.pendingKeys ?? [])

  if (desired.ostemplate && observed.ostemplate && desired.ostemplate !== observed.ostemplate) {
    out.push({ key: 'ostemplate', path: 'template', before: observed.ostemplate, after: desired.ostemplate, impact: 'replace', forcesReplacement: true })
  }

  for (const key of Object.keys(want).sort()) {
    const d = want[key]
    const o = have[key]
    if (key === 'tags') {
      const a = normalizeTags(String(d))
      const b = normalizeTags(o === undefined ? '' : String(o))
      if (a !== b) out.push({ key, path: pathFor(desired, key), before: b ? b.split(';') : [], after: a ? a.split(';') : [], impact: 'live' })
    } else if (key === 'description') {
      const a = normalizeDescription(d)
      const b = normalizeDescription(o)
      if (a !== b) out.push({ key, path: pathFor(desired, key), before: b, after: a, impact: 'live' })
    } else if (key === 'rootfs' || /^mp\d+$/.test(key)) {
      out.push(...diffVolume(desired, key, String(d), o === undefined ? undefined : String(o)))
    } else if (/^net\d+$/.test(key)) {
      const changes = diffPropertyMaps(parsePropertyString(d), parsePropertyString(o), NET_SERVER_KEYS)
      for (const c of changes) {
        const sub = `${key}.${c.key}`
        out.push({ key, path: pathFor(desired, sub), before: c.before, after: c.after, impact: 'live' })
      }
    } else if (key === 'features') {
      const changes = diffPropertyMaps(parsePropertyString(d), parsePropertyString(o))
      for (const c of changes) {
        out.push({ key, path: pathFor(desired, `features.${c.key}`), before: scalar(c.before), after: scalar(c.after), impact: 'restart' })
      }
    } else {
      const a = scalar(d)
      const b = scalar(o)
      if (a === b) continue
      const impact: Impact = REPLACE_KEYS.has(key) ? 'replace' : LIVE_KEYS.has(key) ? 'live' : 'restart'
      const [before, after] = BOOLEAN_KEYS.has(key) ? [asBoolean(b), asBoolean(a)] : [b, a]
      const unit = KEY_UNITS[key]
      out.push({ key, path: pathFor(desired, key), before, after, impact, ...(unit ? { unit } : {}), ...(impact === 'replace' ? { forcesReplacement: true } : {}) })
    }
  }

  // Mount points we no longer want: their data goes with them.
  for (const key of Object.keys(have).sort()) {
    if (!/^mp\d+$/.test(key) || want[key] !== undefined) continue
    const v = parseVolume(String(have[key]))
    // The manifest no longer names this volume: call it by its mount path.
    const path = desired.paths?.[key] ?? (v?.options.mp ? `volumes[${v.options.mp}]` : `volumes[${key}]`)
    out.push({ key, path, before: v?.options.mp ?? String(have[key]), after: undefined, impact: 'data-loss' })
  }

  // A restart-class value already stored but not yet effective (pending) still needs a restart.
  for (const key of [...pending].sort()) {
    if (want[key] === undefined || out.some((c) => c.path === pathFor(desired, key) || c.path.startsWith(`${key}.`))) continue
    if (LIVE_KEYS.has(key) || /^net\d+$/.test(key)) continue
    out.push({ key, path: pathFor(desired, key), before: '(pending)', after: scalar(want[key]), impact: 'restart' })
  }

  if (desired.state && observed.status && desired.state !== observed.status) {
    out.push({ key: 'state', path: 'state', before: observed.status, after: desired.state, impact: 'live' })
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function diffVolume(desired: DesiredGuest, key: string, want: string, have: string | undefined): PlanFieldChange[] {
  const d = parseVolume(want)
  const o = parseVolume(have)
  if (!d) return []
  const isRoot = key === 'rootfs'
  if (!o) {
    // rootfs always exists on a created guest; a missing mount point is simply added (hotplug).
    return [{ key, path: pathFor(desired, key), before: undefined, after: d.options.mp ?? want, impact: 'live' }]
  }
  const out: PlanFieldChange[] = []
  if (d.storage !== o.storage) {
    out.push(
      isRoot
        ? { key, path: pathFor(desired, 'rootfs.storage'), before: o.storage, after: d.storage, impact: 'replace', forcesReplacement: true }
        : { key, path: `${pathFor(desired, key)}.storage`, before: o.storage, after: d.storage, impact: 'data-loss' },
    )
  }
  if (d.sizeGiB !== undefined && o.sizeGiB !== undefined && d.sizeGiB !== o.sizeGiB) {
    const path = isRoot ? pathFor(desired, 'rootfs.size') : `${pathFor(desired, key)}.size`
    const change: PlanFieldChange = { key, path, before: o.sizeGiB, after: d.sizeGiB, impact: 'live', unit: 'GiB' }
    if (d.sizeGiB < o.sizeGiB) change.refused = `proxmox only grows disks: set it back to ${o.sizeGiB} or larger`
    out.push(change)
  }
  for (const c of diffPropertyMaps(d.options, o.options, VOLUME_SERVER_KEYS)) {
    if (c.after === undefined) continue // options Proxmox or a person added that we do not manage
    const bool = BOOLEAN_VOLUME_OPTIONS.has(c.key)
    out.push({ key, path: volumeOptionPath(desired, key, c.key), before: bool ? asBoolean(c.before) : c.before, after: bool ? asBoolean(c.after) : c.after, impact: 'restart' })
  }
  return out
}

/** GiB of a `/cluster/resources` `maxdisk` (bytes), for steady-state checks. */
export const maxdiskGiB = (bytes: number | undefined): number | undefined => (bytes === undefined ? undefined : bytesToGiB(bytes))
