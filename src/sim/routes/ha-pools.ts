import { createHash } from 'node:crypto'
import { flag, str, type RouteContext, type RouteDef } from '../core.js'
import { fail } from '../errors.js'
import { splitList } from '../formats.js'
import type { SimCore } from '../core.js'
import { lxcListItem } from './shapes.js'

const HA_KEYS = ['state', 'max_restart', 'max_relocate', 'failback', 'comment']

/** HA/Config.pm `parse_sid`: `type:name`, or a bare vmid resolved through the vmlist. */
function parseSid(core: SimCore, raw: string): { sid: string; type: string; name: string } {
  if (/^\d+$/.test(raw)) {
    const g = core.guest(Number(raw))
    if (!g) throw fail(`unable to detect SID from VMID - VM/CT ${raw} does not exist`)
    const type = g.type === 'lxc' ? 'ct' : 'vm'
    return { sid: `${type}:${raw}`, type, name: raw }
  }
  const m = /^(\S+):(\S+)$/.exec(raw)
  if (!m) throw fail(`unable to parse service id '${raw}'`)
  return { sid: raw, type: m[1] as string, name: m[2] as string }
}

/** The resource plugin checks of a create (PVECT/PVEVM `verify_name` and `exists`). */
function checkResource(core: SimCore, type: string, name: string): void {
  if (type !== 'ct' && type !== 'vm') throw fail(`unknown section type '${type}'`)
  if (!/^[1-9][0-9]+$/.test(name)) throw fail('invalid VMID')
  const g = core.guest(Number(name))
  if (!g) throw fail(`resource '${type}:${name}' does not exist in cluster`)
  const want = type === 'ct' ? 'lxc' : 'qemu'
  if (g.type !== want) throw fail(`resource '${type}:${name}' - guest with ID ${name} is not a ${type === 'ct' ? 'container' : 'virtual machine'}`)
}

/** The config file digest (one for the whole resources.cfg, as every item carries it). */
const haDigest = (core: SimCore): string => createHash('sha1').update(JSON.stringify(core.state.ha)).digest('hex')

/** An HA resource as GET shows it: the stored options, `sid` and the file digest (no defaults). */
const haItem = (core: SimCore, r: Record<string, unknown>): Record<string, unknown> => ({ ...r, digest: haDigest(core) })

function members(ctx: RouteContext, ids: number[]): Record<string, unknown>[] {
  return ids.flatMap((id) => {
    const g = ctx.core.guest(id)
    if (!g) return []
    const item = lxcListItem(ctx.core, g)
    return [{ ...item, id: `lxc/${id}`, node: g.node, type: 'lxc' }]
  })
}

function poolOf(core: SimCore, id: string) {
  const p = core.state.pools[id]
  if (!p) throw fail(`pool '${id}' does not exist`)
  return p
}

/** PUT /pools[/{poolid}] (pve-manager API2/Pool.pm update_pool). */
function updatePool(ctx: RouteContext, id: string): null {
  const { core, params } = ctx
  const p = poolOf(core, id)
  if (params.comment !== undefined) p.comment = String(params.comment)
  for (const vmid of splitList(str(params, 'vms') ?? '').map(Number)) {
    if (flag(params, 'delete')) {
      if (!p.members.includes(vmid)) throw fail(`VM ${vmid} is not a pool member`)
      p.members = p.members.filter((x) => x !== vmid)
      continue
    }
    if (p.members.includes(vmid)) throw fail(`VM ${vmid} is already a pool member`)
    const other = Object.entries(core.state.pools).find(([, q]) => q.members.includes(vmid))
    if (other) {
      if (!flag(params, 'allow-move')) throw fail(`VM ${vmid} belongs already to pool '${other[0]}' and 'allow-move' is not set`)
      other[1].members = other[1].members.filter((x) => x !== vmid)
    }
    p.members.push(vmid)
  }
  core.markDirty()
  return null
}

