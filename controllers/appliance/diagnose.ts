/**
 * `proximity diagnose appliance NAME`: what the appliance really runs, read from inside it
 * through a fixed command vocabulary (argv built from the resolved network's validated tokens,
 * never text from input): service status and their last log lines, the current leases, DNS
 * answers for every name, the proxy's routes with upstream health, a NAT test (a connection
 * from the appliance's LAN address out through the WAN), and every config file as read back.
 * Read-only apart from the probes' own requests. The appliance holds no secrets; command output
 * still passes the object's redaction.
 */
import type { ApplianceManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { StalledError } from '../../src/runtime/errors.js'
import { exec, findGuest, guestRef } from '../lxc/index.js'
import { APPLIANCE_SERVICES, applianceIdentity, renderAppliance } from './desired.js'
import { httpProbe, LEASE_FILE, lookup, parseLeases, serviceStatus } from './health.js'
import { storedApplianceExtra } from './observe.js'
import { APPLIANCE_FILES, type ApplianceService } from './render/index.js'

/** Log lines kept per service. */
export const LOG_LINES = 10
/** The system log busybox syslogd writes in Alpine. */
export const SYSLOG = '/var/log/messages'

/** What `diagnose appliance` reports (`-o json` prints it as is). */
export interface ApplianceDiagnosis {
  appliance: string
  guest: { vmid: number; node: string; status: string }
  services: { name: ApplianceService; started: boolean; log: string[] }[]
  leases: { mac: string; ip: string; name: string; expires: string }[]
  dns: { name: string; expected: string; answer: string | null; ok: boolean }[]
  routes: { host: string; app: string; upstream: string; tls: string; healthy: boolean; detail: string }[]
  nat: { forwarding: boolean; rulesLoaded: boolean; outbound: { from: string; to: string; ok: boolean } }
  /** Path in the appliance → content read back from it (null: the file is missing). */
  files: Record<string, string | null>
}

/** Runs every probe against the appliance of `a`. Throws StalledError when it has no running guest. */
export async function diagnoseAppliance(ctx: ControllerContext, a: ApplianceManifest): Promise<ApplianceDiagnosis> {
  const id = applianceIdentity(a.metadata.name)
  const found = await findGuest(ctx, id, { desiredState: 'running' })
  if (found.found === 'none' || found.found === 'creating') throw new StalledError('NotFound', `Appliance ${a.metadata.name} has no guest yet; run apply first`)
  const { vmid, node, status } = found.guest
  if (status !== 'running') throw new StalledError('NotRunning', `the guest ${vmid} of Appliance ${a.metadata.name} is ${status}; start it (apply does) to diagnose it`)
  const g = guestRef(ctx, id.key, vmid, node)
  const { network } = renderAppliance(a, ctx.set, ctx.cluster.spec.owner, storedApplianceExtra(ctx, a.metadata.name).addresses ?? {})

  const up = await serviceStatus(g)
  const syslog = (await exec(g, ['tail', '-n', '500', SYSLOG], 'read the system log')).stdout.split('\n')
  const services = APPLIANCE_SERVICES.map((name) => ({ name, started: up[name], log: syslog.filter((l) => l.includes(name)).slice(-LOG_LINES) }))

  const leases = [...parseLeases((await exec(g, ['cat', LEASE_FILE], 'read leases')).stdout)].map(([mac, l]) => ({ mac, ip: l.ip, name: l.name, expires: Number.isFinite(l.expiry) && l.expiry > 0 ? new Date(l.expiry * 1000).toISOString() : 'never' }))

  const dns: ApplianceDiagnosis['dns'] = []
  for (const h of network.hosts) {
    const r = await lookup(g, h.fqdn)
    dns.push({ name: h.fqdn, expected: h.ip, answer: r.ip ?? null, ok: r.ip === h.ip })
  }

  const routes: ApplianceDiagnosis['routes'] = []
  for (const r of network.routes) {
    const p = await httpProbe(g, { ip: r.ip, port: r.port })
    routes.push({ host: r.host, app: r.app, upstream: `${r.ip}:${r.port}`, tls: r.tls, healthy: p.ok, detail: p.detail })
  }

  const table = await exec(g, ['nft', 'list', 'table', 'inet', 'proximity'], 'read the ruleset')
  const fwd = await exec(g, ['sysctl', '-n', 'net.ipv4.ip_forward'], 'read ip_forward')
  const target = network.upstream[0] ?? '1.1.1.1'
  const out = await exec(g, ['nc', '-z', '-w', '3', '-s', network.gateway, target, '53'], 'NAT test from the LAN address')
  const nat = { forwarding: fwd.stdout.trim() === '1', rulesLoaded: table.code === 0, outbound: { from: network.gateway, to: `${target}:53`, ok: out.code === 0 } }

  const files: Record<string, string | null> = {}
  for (const f of APPLIANCE_FILES) {
    const r = await exec(g, ['cat', f.path], `read ${f.path}`)
    files[f.path] = r.code === 0 ? r.stdout : null
  }
  return { appliance: a.metadata.name, guest: { vmid, node, status }, services, leases, dns, routes, nat, files }
}
