/**
 * Health of the appliance from fixed probes inside it (REFERENCE §5), turned into the
 * conditions DnsReady, DhcpReady, ProxyReady, NatReady and a per-app LAN status (lease,
 * Reachable through the proxy). Every probe is an argv from a fixed vocabulary; names and
 * addresses come from the resolved network (validated tokens), never shell text.
 */
import type { DomainCondition } from '../../src/runtime/controller.js'
import { exec, tail, type GuestRef } from '../lxc/index.js'
import { APPLIANCE_SERVICES } from './desired.js'
import type { LanAppStatus } from './observation.js'
import type { ApplianceNetwork, ApplianceService } from './render/index.js'

/** Where dnsmasq keeps its leases in Alpine (the service's default). */
export const LEASE_FILE = '/var/lib/misc/dnsmasq.leases'

/** The outcome of one round of probes. */
export interface ApplianceHealth {
  conditions: DomainCondition[]
  apps: LanAppStatus[]
  /** Services that are not started. */
  stopped: ApplianceService[]
  /** All four conditions are True. */
  ready: boolean
}

/** `rc-service <svc> status` for each service: svc → started. */
export async function serviceStatus(g: GuestRef): Promise<Record<ApplianceService, boolean>> {
  const out = {} as Record<ApplianceService, boolean>
  for (const svc of APPLIANCE_SERVICES) out[svc] = (await exec(g, ['rc-service', svc, 'status'], `status of ${svc}`)).code === 0
  return out
}

/** Parsed lease file: MAC (upper) → { ip, name }. */
export function parseLeases(text: string): Map<string, { ip: string; name: string; expiry: number }> {
  const out = new Map<string, { ip: string; name: string; expiry: number }>()
  for (const line of text.split('\n')) {
    const [expiry, mac, ip, name] = line.trim().split(/\s+/)
    if (mac && ip) out.set(mac.toUpperCase(), { ip, name: name ?? '*', expiry: Number(expiry) })
  }
  return out
}

/** `nslookup NAME 127.0.0.1`: the first answer address, or undefined. */
export async function lookup(g: GuestRef, fqdn: string): Promise<{ ip?: string; detail: string }> {
  const r = await exec(g, ['nslookup', fqdn, '127.0.0.1'], `resolve ${fqdn}`)
  const answers = [...r.stdout.matchAll(/^Address:\s*([0-9.]+)\s*$/gm)].map((m) => m[1])
  return answers[0] ? { ip: answers[0], detail: `${fqdn} → ${answers.join(', ')}` } : { detail: `${fqdn}: ${tail(r)}` }
}

/** One HTTP request (busybox wget): through the proxy with a Host header, or straight to `ip:port`. */
export async function httpProbe(g: GuestRef, target: { host?: string; ip: string; port: number }): Promise<{ ok: boolean; detail: string }> {
  const argv = ['wget', '-q', '-T', '5', '-O', '/dev/null', ...(target.host ? ['--header', `Host: ${target.host}`] : []), `http://${target.ip}:${target.port}/`]
  const r = await exec(g, argv, target.host ? `request ${target.host} through the proxy` : `request ${target.ip}:${target.port}`)
  return { ok: r.code === 0, detail: r.code === 0 ? 'ok' : tail(r) }
}

const cond = (type: string, ok: boolean, reason: string, message: string): DomainCondition => ({ type, status: ok ? 'True' : 'False', reason, message })

/**
 * Probes the appliance. `network` is what was rendered (and pushed). Read-only apart from the
 * probes' own requests. Per-app Reachable: an `expose` route with `tls: none` is requested
 * through Caddy (`Host` header to 127.0.0.1:80); a TLS route by its upstream address, as Caddy
 * dials it (busybox wget cannot send SNI for a name it cannot resolve locally).
 */