/** DELETE /pools[/{poolid}]: only an empty pool (destroyed guests do not count). */
function deletePool(core: SimCore, id: string): null {
  const p = poolOf(core, id)
  const member = [...p.members].sort((a, b) => a - b).find((vmid) => core.guest(vmid))
  if (member !== undefined) throw fail(`pool '${id}' is not empty (contains VM ${member})`)
  const child = Object.keys(core.state.pools).sort().find((x) => x.startsWith(`${id}/`))
  if (child !== undefined) throw fail(`pool '${id}' is not empty (contains pool '${child}')`)
  delete core.state.pools[id]
  core.markDirty()
  return null
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** Perl's scalar `localtime` (`Mon Nov 30 11:20:00 2026`). */
function perlLocaltime(ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`
}

/** The service state the HA stack reports for a configured resource (HA/Tools.pm, simplified). */
const serviceState = (requested: unknown): string =>
  requested === 'stopped' ? 'stopped' : requested === 'disabled' ? 'disabled' : requested === 'ignored' ? 'ignored' : 'started'

/**
 * `GET /cluster/ha/status/current` (pve-ha-manager API2/HA/Status.pm): quorum, the CRM master
 * (the first node), fencing, one LRM per node and one entry per configured resource, as a
 * healthy cluster whose CRM and LRMs report every few seconds shows them.
 */
function haStatus(core: SimCore): Record<string, unknown>[] {
  const now = core.now()
  const ts = Math.floor(now / 1000)
  const nodes = core.nodeNames()
  const master = nodes.find((n) => !core.offline.has(n)) ?? (nodes[0] as string)
  const sids = Object.keys(core.state.ha).sort()
  const active = sids.length > 0
  const out: Record<string, unknown>[] = [
    { id: 'quorum', type: 'quorum', node: master, status: 'OK', quorate: 1 },
    { id: 'master', type: 'master', node: master, status: `${master} (${active ? 'active' : 'idle'}, ${perlLocaltime(now)})`, timestamp: ts },
    { id: 'fencing', type: 'fencing', node: master, status: active ? 'armed (CRM watchdog active)' : 'standby (CRM watchdog standby)', 'armed-state': active ? 'armed' : 'standby' },
  ]
  for (const n of [...nodes].sort()) {
    if (core.offline.has(n)) {
      out.push({ id: `lrm:${n}`, type: 'lrm', node: n, status: `${n} (old timestamp - dead?, watchdog standby, ${perlLocaltime(now - 60_000)})`, timestamp: ts - 60 })
      continue
    }
    const mine = sids.some((sid) => core.guest(Number(sid.slice(sid.indexOf(':') + 1)))?.node === n)
    out.push({ id: `lrm:${n}`, type: 'lrm', node: n, status: `${n} (${mine ? 'active, watchdog active' : 'idle, watchdog standby'}, ${perlLocaltime(now)})`, timestamp: ts })
  }
  for (const sid of sids) {
    const sc = core.state.ha[sid] as Record<string, unknown>
    const node = core.guest(Number(sid.slice(sid.indexOf(':') + 1)))?.node ?? '---'
    const state = serviceState(sc.state)
    const item: Record<string, unknown> = { id: `service:${sid}`, type: 'service', sid, node, crm_state: state, state, status: `${sid} (${node}, ${state})` }
    if (sc.state !== undefined) item.request_state = sc.state
    for (const k of ['max_restart', 'max_relocate', 'failback', 'comment']) if (sc[k] !== undefined) item[k] = sc[k]
    out.push(item)
  }
  return out
}

/** HA resources (§4.7) and pools (§4.8). */
export const haPoolRoutes: RouteDef[] = [
  { method: 'GET', path: '/cluster/ha/status/current', handler: ({ core }) => haStatus(core) },
  {
    method: 'GET',
    path: '/cluster/ha/resources',
    handler: ({ core, params }) =>
      Object.values(core.state.ha)
        .filter((r) => !params.type || r.type === params.type)
        .map((r) => haItem(core, r)),
  },
  {
    method: 'POST',
    path: '/cluster/ha/resources',
    handler: ({ core, params }) => {
      // pve-ha-manager API2/HA/Resources.pm create
      const { sid, type, name } = parseSid(core, String(params.sid))
      if (params.type !== undefined && params.type !== type) throw fail('types does not match')
      if (params.group !== undefined) throw fail("invalid parameter 'group': ha groups have been migrated to rules")
      checkResource(core, type, name)
      if (core.state.ha[sid]) throw fail(`resource ID '${sid}' already defined`)
      const r: Record<string, string | number> = { sid, type }
      for (const k of HA_KEYS) if (params[k] !== undefined) r[k] = params[k] as string | number
      core.state.ha[sid] = r
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/cluster/ha/resources/{sid}',
    handler: ({ core, params }) => {
      const { sid } = parseSid(core, String(params.sid))
      const r = core.state.ha[sid]
      if (!r) throw fail(`no such resource '${sid}'`)
      return haItem(core, r)
    },
  },
  {
    method: 'PUT',
    path: '/cluster/ha/resources/{sid}',
    handler: ({ core, params }) => {
      const { sid, type } = parseSid(core, String(params.sid))
      if (params.type !== undefined && params.type !== type) throw fail('types does not match')
      if (params.group !== undefined) throw fail("invalid parameter 'group': ha groups have been migrated to rules")
      const r = core.state.ha[sid]
      if (r?.state === 'error' && params.state !== 'disabled') throw fail(`service '${sid}' in error state, must be disabled and fixed first`)
      if (params.digest !== undefined && params.digest !== haDigest(core)) throw fail('detected modified configuration - file changed by other user? Try again.')
      if (!r) throw fail(`no such resource '${sid}'`)
      for (const k of splitList(str(params, 'delete') ?? '')) delete r[k]
      for (const k of HA_KEYS) if (params[k] !== undefined) r[k] = params[k] as string | number
      core.markDirty()
      return null
    },
  },
  {
    method: 'DELETE',
    path: '/cluster/ha/resources/{sid}',
    handler: ({ core, params }) => {
      const { sid } = parseSid(core, String(params.sid))
      if (!core.state.ha[sid]) throw fail(`cannot delete service '${sid}', not HA managed!`)
      delete core.state.ha[sid]
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/pools',
    handler: (ctx) => {
      const id = str(ctx.params, 'poolid')
      if (id === undefined) return Object.entries(ctx.core.state.pools).map(([poolid, p]) => ({ poolid, ...(p.comment ? { comment: p.comment } : {}) }))
      const p = poolOf(ctx.core, id)
      return [{ poolid: id, ...(p.comment ? { comment: p.comment } : {}), members: members(ctx, p.members) }]
    },
  },
  {
    method: 'POST',
    path: '/pools',
    handler: ({ core, params }) => {
      const id = String(params.poolid)
      if (core.state.pools[id]) throw fail(`pool '${id}' already exists`)
      const nested = /^(.*)\/([^/]+)$/.exec(id)
      if (nested && !core.state.pools[nested[1] as string]) throw fail(`parent '${nested[1]}' of pool '${id}' does not exist`)
      if (!/^[A-Za-z]/.test(nested ? (nested[2] as string) : id)) throw fail('pool name must start with a letter')
      core.state.pools[id] = { members: [], ...(params.comment !== undefined ? { comment: String(params.comment) } : {}) }
      core.markDirty()
      return null
    },
  },
  { method: 'PUT', path: '/pools', handler: (ctx) => updatePool(ctx, String(ctx.params.poolid)) },
  { method: 'DELETE', path: '/pools', handler: ({ core, params }) => deletePool(core, String(params.poolid)) },
  {
    method: 'GET',
    path: '/pools/{poolid}',
    handler: (ctx) => {
      const p = poolOf(ctx.core, String(ctx.params.poolid))
      return { members: members(ctx, p.members), ...(p.comment ? { comment: p.comment } : {}) }
    },
  },
  { method: 'PUT', path: '/pools/{poolid}', handler: (ctx) => updatePool(ctx, String(ctx.params.poolid)) },
  { method: 'DELETE', path: '/pools/{poolid}', handler: ({ core, params }) => deletePool(core, String(params.poolid)) },
]
