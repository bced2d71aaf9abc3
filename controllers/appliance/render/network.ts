/**
 * Step 1 of rendering an appliance: resolve the Appliance manifest and the Apps that join it
 * (`spec.network.appliance`) into one plain, sorted, validated description of its LAN: every
 * app's MAC and address, the DNS names, the proxy routes and the port forwards. The file
 * renderers (dnsmasq.ts, caddy.ts, nftables.ts) only format this. Pure and deterministic: the
 * same input gives the same result on every run and host, whatever the order of `apps`.
 *
 * Naming rule (REFERENCE §7 trap 1): `<app>.<domain>` answers the app's own address, unless an
 * `expose` entry uses that name as its host (the default host), in which case it answers the
 * proxy (the LAN gateway), so browsers reach the app through Caddy. Every exposed host answers
 * the proxy. All names go into the hosts file, so they resolve before the first lease (trap 2).
 * A single-label name (an expose `host: wiki`, a record `name: nas`) means `<label>.<domain>`;
 * a name with a dot is taken as written, so public hosts (`app.example.org`) also answer the
 * proxy on the LAN.
 */
import { cidrContains, formatIpv4, parseIpv4 } from '../../../src/model/ipv4.js'
import type { AppManifest, ApplianceManifest } from '../../../src/model/types.js'
import { createHash } from 'node:crypto'
import { ApplianceRenderError } from './errors.js'
import { appMacAddress } from './mac.js'
import { assertCidr, assertEmail, assertHost, assertIpv4, assertName, assertPort } from './tokens.js'

/** One app on the LAN: its static lease. */
export interface LanApp {
  name: string
  /** Upper-case, from {@link appMacAddress}. */
  mac: string
  ip: string
  /** `static`: the App's `network.ip`; `reserved`: chosen by {@link resolveApplianceNetwork}. */
  addressing: 'static' | 'reserved'
}

/** One reverse-proxy route: an `expose` entry. */
export interface ProxyRoute {
  /** Lower-case FQDN. */
  host: string
  app: string
  ip: string
  port: number
  tls: 'internal' | 'acme' | 'none'
}

/** One DNS name answered from the hosts file. */
export interface HostEntry {
  /** Lower-case FQDN. */
  fqdn: string
  ip: string
  /** What the name is for, for messages: `App/web`, `App/web expose[0]`, `record nas`. */
  origin: string
}

/** One DNAT rule from `nat.portForwards`. */
export interface PortForward {
  protocol: 'tcp' | 'udp'
  port: number
  toIp: string
  toPort: number
}

/** The resolved LAN of one appliance; every list is sorted. */
export interface ApplianceNetwork {
  /** Appliance name. */
  name: string
  domain: string
  /** Network address and prefix, e.g. 10.44.0.0 and 24. */
  subnet: { network: string; prefix: number; netmask: string; cidr: string }
  /** The appliance's LAN address: router, DNS server and proxy for the apps. */
  gateway: string
  dhcpRange: { start: string; end: string }
  upstream: string[]
  acmeEmail?: string
  masquerade: boolean
  /** By name. */
  apps: LanApp[]
  /** By FQDN. */
  hosts: HostEntry[]
  /** By host. */
  routes: ProxyRoute[]
  /** By protocol, then port. */
  portForwards: PortForward[]
}

/** Options of {@link resolveApplianceNetwork}. */
export interface ResolveNetworkOptions {
  /** Installation id (`Cluster.spec.owner`); seeds the app MACs and reserved addresses. */
  owner: string
  /**
   * Addresses apps had before (app name → IP), e.g. read back from the appliance's dhcp-hosts
   * file. An app keeps its previous address while it is still free, so adding or removing
   * other apps never moves it. @default {}
   */
  previous?: Record<string, string>
}

/**
 * Resolves `appliance` and the Apps in `apps` that name it in `spec.network.appliance` (others
 * are ignored) into an {@link ApplianceNetwork}.
 *
 * Addresses: an App with a static `network.ip` keeps it; every other App gets a reserved address
 * outside the DHCP pool: its `previous` address when still free, else a slot picked by a hash of
 * owner and name (probing upwards on collision), so an app's address rarely depends on the others.
 * @throws ApplianceRenderError for anything that cannot be rendered safely or consistently: bad
 *   tokens, static addresses outside the LAN or taken twice, a full LAN, two routes or names for
 *   one host, port forwards outside the LAN or on the proxy's ports.
 */