export async function probeAppliance(g: GuestRef, network: ApplianceNetwork): Promise<ApplianceHealth> {
  const up = await serviceStatus(g)
  const stopped = APPLIANCE_SERVICES.filter((s) => !up[s])
  const conditions: DomainCondition[] = []

  // DNS: dnsmasq runs and answers the first name of the LAN with the address we rendered.
  let dnsOk = up.dnsmasq
  let dnsMsg = up.dnsmasq ? 'dnsmasq is running' : 'dnsmasq is not running'
  const probeName = network.hosts[0]
  if (up.dnsmasq && probeName) {
    const r = await lookup(g, probeName.fqdn)
    dnsOk = r.ip === probeName.ip
    dnsMsg = dnsOk ? `dnsmasq answers ${r.detail}` : `dnsmasq does not answer ${probeName.fqdn} with ${probeName.ip}: ${r.detail}`
  }
  conditions.push(cond('DnsReady', dnsOk, dnsOk ? 'Answering' : 'DnsNotAnswering', dnsMsg))

  // DHCP: dnsmasq runs; every lease of one of our MACs carries the reserved address.
  const leases = up.dnsmasq ? parseLeases((await exec(g, ['cat', LEASE_FILE], 'read leases')).stdout) : new Map()
  const wrong = network.apps.filter((a) => leases.has(a.mac) && leases.get(a.mac)!.ip !== a.ip)
  const held = network.apps.filter((a) => leases.get(a.mac)?.ip === a.ip)
  const dhcpOk = up.dnsmasq && wrong.length === 0
  conditions.push(
    cond('DhcpReady', dhcpOk, dhcpOk ? 'Serving' : up.dnsmasq ? 'LeaseMismatch' : 'DhcpNotRunning', !up.dnsmasq ? 'dnsmasq is not running' : wrong.length ? `leases differ from the reservations: ${wrong.map((a) => `${a.name} has ${leases.get(a.mac)!.ip}, wants ${a.ip}`).join('; ')}` : `${held.length} of ${network.apps.length} apps hold their lease`),
  )

  // Proxy: caddy runs and its admin API lists every route host.
  let proxyOk = up.caddy
  let proxyMsg = up.caddy ? 'caddy is running' : 'caddy is not running'
  if (up.caddy) {
    const r = await exec(g, ['wget', '-q', '-T', '5', '-O', '-', 'http://localhost:2019/config/'], 'read the proxy config')
    const missing = network.routes.filter((x) => !r.stdout.includes(JSON.stringify(x.host)))
    proxyOk = r.code === 0 && missing.length === 0
    proxyMsg = r.code !== 0 ? `caddy admin API does not answer: ${tail(r)}` : missing.length ? `caddy has no route for ${missing.map((m) => m.host).join(', ')}` : `caddy serves ${network.routes.length} routes`
  }
  conditions.push(cond('ProxyReady', proxyOk, proxyOk ? 'Serving' : 'ProxyNotServing', proxyMsg))

  // NAT: the ruleset is loaded and forwarding is on.
  let natOk = up.nftables
  let natMsg = up.nftables ? 'nftables is loaded' : 'nftables is not running'
  if (up.nftables) {
    const table = await exec(g, ['nft', 'list', 'table', 'inet', 'proximity'], 'read the ruleset')
    const fwd = await exec(g, ['sysctl', '-n', 'net.ipv4.ip_forward'], 'read ip_forward')
    const masq = !network.masquerade || /masquerade/.test(table.stdout)
    natOk = table.code === 0 && fwd.stdout.trim() === '1' && masq
    natMsg = table.code !== 0 ? `table inet proximity is not loaded: ${tail(table)}` : fwd.stdout.trim() !== '1' ? 'ip forwarding is off' : !masq ? 'the masquerade rule is missing' : `forwarding on, ${network.portForwards.length} port forwards${network.masquerade ? ', LAN masqueraded' : ''}`
  }
  conditions.push(cond('NatReady', natOk, natOk ? 'Forwarding' : 'NatNotReady', natMsg))

  const apps: LanAppStatus[] = []
  for (const a of network.apps) {
    const routes = network.routes.filter((r) => r.app === a.name)
    const s: LanAppStatus = { name: a.name, ip: a.ip, mac: a.mac, leased: a.addressing === 'static' ? undefined : leases.get(a.mac)?.ip === a.ip }
    if (routes.length && up.caddy) {
      const failed: string[] = []
      for (const r of routes) {
        const p = r.tls === 'none' ? await httpProbe(g, { host: r.host, ip: '127.0.0.1', port: 80 }) : await httpProbe(g, { ip: r.ip, port: r.port })
        if (!p.ok) failed.push(`${r.host}: ${p.detail}`)
      }
      s.reachable = failed.length === 0
      if (failed.length) s.detail = failed.join('; ')
    }
    apps.push(s)
  }
  return { conditions, apps, stopped, ready: conditions.every((c) => c.status === 'True') }
}
