import { flag, num, str, type RouteDef, type SimCore } from '../core.js'
import { Envelope, RawJson } from '../envelope.js'
import { fail, paramError } from '../errors.js'
import { UPID_RE } from '../tasks.js'
import { JsonListBuffer } from '../json-list.js'
import { addResourceItem, haIndex, poolIndex, taskListItem } from './shapes.js'
import { STORAGES, storageResource } from './storage-defs.js'

const GiB = 2 ** 30

/** The guest items of `/cluster/resources`, cached while the state and every lag window hold. */
interface GuestSection {
  list: JsonListBuffer
  /** node → `local-lvm` bytes used (summed while listing). */
  lvmUsed: Map<string, number>
  version: number
  guests: object
  builtAt: number
  /** First time a guest's lag window closes (its status/name item changes with the clock). */
  validUntil: number
}

const EMPTY_LIST = new JsonListBuffer()
const sections = new WeakMap<SimCore, GuestSection>()

/**
 * The guest section for a request at `now`: reused while the state version is unchanged (every
 * mutation moves it) and no lag window has closed; otherwise rebuilt from the per-guest fragment
 * cache (only changed guests are re-serialised). Uptimes are rendered per request.
 */
function guestSection(core: SimCore, now: number): GuestSection {
  const cached = sections.get(core)
  if (cached && cached.version === core.version && cached.guests === core.state.guests && now >= cached.builtAt && now < cached.validUntil) return cached
  const version = core.version
  const lag = core.opts.resourcesLagMs
  const pools = poolIndex(core)
  const has = haIndex(core)
  const list = new JsonListBuffer()
  const lvmUsed = new Map<string, number>()
  let validUntil = Number.POSITIVE_INFINITY
  for (const g of Object.values(core.state.guests)) {
    const used = addResourceItem(list, core, g, pools, now, has)
    lvmUsed.set(g.node, (lvmUsed.get(g.node) ?? 0) + used)
    if (g.created && now - g.rrd.changedAt < lag) validUntil = Math.min(validUntil, g.rrd.changedAt + lag)
  }
  const section = { list, lvmUsed, version, guests: core.state.guests, builtAt: now, validUntil }
  sections.set(core, section)
  return section
}

