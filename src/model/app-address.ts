/**
 * Where an App can be reached: its IPv4 address and the URLs of its published ports. Pure; one
 * derivation shared by the App controller (which records it in the App's status as `extra.ip`
 * and `extra.urls`) and by `get`/`describe` (which show it), so the CLI and the API agree.
 *
 * The rules, in order:
 * - address: a static `network.ip` (without its prefix length); else, on an Appliance LAN, the
 *   DHCP reservation the Appliance holds for the app; else (DHCP on a plain bridge) the address
 *   the running guest reports (`GET /nodes/{node}/lxc/{vmid}/interfaces`). Unknown stays unknown.
 * - URLs on an Appliance LAN: one per `expose` entry, through the appliance's proxy:
 *   `https://<host>` for `tls: internal|acme`, `http://<host>` for `tls: none`; a host without a
 *   dot is `<host>.<lan domain>`, no host is `<app name>.<lan domain>`.
 * - URLs off the appliance: only `http://<ip>:<port>` for the port of an `http` health check,
 *   and only when a compose service publishes that port on all of the guest's addresses
 *   (`ports: ["8080:80"]` or the long form with `published`). Any other published port may
 *   speak anything, so it is not guessed to be a web page.
 */
import type { AppManifest, ManifestSet } from './types.js'

/** An app's addresses: its IP when known and the URLs of its published ports (maybe none). */
export interface AppAddress {
  ip?: string
  urls: string[]
}

/** What only the running system knows about an App's address. */
export interface AddressFacts {
  /** The app's DHCP reservation on its Appliance LAN (the Appliance status's `addresses[name]`). */
  leased?: string
  /** The IPv4 address the running guest reports (DHCP on a plain bridge). */
  reported?: string
}

/** The static address of `network.ip` without its prefix length; undefined for `dhcp`. */
export function staticIpOf(app: AppManifest): string | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)(\/\d+)?$/.exec(app.spec.network.ip)
  return m ? m[1] : undefined
}

/** True when only the guest itself can tell the App's address (DHCP on a plain bridge). */
export function needsGuestReport(app: AppManifest): boolean {
  return !app.spec.network.appliance && staticIpOf(app) === undefined
}

/**
 * The first IPv4 address of a non-loopback interface in a `GET …/lxc/{vmid}/interfaces` answer.
 * Proxmox gives `inet` as `10.0.0.5/24`.
 */
export function reportedIpOf(nics: { name: string; inet?: string }[]): string | undefined {
  for (const n of nics) {
    if (n.name === 'lo' || !n.inet) continue
    const ip = n.inet.split('/')[0]!
    if (/^\d+\.\d+\.\d+\.\d+$/.test(ip) && !ip.startsWith('127.')) return ip
  }
  return undefined
}

/** The App's address (see the module comment for the rules). */
export function deriveAppAddress(app: AppManifest, set: Pick<ManifestSet, 'appliances'> | undefined, facts: AddressFacts): AppAddress {
  const name = app.metadata.name
  const applianceName = app.spec.network.appliance
  const ip = staticIpOf(app) ?? (applianceName ? facts.leased : facts.reported)
  const urls: string[] = []
  if (applianceName) {
    const domain = set?.appliances.find((a) => a.metadata.name === applianceName)?.spec.dns.domain
    for (const x of app.spec.expose) {
      const host = x.host ?? name
      if (!host.includes('.') && !domain) continue
      urls.push(`${x.tls === 'none' ? 'http' : 'https'}://${host.includes('.') ? host : `${host}.${domain}`}`)
    }
  } else if (ip) {
    const port = app.spec.health?.http?.port
    if (port !== undefined && publishedPorts(app.spec.source.compose).has(port)) urls.push(`http://${ip}:${port}`)
  }
  return { ...(ip ? { ip } : {}), urls }
}

const ALL_ADDRESSES = new Set(['', '0.0.0.0', '::', '[::]'])

/**
 * The TCP ports compose services publish on every address of the guest. Ports bound to one host
 * address (`127.0.0.1:8080:80`), UDP ports and container ports without a host port (a random
 * one) are left out.
 */
export function publishedPorts(compose: Record<string, unknown>): Set<number> {
  const out = new Set<number>()
  const services = compose.services
  if (!services || typeof services !== 'object') return out
  for (const svc of Object.values(services as Record<string, unknown>)) {
    const ports = svc && typeof svc === 'object' ? (svc as Record<string, unknown>).ports : undefined
    if (!Array.isArray(ports)) continue
    for (const p of ports) {
      if (typeof p === 'string' || typeof p === 'number') addShortForm(out, String(p))
      else if (p && typeof p === 'object') {
        const o = p as Record<string, unknown>
        if (o.protocol !== undefined && o.protocol !== 'tcp') continue
        if (typeof o.host_ip === 'string' && !ALL_ADDRESSES.has(o.host_ip)) continue
        addRange(out, o.published === undefined ? undefined : String(o.published))
      }
    }
  }
  return out
}

/** `[host_ip:]host:container[/proto]`; a lone container port publishes no fixed host port. */
function addShortForm(out: Set<number>, text: string): void {
  const [spec, proto] = text.split('/')
  if (proto !== undefined && proto !== 'tcp') return
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?([^:]+):([^:]+)$/.exec(spec!)
  if (!m) return
  if (m[1] !== undefined && !ALL_ADDRESSES.has(m[1])) return
  addRange(out, m[2])
}

/** `8080` or `8080-8082`. */
function addRange(out: Set<number>, text: string | undefined): void {
  const m = text === undefined ? null : /^(\d+)(?:-(\d+))?$/.exec(text)
  if (!m) return
  const from = Number(m[1])
  const to = m[2] === undefined ? from : Number(m[2])
  if (to - from > 1000) return
  for (let p = from; p <= to; p++) if (p > 0 && p < 65536) out.add(p)
}
