import type { SimCore } from '../core.js'
import type { JsonListBuffer } from '../json-list.js'
import { guestName, parseSize } from '../guest-config.js'
import { parsePropertyString } from '../params.js'
import type { SimGuest } from '../state.js'
import type { SimTask } from '../tasks.js'

const MiB = 2 ** 20

/** Splits `root@pam!tok` into the `user`/`tokenid` pair task responses show (trap 19). */
export function splitUser(user: string): { user: string; tokenid?: string } {
  const i = user.indexOf('!')
  return i < 0 ? { user } : { user: user.slice(0, i), tokenid: user.slice(i + 1) }
}

/** A task as `GET …/tasks` lists it. */
export function taskListItem(t: SimTask): Record<string, unknown> {
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    ...splitUser(t.user),
    ...(t.status === 'stopped' ? { endtime: t.endtime, status: t.exitstatus } : {}),
  }
}

/** Root disk size in bytes from the config's rootfs `size=`. */
export function rootfsBytes(g: SimGuest): number {
  const rootfs = String(g.config.rootfs ?? '')
  let bytes = sizeCache.get(rootfs)
  if (bytes !== undefined) return bytes
  const size = parsePropertyString(rootfs, 'volume')?.size
  try {
    bytes = size ? parseSize(size) : 0
  } catch {
    bytes = 0
  }
  if (sizeCache.size > 10_000) sizeCache.clear()
  sizeCache.set(rootfs, bytes)
  return bytes
}

/** rootfs string → bytes (rootfs strings repeat little, but /cluster/resources reads them per request). */
const sizeCache = new Map<string, number>()

/** Pool membership index vmid → pool id. */
export function poolIndex(core: SimCore): Map<number, string> {
  const m = new Map<number, string>()
  for (const [id, p] of Object.entries(core.state.pools)) for (const v of p.members) m.set(v, id)
  return m
}

/** HA state index vmid → `hastate` (as resourceItem shows it) for `ct:<vmid>` resources. */
export function haIndex(core: SimCore): Map<number, string> {
  const m = new Map<number, string>()
  for (const [sid, ha] of Object.entries(core.state.ha)) {
    if (!sid.startsWith('ct:')) continue
    const vmid = Number(sid.slice(3))
    if (Number.isInteger(vmid) && `ct:${vmid}` === sid) m.set(vmid, String(ha.state ?? 'started'))
  }
  return m
}

/** Uptime in seconds of a running guest. */
export const uptime = (core: SimCore, g: SimGuest): number =>
  g.status === 'running' && g.startedAt !== undefined ? Math.max(0, Math.floor((core.now() - g.startedAt) / 1000)) : 0

/** A CT as `GET /nodes/{node}/lxc` lists it (also the base of status/current). */
export function lxcListItem(core: SimCore, g: SimGuest): Record<string, unknown> {
  const running = g.status === 'running'
  const memory = Number(g.config.memory ?? 512)
  const item: Record<string, unknown> = {
    vmid: g.vmid,
    status: g.status,
    name: guestName(g),
    type: 'lxc',
    cpus: Number(g.config.cores ?? 1),
    maxmem: memory * MiB,
    maxswap: Number(g.config.swap ?? 512) * MiB,
    maxdisk: rootfsBytes(g),
    mem: running ? Math.floor(memory * MiB * 0.12) : 0,
    swap: 0,
    disk: running ? Math.floor(rootfsBytes(g) * 0.1) : 0,
    cpu: running ? 0.003 : 0,
    uptime: uptime(core, g),
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
  }
  if (g.config.tags !== undefined) item.tags = g.config.tags
  if (g.config.lock !== undefined) item.lock = g.config.lock
  if (g.config.template !== undefined) item.template = g.config.template
  if (running) item.pid = 100000 + g.vmid
  return item
}

/** The `/cluster/resources` guest item: lock/tags live, status/name/metrics lagged (trap 12). */
export function resourceItem(core: SimCore, g: SimGuest, pools: Map<number, string>): Record<string, unknown> {
  const lagging = !g.created || core.now() - g.rrd.changedAt < core.opts.resourcesLagMs
  const status = !g.created ? 'unknown' : lagging ? g.rrd.status : g.status
  const ha = core.state.ha[`ct:${g.vmid}`]
  return buildResourceItem(g, {
    status,
    name: !g.created ? undefined : lagging ? g.rrd.name : guestName(g),
    uptime: status === 'running' ? uptime(core, g) : 0,
    pool: pools.get(g.vmid),
    hastate: ha ? String(ha.state ?? 'started') : undefined,
  })
}

