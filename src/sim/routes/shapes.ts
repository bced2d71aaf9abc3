import type { SimCore } from '../core.js'
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
  const name = !g.created ? undefined : lagging ? g.rrd.name : guestName(g)
  const memory = Number(g.config.memory ?? 512)
  const item: Record<string, unknown> = {
    id: `${g.type}/${g.vmid}`,
    type: g.type,
    vmid: g.vmid,
    node: g.node,
    status,
  }
  if (name !== undefined) item.name = name
  if (g.created) {
    Object.assign(item, {
      uptime: status === 'running' ? uptime(core, g) : 0,
      template: Number(g.config.template ?? 0),
      maxcpu: Number(g.config.cores ?? 1),
      cpu: status === 'running' ? 0.003 : 0,
      maxmem: memory * MiB,
      mem: status === 'running' ? Math.floor(memory * MiB * 0.12) : 0,
      maxdisk: rootfsBytes(g),
      disk: 0,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
    })
  }
  const pool = pools.get(g.vmid)
  if (pool) item.pool = pool
  if (g.config.lock !== undefined) item.lock = g.config.lock
  if (g.config.tags !== undefined) item.tags = g.config.tags
  const ha = core.state.ha[`ct:${g.vmid}`]
  if (ha) item.hastate = String(ha.state ?? 'started')
  return item
}
