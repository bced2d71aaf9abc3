import { flag, str, type RouteContext, type RouteDef } from '../core.js'
import { fail } from '../errors.js'
import { configDigest, formatSize, parseSize, printPropertyString } from '../guest-config.js'
import { parsePropertyString } from '../params.js'
import type { SimGuest } from '../state.js'
import { applyPending } from './lxc.js'
import { lxcListItem } from './shapes.js'

/** Lock check inside power tasks: `mounted` does not block a start; skiplock is root@pam only. */
function taskLockCheck(g: SimGuest, ctx: RouteContext, allowMounted: boolean): void {
  const lock = g.config.lock
  if (lock === undefined) return
  if (allowMounted && lock === 'mounted') return
  if (flag(ctx.params, 'skiplock') && ctx.user === 'root@pam') return
  throw new Error(`CT is locked (${lock})`)
}

const haOf = (ctx: RouteContext, vmid: number): Record<string, unknown> | undefined => ctx.core.state.ha[`ct:${vmid}`]

function power(kind: 'start' | 'stop' | 'shutdown' | 'reboot') {
  return (ctx: RouteContext): string => {
    const { core, params, user } = ctx
    const node = String(params.node)
    const vmid = Number(params.vmid)
    const g = core.guestOn(node, vmid)
    if (kind === 'start' && g.status === 'running') throw fail(`CT ${vmid} already running`)
    if ((kind === 'stop' || kind === 'shutdown') && g.status !== 'running') throw fail(`CT ${vmid} not running`)
    if (kind === 'reboot' && g.status !== 'running') throw fail(`VM ${vmid} not running`)
    const ha = haOf(ctx, vmid)
    if (ha && (kind === 'start' || kind === 'stop')) {
      return core.tasks.start(node, kind === 'start' ? 'hastart' : 'hastop', String(vmid), user, (t) => {
        ha.state = kind === 'start' ? 'started' : 'stopped'
        t.log(`Requesting HA ${kind} for CT ${vmid}`)
        if (kind === 'start') applyPending(g)
        core.setStatus(g, kind === 'start' ? 'running' : 'stopped')
      })
    }
    return core.tasks.start(node, `vz${kind}`, String(vmid), user, (t) => {
      taskLockCheck(g, ctx, kind === 'start')
      if (kind === 'start') {
        if (Number(g.config.template ?? 0) === 1) throw new Error("you can't start a CT if it's a template")
        if (g.status === 'running') throw new Error(`CT ${vmid} already running`)
        applyPending(g)
        // Every NIC's bridge must exist (active, not merely pending) on the node, as lxc-start needs it.
        const active = core.state.nodes[node]?.network ?? {}
        for (const [k, v] of Object.entries(g.config)) {
          const bridge = /^net\d+$/.test(k) ? /(?:^|,)bridge=([^,]+)/.exec(String(v))?.[1] : undefined
          if (bridge && !active[bridge]) throw new Error(`bridge '${bridge}' does not exist`)
        }
        core.setStatus(g, 'running')
      } else if (kind === 'reboot') {
        applyPending(g)
        core.setStatus(g, 'stopped')
        core.setStatus(g, 'running')
      } else {
        if (g.status !== 'running') throw new Error(`CT ${vmid} not running`)
        core.setStatus(g, 'stopped')
      }
      t.log(`CT ${vmid} ${kind} done`)
      core.markDirty()
    })
  }
}

/** The DHCP address a running CT reports on net[n] (deterministic 10.x pool). */
export function dhcpAddress(vmid: number, index: number): string {
  return `10.${index + 10}.${Math.floor(vmid / 250) % 250}.${(vmid % 250) + 2}`
}

/** Status, power, resize, interfaces and feature routes (REFERENCE §4.2). */
export const lxcStatusRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/status/current',
    handler: (ctx) => {
      const g = ctx.core.guestOn(String(ctx.params.node), Number(ctx.params.vmid))
      const ha = haOf(ctx, g.vmid)
      return { ...lxcListItem(ctx.core, g), ha: ha ? { managed: 1, state: String(ha.state ?? 'started') } : { managed: 0 } }
    },
  },
  { method: 'POST', path: '/nodes/{node}/lxc/{vmid}/status/start', handler: power('start') },
  { method: 'POST', path: '/nodes/{node}/lxc/{vmid}/status/stop', handler: power('stop') },
  { method: 'POST', path: '/nodes/{node}/lxc/{vmid}/status/shutdown', handler: power('shutdown') },
  { method: 'POST', path: '/nodes/{node}/lxc/{vmid}/status/reboot', handler: power('reboot') },
  {
    method: 'PUT',
    path: '/nodes/{node}/lxc/{vmid}/resize',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const vmid = Number(params.vmid)
      const g = core.guestOn(node, vmid)
      core.checkLock(g)
      const digest = str(params, 'digest')
      if (digest !== undefined && digest !== configDigest(g)) throw fail('detected modified configuration - file changed by other user? Try again.')
      const disk = String(params.disk)
      const current = g.config[disk]
      if (current === undefined) throw fail(`unable to parse config - no such disk '${disk}'`)
      const map = parsePropertyString(String(current), 'volume') ?? {}
      const oldSize = parseSize(map.size ?? '0')
      const req = String(params.size)
      const newSize = req.startsWith('+') ? oldSize + parseSize(req.slice(1)) : parseSize(req)
      if (newSize < oldSize) throw fail('unable to shrink disk size')
      if (newSize === oldSize) throw fail('disk is already at specified size')
      return core.tasks.start(node, 'resize', String(vmid), user, (t) => {
        map.size = formatSize(newSize)
        g.config[disk] = printPropertyString(map, 'volume')
        t.log(`  Size of logical volume pve/vm-${vmid}-disk-0 changed to ${formatSize(newSize)}.`)
        core.markDirty()
      })
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/interfaces',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      if (g.status !== 'running') throw fail(`CT ${g.vmid} not running`)
      const out: Record<string, unknown>[] = [
        { name: 'lo', hwaddr: '00:00:00:00:00:00', 'hardware-address': '00:00:00:00:00:00', inet: '127.0.0.1/8', inet6: '::1/128', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'inet', prefix: 8 }, { 'ip-address': '::1', 'ip-address-type': 'inet6', prefix: 128 }] },
      ]
      for (const key of Object.keys(g.config).filter((k) => /^net\d+$/.test(k)).sort()) {
        const net = parsePropertyString(String(g.config[key])) ?? {}
        const mac = (net.hwaddr ?? '').toLowerCase()
        const ip = net.ip && /\//.test(net.ip) ? net.ip : net.ip === 'dhcp' ? `${dhcpAddress(g.vmid, Number(key.slice(3)))}/24` : undefined
        const item: Record<string, unknown> = { name: net.name ?? key, hwaddr: mac, 'hardware-address': mac, 'ip-addresses': [] }
        if (ip) {
          item.inet = ip
          const [addr, prefix] = ip.split('/')
          item['ip-addresses'] = [{ 'ip-address': addr, 'ip-address-type': 'inet', prefix: Number(prefix) }]
        }
        out.push(item)
      }
      return out
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/feature',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      const storage = String(g.config.rootfs ?? '').split(':')[0]
      const feature = String(params.feature)
      const lvm = storage === 'local-lvm'
      return { hasFeature: feature === 'copy' || lvm ? 1 : 0 }
    },
  },
]