/** Discovery routes: version, nodes, cluster status/resources/nextid/tasks (REFERENCE §4.1). */
export const clusterRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/version',
    handler: () => ({ version: '9.1.1', release: '9.1', repoid: '42f0e8a3c5d1b9e7' }),
  },
  {
    method: 'GET',
    path: '/nodes',
    handler: ({ core }) =>
      core.nodeNames().map((n) => {
        const online = !core.offline.has(n)
        return {
          node: n,
          status: online ? 'online' : 'offline',
          id: `node/${n}`,
          type: 'node',
          level: '',
          ...(core.opts.sslFingerprint ? { ssl_fingerprint: core.opts.sslFingerprint } : {}),
          ...(online ? { cpu: 0.02, maxcpu: 8, mem: 4 * GiB, maxmem: 32 * GiB, uptime: 86_400, disk: 10 * GiB, maxdisk: 100 * GiB } : {}),
        }
      }),
  },
  {
    method: 'GET',
    path: '/cluster/status',
    handler: ({ core }) => {
      const nodes = core.nodeNames()
      const nodeItem = (n: string, i: number): Record<string, unknown> => ({
        type: 'node',
        id: `node/${n}`,
        name: n,
        ip: `192.168.1.${10 + i}`,
        local: i === 0 ? 1 : 0,
        nodeid: nodes.length === 1 ? 0 : i + 1,
        online: core.offline.has(n) ? 0 : 1,
        level: '',
      })
      if (nodes.length === 1) return [nodeItem(nodes[0] as string, 0)]
      return [
        { type: 'cluster', id: 'cluster', name: 'sandbox', nodes: nodes.length, quorate: 1, version: nodes.length },
        ...nodes.map(nodeItem),
      ]
    },
  },
  {
    method: 'GET',
    path: '/cluster/resources',
    handler: ({ core, params }) => {
      // Serialised straight into a Buffer (json-list.ts) from the cached guest section.
      const type = str(params, 'type')
      const now = core.now()
      const section = !type || type === 'vm' || type === 'storage' ? guestSection(core, now) : undefined
      const extra: Buffer[] = []
      const add = (item: unknown): void => void extra.push(Buffer.from(JSON.stringify(item)))
      if (!type || type === 'node') {
        for (const n of core.nodeNames()) {
          const online = !core.offline.has(n)
          add({
            id: `node/${n}`,
            type: 'node',
            node: n,
            status: online ? 'online' : 'offline',
            ...(online ? { maxcpu: 8, cpu: 0.02, maxmem: 32 * GiB, mem: 4 * GiB, maxdisk: 100 * GiB, disk: 10 * GiB, uptime: 86_400, 'cgroup-mode': 2 } : {}),
          })
        }
      }
      if (!type || type === 'storage') {
        for (const n of core.nodeNames()) for (const s of STORAGES) add(storageResource(core, n, s, section?.lvmUsed))
      }
      if (!type) for (const id of Object.keys(core.state.pools)) add({ id: `/pool/${id}`, type: 'pool', pool: id })
      const guests = section && (!type || type === 'vm') ? section.list : EMPTY_LIST
      return new RawJson(guests.toChunks(now, extra))
    },
  },
  {
    method: 'GET',
    path: '/cluster/nextid',
    handler: ({ core, params }) => {
      const want = num(params, 'vmid')
      if (want !== undefined) {
        if (core.guest(want)) throw paramError({ vmid: `VM ${want} already exists` })
        return String(want)
      }
      for (let id = 100; id < 1_000_000; id++) if (!core.guest(id)) return String(id)
      throw fail('unable to get any free VMID in range [100, 1000000]')
    },
  },
  {
    method: 'GET',
    path: '/cluster/tasks',
    handler: ({ core }) => core.tasks.list().slice(0, 500).map(taskListItem),
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks',
    handler: ({ core, params }) => {
      const node = String(params.node)
      const start = num(params, 'start') ?? 0
      const limit = num(params, 'limit') ?? 50
      const vmid = str(params, 'vmid')
      const typefilter = str(params, 'typefilter')
      const source = str(params, 'source') ?? 'archive'
      const errorsOnly = flag(params, 'errors')
      let list = core.tasks.list(node)
      if (source === 'active') list = list.filter((t) => t.status === 'running')
      else if (source === 'archive') list = list.filter((t) => t.status === 'stopped')
      if (vmid) list = list.filter((t) => t.id === vmid)
      if (typefilter) list = list.filter((t) => t.type === typefilter)
      if (errorsOnly) list = list.filter((t) => t.exitstatus !== 'OK' && !/^WARNINGS: \d+$/.test(t.exitstatus ?? ''))
      const items = list.map((t) => (t.status === 'running' ? { ...taskListItem(t), status: 'RUNNING' } : taskListItem(t)))
      return new Envelope(limit === 0 ? items.slice(start) : items.slice(start, start + limit), { total: items.length })
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/status',
    handler: ({ core, params }) => {
      if (!UPID_RE.test(String(params.upid))) throw paramError({ upid: 'unable to parse worker upid' })
      const t = core.tasks.get(String(params.upid))
      if (!t || t.node !== params.node) throw paramError({ upid: 'no such task' })
      const item = taskListItem(t)
      delete item.endtime
      delete item.status
      return { ...item, status: t.status, ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}) }
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/log',
    handler: ({ core, params }) => {
      if (!UPID_RE.test(String(params.upid))) throw paramError({ upid: 'unable to parse worker upid' })
      const t = core.tasks.get(String(params.upid))
      if (!t || t.node !== params.node) throw paramError({ upid: 'no such task' })
      const start = num(params, 'start') ?? 0
      const limit = num(params, 'limit') ?? 50
      const lines = t.log.length === 0 ? ['no content'] : t.log
      const all = lines.map((text, i) => ({ n: i + 1, t: text }))
      return new Envelope(limit === 0 ? all.slice(start) : all.slice(start, start + limit), { total: all.length })
    },
  },
]
