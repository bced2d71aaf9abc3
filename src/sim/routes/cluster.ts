import { flag, num, str, type RouteDef } from '../core.js'
import { Envelope, RawJson } from '../envelope.js'
import { fail, paramError } from '../errors.js'
import { UPID_RE } from '../tasks.js'
import { JsonListBuffer } from '../json-list.js'
import { addResourceItem, haIndex, poolIndex, taskListItem } from './shapes.js'
import { STORAGES, storageResource } from './storage-defs.js'

const GiB = 2 ** 30

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
      // Serialised straight into a Buffer: guest items come from per-guest cached fragments.
      const type = str(params, 'type')
      const out = new JsonListBuffer()
      const add = (item: unknown): void => out.add(Buffer.from(JSON.stringify(item)))
      let lvmUsed: Map<string, number> | undefined
      if (!type || type === 'vm') {
        const pools = poolIndex(core)
        const has = haIndex(core)
        const now = core.now()
        lvmUsed = new Map()
        for (const g of Object.values(core.state.guests)) {
          const used = addResourceItem(out, core, g, pools, now, has)
          lvmUsed.set(g.node, (lvmUsed.get(g.node) ?? 0) + used)
        }
      }
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
        for (const n of core.nodeNames()) for (const s of STORAGES) add(storageResource(core, n, s, lvmUsed))
      }
      if (!type) for (const id of Object.keys(core.state.pools)) add({ id: `/pool/${id}`, type: 'pool', pool: id })
      return new RawJson(out.toBuffer())
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