export function resolveApplianceNetwork(appliance: ApplianceManifest, apps: readonly AppManifest[], opts: ResolveNetworkOptions): ApplianceNetwork {
  const name = assertName(appliance.metadata.name, 'Appliance metadata.name')
  const at = (path: string): string => `Appliance/${name} spec.${path}`
  const spec = appliance.spec
  const subnet = assertCidr(spec.lan.subnet, at('lan.subnet'))
  if (subnet.address !== subnet.network) throw new ApplianceRenderError(at('lan.subnet'), `${spec.lan.subnet} is not a network address`)
  if (subnet.prefix > 30) throw new ApplianceRenderError(at('lan.subnet'), `/${subnet.prefix} is too small for a LAN; use /30 or larger`)
  const usable = (ip: number): boolean => cidrContains(subnet, ip) && ip !== subnet.network && ip !== subnet.broadcast
  const lanIp = (value: string, path: string): number => {
    const ip = parseIpv4(assertIpv4(value, path))!
    if (!usable(ip)) throw new ApplianceRenderError(path, `${value} is not a usable address of the LAN ${spec.lan.subnet}`)
    return ip
  }
  const gateway = lanIp(spec.lan.gateway, at('lan.gateway'))
  const start = lanIp(spec.lan.dhcpRange.start, at('lan.dhcpRange.start'))
  const end = lanIp(spec.lan.dhcpRange.end, at('lan.dhcpRange.end'))
  if (start > end) throw new ApplianceRenderError(at('lan.dhcpRange'), 'end is before start')
  if (gateway >= start && gateway <= end) throw new ApplianceRenderError(at('lan.gateway'), `${spec.lan.gateway} lies inside the DHCP range; move it or the range`)
  const domain = assertHost(spec.dns.domain, at('dns.domain'))
  const upstream = [...new Set(spec.dns.upstream.map((u, i) => assertIpv4(u, at(`dns.upstream[${i}]`))))]
  const acmeEmail = spec.proxy.acmeEmail === undefined ? undefined : assertEmail(spec.proxy.acmeEmail, at('proxy.acmeEmail'))

  const members = apps.filter((a) => a.spec.network.appliance === name).sort((a, b) => cmp(a.metadata.name, b.metadata.name))
  const taken = new Map<number, string>([[gateway, `Appliance/${name} lan.gateway`]])
  const claim = (ip: number, who: string, field: string): void => {
    const other = taken.get(ip)
    if (other !== undefined) throw new ApplianceRenderError(field, `${formatIpv4(ip)} is already used by ${other}; pick another address`)
    taken.set(ip, who)
  }

  // Records inside the LAN occupy their address; records elsewhere are plain DNS data.
  const records = spec.dns.records.map((r, i) => {
    const ip = assertIpv4(r.ip, at(`dns.records[${i}].ip`))
    const fqdn = qualify(assertHost(r.name, at(`dns.records[${i}].name`)), domain)
    return { fqdn, ip, field: at(`dns.records[${i}]`) }
  })
  const recordIps = new Set(records.map((r) => r.ip))

  // Static addresses first, then previous ones, then hashed slots.
  const lan: LanApp[] = []
  const dynamic: AppManifest[] = []
  for (const app of members) {
    const appName = assertName(app.metadata.name, 'App metadata.name')
    const field = `App/${appName} spec.network.ip`
    if (app.spec.network.ip === 'dhcp') {
      dynamic.push(app)
      continue
    }
    const cidr = assertCidr(app.spec.network.ip, field)
    if (!usable(cidr.address)) throw new ApplianceRenderError(field, `${app.spec.network.ip} is outside the LAN ${spec.lan.subnet} of Appliance "${name}"`)
    if (cidr.prefix !== subnet.prefix) throw new ApplianceRenderError(field, `prefix /${cidr.prefix} does not match the LAN ${spec.lan.subnet}`)
    claim(cidr.address, `App "${appName}"`, field)
    lan.push({ name: appName, mac: appMacAddress(opts.owner, appName), ip: formatIpv4(cidr.address), addressing: 'static' })
  }
  // The reservation pool: usable addresses outside the DHCP range, without the gateway. Kept as
  // up to three segments rather than a list, so a /8 LAN costs no more than a /24.
  const pool = subtract(subnet.network + 1, subnet.broadcast - 1, [[gateway, gateway], [start, end]])
  const poolSize = pool.reduce((n, [a, b]) => n + b - a + 1, 0)
  const poolAt = (i: number): number => {
    for (const [a, b] of pool) {
      if (i <= b - a) return a + i
      i -= b - a + 1
    }
    throw new Error('pool index out of range') // unreachable: i < poolSize
  }
  const inPool = (ip: number): boolean => pool.some(([a, b]) => ip >= a && ip <= b)
  const free = (ip: number): boolean => !taken.has(ip) && !recordIps.has(formatIpv4(ip))
  const needHash: AppManifest[] = []
  for (const app of dynamic) {
    const prev = opts.previous?.[app.metadata.name]
    const ip = prev === undefined ? undefined : parseIpv4(prev)
    if (ip !== undefined && inPool(ip) && free(ip)) {
      taken.set(ip, `App "${app.metadata.name}"`)
      lan.push({ name: app.metadata.name, mac: appMacAddress(opts.owner, app.metadata.name), ip: formatIpv4(ip), addressing: 'reserved' })
    } else needHash.push(app)
  }
  const occupied = new Set([...taken.keys(), ...[...recordIps].map((r) => parseIpv4(r)!)].filter(inPool))
  const available = poolSize - occupied.size
  if (needHash.length > available) {
    throw new ApplianceRenderError(at('lan'), `the LAN ${spec.lan.subnet} has ${available} free addresses outside the DHCP range ${spec.lan.dhcpRange.start}-${spec.lan.dhcpRange.end} but ${needHash.length} apps need one; use a larger subnet or a smaller dhcpRange`)
  }
  for (const app of needHash) {
    let i = slot(opts.owner, app.metadata.name, poolSize)
    while (!free(poolAt(i))) i = (i + 1) % poolSize
    const ip = poolAt(i)
    taken.set(ip, `App "${app.metadata.name}"`)
    lan.push({ name: app.metadata.name, mac: appMacAddress(opts.owner, app.metadata.name), ip: formatIpv4(ip), addressing: 'reserved' })
  }
  lan.sort((a, b) => cmp(a.name, b.name))
  const macs = new Map<string, string>()
  for (const a of lan) {
    const other = macs.get(a.mac)
    if (other) throw new ApplianceRenderError(`App/${a.name} metadata.name`, `its MAC ${a.mac} collides with App "${other}"; rename one of them`)
    macs.set(a.mac, a.name)
  }

  // Routes: one per expose entry.
  const ipOf = new Map(lan.map((a) => [a.name, a.ip]))
  const routes: ProxyRoute[] = []
  const routeOrigin = new Map<string, string>()
  for (const app of members) {
    app.spec.expose.forEach((x, i) => {
      const field = `App/${app.metadata.name} spec.expose[${i}]`
      const host = qualify(x.host === undefined ? app.metadata.name : assertHost(x.host, `${field}.host`), domain)
      const port = assertPort(x.port, `${field}.port`)
      if (x.tls !== 'internal' && x.tls !== 'acme' && x.tls !== 'none') throw new ApplianceRenderError(`${field}.tls`, `${JSON.stringify(x.tls)} is not internal, acme or none`)
      const other = routeOrigin.get(host)
      if (other) throw new ApplianceRenderError(`${field}.host`, `host ${host} is already routed for ${other}; give this entry its own host`)
      routeOrigin.set(host, field)
      routes.push({ host, app: app.metadata.name, ip: ipOf.get(app.metadata.name)!, port, tls: x.tls })
    })
  }
  routes.sort((a, b) => cmp(a.host, b.host))

  // DNS names: exposed hosts → proxy, app names → app (unless exposed), records → their IP.
  const gw = formatIpv4(gateway)
  const hosts = new Map<string, HostEntry>()
  const addHost = (e: HostEntry, field: string): void => {
    const other = hosts.get(e.fqdn)
    if (other && other.ip !== e.ip) throw new ApplianceRenderError(field, `name ${e.fqdn} would answer ${e.ip} but ${other.origin} already gives it ${other.ip}; rename one of them`)
    if (!other) hosts.set(e.fqdn, e)
  }
  for (const r of routes) addHost({ fqdn: r.host, ip: gw, origin: `App/${r.app} expose` }, `App/${r.app} spec.expose`)
  for (const a of lan) {
    const fqdn = `${a.name}.${domain}`
    const exposed = hosts.get(fqdn)
    if (exposed && exposed.origin !== `App/${a.name} expose`) {
      throw new ApplianceRenderError(`App/${a.name} metadata.name`, `name ${fqdn} is taken by the route of ${exposed.origin}; change that expose host or rename the app`)
    }
    if (!exposed) addHost({ fqdn, ip: a.ip, origin: `App/${a.name}` }, `App/${a.name} metadata.name`)
  }
  for (const r of records) addHost({ fqdn: r.fqdn, ip: r.ip, origin: `record ${r.fqdn}` }, r.field)

  // Port forwards.
  const forwards = new Map<string, PortForward>()
  spec.nat.portForwards.forEach((p, i) => {
    const field = at(`nat.portForwards[${i}]`)
    const protocol = p.protocol ?? 'tcp'
    if (protocol !== 'tcp' && protocol !== 'udp') throw new ApplianceRenderError(`${field}.protocol`, `${JSON.stringify(protocol)} is not tcp or udp`)
    const port = assertPort(p.port, `${field}.port`)
    const m = typeof p.to === 'string' ? /^([0-9.]+):([0-9]{1,5})$/.exec(p.to) : null
    if (!m) throw new ApplianceRenderError(`${field}.to`, `${JSON.stringify(p.to)} is not IP:PORT such as 10.44.0.10:22`)
    const toIp = lanIp(m[1], `${field}.to`)
    if (toIp === gateway) throw new ApplianceRenderError(`${field}.to`, `${m[1]} is the appliance itself; forward to an app`)
    const toPort = assertPort(Number(m[2]), `${field}.to`)
    if (protocol === 'tcp' && (port === 80 || port === 443)) throw new ApplianceRenderError(`${field}.port`, `${port}/tcp is the proxy's port on the WAN; pick another port`)
    const key = `${protocol}/${port}`
    if (forwards.has(key)) throw new ApplianceRenderError(`${field}.port`, `${port}/${protocol} is forwarded twice; keep one entry`)
    forwards.set(key, { protocol, port, toIp: formatIpv4(toIp), toPort })
  })

  const netmask = formatIpv4(subnet.prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - subnet.prefix)))
  return {
    name,
    domain,
    subnet: { network: formatIpv4(subnet.network), prefix: subnet.prefix, netmask, cidr: `${formatIpv4(subnet.network)}/${subnet.prefix}` },
    gateway: gw,
    dhcpRange: { start: formatIpv4(start), end: formatIpv4(end) },
    upstream,
    ...(acmeEmail === undefined ? {} : { acmeEmail }),
    masquerade: spec.nat.masquerade,
    apps: lan,
    hosts: [...hosts.values()].sort((a, b) => cmp(a.fqdn, b.fqdn)),
    routes,
    portForwards: [...forwards.values()].sort((a, b) => cmp(a.protocol, b.protocol) || a.port - b.port),
  }
}

/** The intervals of [lo, hi] left after removing the `excluded` intervals; sorted, disjoint. */
function subtract(lo: number, hi: number, excluded: [number, number][]): [number, number][] {
  const out: [number, number][] = []
  let cur = lo
  for (const [a, b] of [...excluded].sort((x, y) => x[0] - y[0])) {
    if (b < cur) continue
    if (a > hi) break
    if (a > cur) out.push([cur, Math.min(a - 1, hi)])
    cur = Math.max(cur, b + 1)
  }
  if (cur <= hi) out.push([cur, hi])
  return out
}

/** A single label is a name inside the domain; anything with a dot is already a FQDN. */
function qualify(host: string, domain: string): string {
  return host.includes('.') ? host : `${host}.${domain}`
}

/** The preferred pool index of an app: independent of every other app. */
function slot(owner: string, app: string, size: number): number {
  const d = createHash('sha256').update(JSON.stringify(['proximity-ip', owner, app])).digest()
  return d.readUInt32BE(0) % size
}

/** Code-unit order, the same on every locale (localeCompare is not). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