/** The item's fields in PVE's order, from values already decided (lag, uptime, indexes). Pure. */
function buildResourceItem(g: SimGuest, o: { status: string; name: string | undefined; uptime: number; pool: string | undefined; hastate: string | undefined }): Record<string, unknown> {
  const cfg = g.config
  const memory = Number(cfg.memory ?? 512)
  const running = o.status === 'running'
  const item: Record<string, unknown> = { id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node, status: o.status }
  if (o.name !== undefined) item.name = o.name
  if (g.created) {
    Object.assign(item, {
      uptime: o.uptime,
      template: Number(cfg.template ?? 0),
      maxcpu: Number(cfg.cores ?? 1),
      cpu: running ? 0.003 : 0,
      maxmem: memory * MiB,
      mem: running ? Math.floor(memory * MiB * 0.12) : 0,
      maxdisk: rootfsBytes(g),
      disk: 0,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
    })
  }
  if (o.pool) item.pool = o.pool
  if (cfg.lock !== undefined) item.lock = cfg.lock
  if (cfg.tags !== undefined) item.tags = cfg.tags
  if (o.hastate !== undefined) item.hastate = o.hastate
  return item
}

/** What a cached `/cluster/resources` fragment was built from (compared field by field). */
interface ResourceFragment {
  type: string
  vmid: number
  node: string
  status: string
  name: string | undefined
  hostname: unknown
  created: boolean
  lagging: boolean
  memory: unknown
  cores: unknown
  template: unknown
  rootfs: unknown
  pool: string | undefined
  lock: unknown
  tags: unknown
  hastate: string | undefined
  /** UTF-8 JSON before and after the uptime value (the only field that moves with the clock). */
  pre: Buffer
  post: Buffer
  /** The whole item when its uptime is constant (not running). */
  whole: Buffer | undefined
  /** What the guest adds to its node's `local-lvm` usage (see storageUsed). */
  lvmUsed: number
}

const UPTIME_SENTINEL = -7_654_321
const fragments = new WeakMap<SimGuest, ResourceFragment>()

/**
 * Appends `JSON.stringify(resourceItem(core, g, pools))` to `out`, from a per-guest fragment
 * cached until any input of the item changes (status, name, lock, tags, sizes, pool, HA state,
 * lag window), so a steady `/cluster/resources` over thousands of guests costs a comparison and a
 * copy per guest; uptimes are evaluated when `out` is rendered. `now` is the request time (read
 * once per request, for the lag window); `pools` and `has` are the
 * per-request indexes from poolIndex/haIndex. Returns what the guest adds to its node's
 * `local-lvm` usage (`Math.floor(rootfsBytes(g) * 0.1)`), so the storage items need no second pass.
 */
export function addResourceItem(out: JsonListBuffer, core: SimCore, g: SimGuest, pools: Map<number, string>, now: number, has: Map<number, string>): number {
  const lagging = !g.created || now - g.rrd.changedAt < core.opts.resourcesLagMs
  const status = !g.created ? 'unknown' : lagging ? g.rrd.status : g.status
  const cfg = g.config
  const pool = pools.size === 0 ? undefined : pools.get(g.vmid)
  const hastate = has.size === 0 ? undefined : has.get(g.vmid)
  let f = fragments.get(g)
  if (
    !f ||
    f.status !== status ||
    f.lagging !== lagging ||
    f.created !== g.created ||
    f.vmid !== g.vmid ||
    f.node !== g.node ||
    f.type !== g.type ||
    (lagging ? f.name !== g.rrd.name : f.hostname !== cfg.hostname) ||
    f.lock !== cfg.lock ||
    f.tags !== cfg.tags ||
    f.memory !== cfg.memory ||
    f.cores !== cfg.cores ||
    f.template !== cfg.template ||
    f.rootfs !== cfg.rootfs ||
    f.pool !== pool ||
    f.hastate !== hastate
  ) {
    const name = !g.created ? undefined : lagging ? g.rrd.name : guestName(g)
    const item = buildResourceItem(g, { status, name, uptime: UPTIME_SENTINEL, pool, hastate })
    const text = JSON.stringify(item)
    const marker = `"uptime":${UPTIME_SENTINEL}`
    const at = text.indexOf(marker)
    const pre = at < 0 ? text : text.slice(0, at + 9)
    const post = at < 0 ? '' : text.slice(at + marker.length)
    f = {
      type: g.type,
      vmid: g.vmid,
      node: g.node,
      status,
      name: lagging ? g.rrd.name : name,
      hostname: cfg.hostname,
      created: g.created,
      lagging,
      memory: cfg.memory,
      cores: cfg.cores,
      template: cfg.template,
      rootfs: cfg.rootfs,
      pool,
      lock: cfg.lock,
      tags: cfg.tags,
      hastate,
      pre: Buffer.from(pre),
      post: Buffer.from(post),
      whole: at < 0 ? Buffer.from(text) : status === 'running' ? undefined : Buffer.from(`${pre}0${post}`),
      lvmUsed: Math.floor(rootfsBytes(g) * 0.1),
    }
    fragments.set(g, f)
  }
  if (f.whole !== undefined) out.add(f.whole)
  else if (g.startedAt !== undefined && g.status === 'running') out.addUptime(f.pre, g.startedAt, f.post)
  else out.addSpliced(f.pre, 0, f.post)
  return f.lvmUsed
}
