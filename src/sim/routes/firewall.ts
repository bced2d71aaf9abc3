import { createHash } from 'node:crypto'
import { num, str, type RouteDef } from '../core.js'
import { fail } from '../errors.js'
import { splitList } from '../formats.js'
import type { SimFirewallRule, SimGuest } from '../state.js'

const RULE_KEYS = ['type', 'action', 'enable', 'macro', 'proto', 'dport', 'sport', 'source', 'dest', 'iface', 'log', 'comment', 'icmp-type']
const OPTION_KEYS = ['enable', 'policy_in', 'policy_out', 'dhcp', 'ndp', 'radv', 'macfilter', 'ipfilter', 'log_level_in', 'log_level_out']

const sha1 = (v: unknown): string => createHash('sha1').update(JSON.stringify(v)).digest('hex')

/** The list-wide rules digest (every rule item carries it). */
export const rulesDigest = (g: SimGuest): string => sha1(g.firewall.rules)

function checkDigest(expected: string, given: string | undefined): void {
  if (given !== undefined && given !== expected) throw fail('detected modified configuration - file changed by other user? Try again.')
}

function ruleAt(g: SimGuest, pos: number): SimFirewallRule {
  const r = g.firewall.rules[pos]
  if (!r) throw fail(`no rule at position ${pos}`)
  return r
}

/** CT firewall rules and options (REFERENCE §4.6, trap 18). */
export const firewallRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/firewall/rules',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      const digest = rulesDigest(g)
      return g.firewall.rules.map((r, pos) => ({ ...r, pos, digest }))
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/firewall/rules',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      checkDigest(rulesDigest(g), str(params, 'digest'))
      const rule: SimFirewallRule = { enable: 0 }
      for (const k of RULE_KEYS) if (params[k] !== undefined) rule[k] = params[k] as string | number
      const pos = Math.min(num(params, 'pos') ?? 0, g.firewall.rules.length)
      g.firewall.rules.splice(pos, 0, rule)
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      const pos = Number(params.pos)
      return { ...ruleAt(g, pos), pos, digest: rulesDigest(g) }
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      checkDigest(rulesDigest(g), str(params, 'digest'))
      const pos = Number(params.pos)
      const rule = ruleAt(g, pos)
      const moveto = num(params, 'moveto')
      if (moveto !== undefined) {
        g.firewall.rules.splice(pos, 1)
        g.firewall.rules.splice(Math.min(moveto, g.firewall.rules.length), 0, rule)
      } else {
        for (const k of splitList(str(params, 'delete') ?? '')) delete rule[k]
        for (const k of RULE_KEYS) if (params[k] !== undefined) rule[k] = params[k] as string | number
      }
      core.markDirty()
      return null
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      checkDigest(rulesDigest(g), str(params, 'digest'))
      const pos = Number(params.pos)
      ruleAt(g, pos)
      g.firewall.rules.splice(pos, 1)
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/firewall/options',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      return { ...g.firewall.options, digest: sha1(g.firewall.options) }
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/lxc/{vmid}/firewall/options',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      checkDigest(sha1(g.firewall.options), str(params, 'digest'))
      for (const k of splitList(str(params, 'delete') ?? '')) delete g.firewall.options[k]
      for (const k of OPTION_KEYS) if (params[k] !== undefined) g.firewall.options[k] = params[k] as string | number
      core.markDirty()
      return null
    },
  },
]
