import { str, type RouteDef } from '../core.js'
import { Envelope } from '../envelope.js'
import { paramError } from '../errors.js'
import { splitList } from '../formats.js'
import type { SimIface } from '../state.js'

function ifaceLines(i: SimIface): string[] {
  const out = [`iface ${String(i.iface)} inet ${String(i.method ?? 'manual')}`]
  for (const k of Object.keys(i).sort()) {
    if (['iface', 'type', 'method', 'method6', 'families', 'active', 'exists', 'priority', 'autostart'].includes(k)) continue
    out.push(`\t${k.replace(/_/g, '-')} ${String(i[k])}`)
  }
  return out
}

/** A short diff between the active and pending interface files (the envelope `changes`). */
export function networkDiff(active: Record<string, SimIface>, pending: Record<string, SimIface>): string {
  const a = Object.keys(active).sort().flatMap((k) => ifaceLines(active[k]!))
  const b = Object.keys(pending).sort().flatMap((k) => ifaceLines(pending[k]!))
  const as = new Set(a)
  const bs = new Set(b)
  const lines = ['--- /etc/network/interfaces', '+++ /etc/network/interfaces.new']
  for (const l of a) if (!bs.has(l)) lines.push(`-${l}`)
  for (const l of b) if (!as.has(l)) lines.push(`+${l}`)
  return `${lines.join('\n')}\n`
}

const PORT_KEYS = ['bridge_ports', 'ovs_ports', 'slaves', 'ovs_bonds']
const ports = (i: Record<string, unknown>): string[] => PORT_KEYS.flatMap((k) => (i[k] ? splitList(String(i[k])) : []))

/**
 * Network.pm `$check_duplicate_gateway(6)` and `$check_duplicate_ports`: one default gateway per
 * family, and a port enslaved by one interface only.
 */
function checkDuplicates(config: Record<string, SimIface>, iface: string, params: Record<string, unknown>): void {
  for (const [key, name] of [['gateway', 'Default gateway'], ['gateway6', 'Default ipv6 gateway']] as const) {
    if (!params[key]) continue
    const other = Object.keys(config).find((k) => k !== iface && config[k]?.[key])
    if (other !== undefined) throw paramError({ [key]: `${name} already exists on interface '${other}'.` })
  }
  const wanted = new Set(ports(params))
  if (wanted.size === 0) return
  const paramName = PORT_KEYS.find((k) => params[k]) as string
  for (const [name, other] of Object.entries(config)) {
    if (name === iface) continue
    const used = ports(other).find((p) => wanted.has(p))
    if (used !== undefined) throw paramError({ [paramName]: `${used} is already used on interface '${name}'.` })
  }
}

const SKIP = new Set(['node', 'delete', 'digest', 'regenerate-frr'])

function applyFields(target: SimIface, params: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(params)) {
    if (SKIP.has(k)) continue
    target[k] = k === 'comments' || k === 'comments6' ? (String(v).endsWith('\n') ? String(v) : `${String(v)}\n`) : (v as string | number)
  }
  if (target.cidr !== undefined && target.address === undefined) {
    const [addr, mask] = String(target.cidr).split('/')
    target.address = addr as string
    target.netmask = mask ?? '24'
  } else if (target.address !== undefined && target.cidr === undefined) {
    target.cidr = `${String(target.address)}/${String(target.netmask ?? '24')}`
  }
  target.method = target.address !== undefined ? 'static' : 'manual'
  if (target.type === 'bridge') {
    target.bridge_stp ??= 'off'
    target.bridge_fd ??= '0'
  }
}

/** Host network routes with pending semantics (REFERENCE §4.5, trap 17). */
export const networkRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/network',
    handler: ({ core, params }) => {
      const n = core.state.nodes[String(params.node)]!
      const src = n.networkPending ?? n.network
      const type = str(params, 'type')
      const list = Object.values(src).filter((i) => !type || i.type === type || (type === 'any_bridge' && i.type === 'bridge'))
      return n.networkPending ? new Envelope(list, { changes: networkDiff(n.network, n.networkPending) }) : list
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/network',
    handler: ({ core, params }) => {
      const n = core.state.nodes[String(params.node)]!
      const pending = (n.networkPending ??= structuredClone(n.network))
      const iface = String(params.iface)
      if (pending[iface]) throw paramError({ iface: 'interface already exists' })
      checkDuplicates(pending, iface, params)
      if (params.cidr !== undefined && params.address !== undefined) throw paramError({ address: 'address conflicts with cidr' })
      if (params.cidr !== undefined && params.netmask !== undefined) throw paramError({ netmask: 'netmask conflicts with cidr' })
      const i: SimIface = { iface, families: ['inet'], method6: 'manual', priority: Object.keys(pending).length + 3 }
      applyFields(i, params)
      pending[iface] = i
      core.markDirty()
      return null
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/network/{iface}',
    handler: ({ core, params }) => {
      const n = core.state.nodes[String(params.node)]!
      const pending = (n.networkPending ??= structuredClone(n.network))
      const i = pending[String(params.iface)]
      if (!i) throw paramError({ iface: 'interface does not exist' })
      checkDuplicates(pending, String(params.iface), params)
      if (params.cidr !== undefined && params.address !== undefined) throw paramError({ address: 'address conflicts with cidr' })
      if (params.cidr !== undefined && params.netmask !== undefined) throw paramError({ netmask: 'netmask conflicts with cidr' })
      for (const k of splitList(str(params, 'delete') ?? '')) delete i[k]
      if (params.address !== undefined || params.cidr !== undefined) {
        delete i.address
        delete i.cidr
        delete i.netmask
      }
      applyFields(i, params)
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/network/{iface}',
    handler: ({ core, params }) => {
      const n = core.state.nodes[String(params.node)]!
      const i = (n.networkPending ?? n.network)[String(params.iface)]
      if (!i) throw paramError({ iface: 'interface does not exist' })
      return { ...i }
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/network/{iface}',
    handler: ({ core, params }) => {
      const n = core.state.nodes[String(params.node)]!
      const pending = (n.networkPending ??= structuredClone(n.network))
      if (!pending[String(params.iface)]) throw paramError({ iface: 'interface does not exist' })
      delete pending[String(params.iface)]
      core.markDirty()
      return null
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/network',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      return core.tasks.start(node, 'srvreload', 'networking', user, (t) => {
        const n = core.state.nodes[node]!
        if (n.networkPending) {
          n.network = Object.fromEntries(Object.entries(n.networkPending).map(([k, i]) => [k, { ...i, active: 1 }]))
          n.networkPending = null
        }
        t.log('ifreload -a')
        core.markDirty()
      })
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/network',
    handler: ({ core, params }) => {
      core.state.nodes[String(params.node)]!.networkPending = null
      core.markDirty()
      return null
    },
  },
]
