/**
 * dnsmasq files of the appliance (REFERENCE §2): the main config (`/etc/dnsmasq.conf`, read
 * only at start), the static leases (`dhcp-hostsfile`) and the names (`addn-hosts`). Per-app
 * data lives in the two SIGHUP-reloadable files, so adding an app is a reload, not a restart.
 * Pure: every renderer takes an {@link ApplianceNetwork} and returns the file text, re-checking
 * each token it writes (so a hand-built network cannot inject a directive).
 */
import { ApplianceRenderError } from './errors.js'
import type { ApplianceNetwork } from './network.js'
import { assertHost, assertInterface, assertIpv4, assertMac, assertName, assertPath } from './tokens.js'

/** Options of {@link renderDnsmasqConfig}. */
export interface DnsmasqConfigOptions {
  /** The appliance's LAN interface. @default 'eth1' */
  lanInterface?: string
  /** Path of the names file ({@link renderHostsFile}). @default '/etc/proximity/hosts' */
  hostsFile?: string
  /** Path of the static-lease file ({@link renderDhcpHosts}). @default '/etc/proximity/dhcp-hosts' */
  dhcpHostsFile?: string
  /** Lease database; omitted by default because the Alpine service passes its own. @default undefined */
  leaseFile?: string
  /** Lease time of pool and static leases: minutes, hours, days or `infinite`. @default '12h' */
  leaseTime?: string
}

const LEASE_TIME = /^([1-9][0-9]{0,5}[mhd]?|infinite)$/

/** The header every rendered file starts with (a comment in all three syntaxes). */
export function renderedHeader(network: Pick<ApplianceNetwork, 'name'>): string {
  return `# Proximity appliance "${assertName(network.name, 'Appliance metadata.name')}" (rendered; do not edit)`
}

/**
 * `/etc/dnsmasq.conf`: DNS for `network.domain` answered locally (never forwarded), other names
 * forwarded to the upstreams, DHCP on the LAN interface only, with the appliance as router and
 * DNS server. Accepted by `dnsmasq --test` 2.90 (Debian 12) and newer.
 * @throws ApplianceRenderError on a token that is not a plain address, name, interface or path.
 */
export function renderDnsmasqConfig(network: ApplianceNetwork, opts: DnsmasqConfigOptions = {}): string {
  const iface = assertInterface(opts.lanInterface ?? 'eth1', 'lanInterface')
  const hostsFile = assertPath(opts.hostsFile ?? '/etc/proximity/hosts', 'hostsFile')
  const dhcpHostsFile = assertPath(opts.dhcpHostsFile ?? '/etc/proximity/dhcp-hosts', 'dhcpHostsFile')
  const leaseTime = opts.leaseTime ?? '12h'
  if (!LEASE_TIME.test(leaseTime)) throw new ApplianceRenderError('leaseTime', `${JSON.stringify(leaseTime)} is not a lease time such as 12h, 45m or infinite`)
  const domain = assertHost(network.domain, 'dns.domain')
  const gateway = assertIpv4(network.gateway, 'lan.gateway')
  const lines = [
    renderedHeader(network),
    'no-resolv',
    ...network.upstream.map((u, i) => `server=${assertIpv4(u, `dns.upstream[${i}]`)}`),
    `interface=${iface}`,
    // bind-dynamic: like bind-interfaces, but a LAN NIC that comes up late is picked up instead
    // of dnsmasq exiting 2 (REFERENCE §7 trap 8).
    'bind-dynamic',
    'no-hosts',
    'domain-needed',
    'bogus-priv',
    `domain=${domain}`,
    `local=/${domain}/`,
    'expand-hosts',
    `addn-hosts=${hostsFile}`,
    'dhcp-authoritative',
    `dhcp-range=set:lan,${assertIpv4(network.dhcpRange.start, 'lan.dhcpRange.start')},${assertIpv4(network.dhcpRange.end, 'lan.dhcpRange.end')},${assertIpv4(network.subnet.netmask, 'lan.subnet')},${leaseTime}`,
    `dhcp-option=tag:lan,option:router,${gateway}`,
    `dhcp-option=tag:lan,option:dns-server,${gateway}`,
    `dhcp-option=tag:lan,option:domain-search,${domain}`,
    `dhcp-hostsfile=${dhcpHostsFile}`,
    ...(opts.leaseFile === undefined ? [] : [`dhcp-leasefile=${assertPath(opts.leaseFile, 'leaseFile')}`]),
    'log-dhcp',
  ]
  return `${lines.join('\n')}\n`
}

/**
 * The `dhcp-hostsfile`: one `MAC,IP,name` line per app, sorted by name. dnsmasq re-reads it on
 * SIGHUP; `dnsmasq --test` does not read it, so it is checked here (and in the tests by running
 * each line as a `dhcp-host=` directive through the real binary).
 *
 * WARNING: removing an app's line and sending SIGHUP does not end its lease: dnsmasq keeps the
 * lease, its name and its address until expiry (REFERENCE §7 trap 4). On deletion the caller
 * must also drop the lease (stop, edit the lease file, start; or `dhcp_release`).
 * @throws ApplianceRenderError on a bad token, or two apps with one MAC, IP or name.
 */
export function renderDhcpHosts(network: ApplianceNetwork): string {
  const seen = new Map<string, string>()
  const once = (key: string, what: string, app: string): void => {
    const other = seen.get(key)
    if (other !== undefined) throw new ApplianceRenderError(`App/${app}`, `${what} is also the lease of App "${other}"`)
    seen.set(key, app)
  }
  const lines = [...network.apps]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((a) => {
      const name = assertName(a.name, 'App metadata.name')
      const mac = assertMac(a.mac, `App/${name} mac`)
      const ip = assertIpv4(a.ip, `App/${name} ip`)
      once(`n:${name}`, `name ${name}`, name)
      once(`m:${mac}`, `MAC ${mac}`, name)
      once(`i:${ip}`, `IP ${ip}`, name)
      return `${mac},${ip},${name}`
    })
  return lines.length ? `${lines.join('\n')}\n` : ''
}

/**
 * The `addn-hosts` file: one `IP name` line per DNS name, sorted by name. Names directly under
 * the domain are written as their first label (`expand-hosts` answers both `web` and
 * `web.<domain>`); others are written in full.
 * @throws ApplianceRenderError on a bad token.
 */
export function renderHostsFile(network: ApplianceNetwork): string {
  const domain = assertHost(network.domain, 'dns.domain')
  const lines = network.hosts
    .map((h) => {
      const fqdn = assertHost(h.fqdn, h.origin)
      const ip = assertIpv4(h.ip, h.origin)
      const short = fqdn.endsWith(`.${domain}`) && !fqdn.slice(0, -domain.length - 1).includes('.') ? fqdn.slice(0, -domain.length - 1) : fqdn
      return { key: fqdn, line: `${ip} ${short}` }
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((l) => l.line)
  return lines.length ? `${lines.join('\n')}\n` : ''
}
