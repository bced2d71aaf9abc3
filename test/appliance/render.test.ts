/**
 * The appliance renderers as pure functions: deterministic MACs and addresses, the naming rule,
 * refusal of anything that could inject configuration, stable output and hashes, the service
 * actions a change needs, and plan lines. The files themselves are checked by the real binaries
 * in binaries.test.ts and run in netns.test.ts.
 */
import { createHash } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  APPLIANCE_FILES,
  ApplianceRenderError,
  appMacAddress,
  changedFiles,
  contentHash,
  describeFileChanges,
  renderApplianceFiles,
  renderCaddyfile,
  renderDhcpHosts,
  renderDnsmasqConfig,
  renderHostsFile,
  renderNftables,
  resolveApplianceNetwork,
  serviceCommandsFor,
  type ApplianceFileId,
  type ApplianceNetwork,
} from '../../controllers/appliance/render/index.js'
import { StalledError } from '../../src/runtime/errors.js'
import type { AppManifest, ApplianceManifest, ManifestSet } from '../../src/model/types.js'
import { OWNER, generatedSet, homelabOnLan } from './fixtures.js'

let homelab: ManifestSet
let edge: ApplianceManifest
beforeAll(async () => {
  homelab = await homelabOnLan()
  edge = homelab.appliances[0]
})

const clone = <T>(v: T): T => structuredClone(v)
const app = (name: string): AppManifest => clone(homelab.apps.find((a) => a.metadata.name === name)!)
const resolve = (apps = homelab.apps, appliance = edge, previous?: Record<string, string>): ApplianceNetwork =>
  resolveApplianceNetwork(appliance, apps, { owner: OWNER, previous })
const filesOf = (n: ApplianceNetwork): Record<ApplianceFileId, string> =>
  Object.fromEntries(renderApplianceFiles(n).map((f) => [f.id, f.content])) as Record<ApplianceFileId, string>

describe('appMacAddress', () => {
  it('is pinned: the same owner and app give the same MAC on every run and host', () => {
    // Pinned on purpose: changing the derivation would move every app's lease, so it must be a
    // visible, deliberate break of this test.
    expect(appMacAddress('proximity', 'web')).toBe('02:D2:D9:3C:12:7F')
    expect(appMacAddress('proximity', 'web')).toBe(appMacAddress('proximity', 'web'))
  })

  it('is a locally administered unicast address in the upper-case form Proxmox writes', () => {
    for (const name of ['web', 'db', 'a', 'x'.repeat(40)]) {
      const mac = appMacAddress('home', name)
      expect(mac).toMatch(/^02(:[0-9A-F]{2}){5}$/)
      const first = parseInt(mac.slice(0, 2), 16)
      expect(first & 0b01).toBe(0) // unicast
      expect(first & 0b10).toBe(2) // locally administered
    }
  })

  it('differs by owner and by app, and 5,000 names give 5,000 MACs', () => {
    expect(appMacAddress('home', 'web')).not.toBe(appMacAddress('office', 'web'))
    expect(appMacAddress('home', 'web')).not.toBe(appMacAddress('home', 'web2'))
    const macs = new Set(Array.from({ length: 5000 }, (_, i) => appMacAddress('home', `app-${i}`)))
    expect(macs.size).toBe(5000)
  })

  it('refuses a name that is not an object name and an empty owner', () => {
    expect(() => appMacAddress('home', 'Web\n')).toThrow(ApplianceRenderError)
    expect(() => appMacAddress('', 'web')).toThrow(/owner/)
  })
})

describe('resolveApplianceNetwork', () => {
  it('honours static addresses and reserves the others outside the DHCP pool, the gateway and record addresses', () => {
    const n = resolve()
    expect(n.apps.map((a) => a.name)).toEqual(['hello-web', 'notes', 'uptime-kuma', 'whoami'])
    expect(n.apps.find((a) => a.name === 'hello-web')).toMatchObject({ ip: '10.10.0.20', addressing: 'static' })
    for (const a of n.apps.filter((x) => x.addressing === 'reserved')) {
      const last = Number(a.ip.split('.')[3])
      expect(a.ip.startsWith('10.10.0.')).toBe(true)
      expect(last < 100 || last > 199).toBe(true)
      expect(['10.10.0.1', '10.10.0.5', '10.10.0.0', '10.10.0.255']).not.toContain(a.ip)
      expect(a.mac).toBe(appMacAddress(OWNER, a.name))
    }
    expect(new Set(n.apps.map((a) => a.ip)).size).toBe(n.apps.length)
  })

  it('does not depend on the order of the apps', () => {
    expect(resolve([...homelab.apps].reverse())).toEqual(resolve())
  })

  it('ignores apps that do not join this appliance', () => {
    const other = app('whoami')
    other.spec.network = { appliance: 'elsewhere', ip: 'dhcp' }
    const bridged = app('notes')
    bridged.spec.network = { bridge: 'vmbr0', ip: 'dhcp' }
    expect(resolve([other, bridged]).apps).toEqual([])
  })

  it('keeps a previous address while it is free, and ignores one inside the pool or taken', () => {
    const n = resolve(homelab.apps, edge, { whoami: '10.10.0.30', notes: '10.10.0.150', 'uptime-kuma': '10.10.0.20' })
    expect(n.apps.find((a) => a.name === 'whoami')!.ip).toBe('10.10.0.30')
    expect(n.apps.find((a) => a.name === 'notes')!.ip).not.toBe('10.10.0.150') // inside the DHCP pool
    expect(n.apps.find((a) => a.name === 'uptime-kuma')!.ip).not.toBe('10.10.0.20') // hello-web's static address
  })

  it('applies the naming rule: exposed hosts answer the proxy, other app names the app', () => {
    const n = resolve()
    const host = (fqdn: string): string | undefined => n.hosts.find((h) => h.fqdn === fqdn)?.ip
    expect(host('whoami.home.arpa')).toBe('10.10.0.1') // default expose host → proxy
    expect(host('notes.example.org')).toBe('10.10.0.1') // public expose host → proxy on the LAN
    expect(host('notes.home.arpa')).toBe(n.apps.find((a) => a.name === 'notes')!.ip) // exposes only a public host
    expect(host('nas.home.arpa')).toBe('10.10.0.5')
    expect(host('printer.office.example')).toBe('192.168.1.40')
    expect(n.routes.map((r) => `${r.host} ${r.tls}`)).toEqual([
      'hello-web.home.arpa none',
      'notes.example.org acme',
      'uptime-kuma.home.arpa internal',
      'whoami.home.arpa internal',
    ])
  })

  it('reserves addresses in a /8 LAN and around a gateway at the top of the subnet', () => {
    const big = clone(edge)
    big.spec.lan = { ...big.spec.lan, subnet: '10.0.0.0/8', gateway: '10.255.255.254', dhcpRange: { start: '10.0.0.1', end: '10.127.255.255' } }
    big.spec.dns.records = []
    big.spec.nat.portForwards = []
    const apps = homelab.apps.map(clone)
    apps.find((a) => a.metadata.name === 'hello-web')!.spec.network.ip = '10.200.0.20/8'
    const n = resolveApplianceNetwork(big, apps, { owner: OWNER })
    for (const a of n.apps) {
      const [, b] = a.ip.split('.').map(Number)
      expect(b >= 128).toBe(true) // above the DHCP range
      expect(a.ip).not.toBe('10.255.255.254')
      expect(a.ip).not.toBe('10.255.255.255')
    }
  })

  it('refuses a dhcp app when the DHCP range leaves no address to reserve', () => {
    const full = clone(edge)
    full.spec.lan = { ...full.spec.lan, dhcpRange: { start: '10.10.0.2', end: '10.10.0.254' } }
    expect(() => resolve(homelab.apps, full)).toThrow(/has 0 free addresses outside the DHCP range 10\.10\.0\.2-10\.10\.0\.254 but 3 apps need one/)
  })

  it('says how to fix a LAN too small for its apps', async () => {
    const set = await generatedSet(250)
    const small = clone(set.appliances[0])
    small.spec.lan = { ...small.spec.lan, subnet: '10.60.0.0/24', gateway: '10.60.0.1', dhcpRange: { start: '10.60.0.100', end: '10.60.0.200' } }
    const apps = set.apps.map((a) => ({ ...a, spec: { ...a.spec, network: { appliance: 'lab', ip: 'dhcp' } } }))
    // 254 host addresses - gateway - 101 in the pool - the `nas` record at 10.60.0.2 = 151.
    expect(() => resolveApplianceNetwork(small, apps, { owner: OWNER })).toThrow(/has 151 free addresses .* but 250 apps need one; use a larger subnet or a smaller dhcpRange/)
  })
})

describe('bad input is refused, never written', () => {
  // Each value would, if written, add a directive, break a block or confuse a parser. The
  // loader's schema refuses most of them already; the renderers must not rely on that.
  const cases: { name: string; reason: string; mutate: (apps: AppManifest[], appliance: ApplianceManifest) => void; want: RegExp }[] = [
    { name: 'newline in an expose host', reason: 'would start a new Caddyfile line', mutate: (a) => (a[0].spec.expose[0].host = 'x.home.arpa\nevil.example {'), want: /spec\.expose\[0\]\.host: .* is not a DNS name/ },
    { name: 'brace in an expose host', reason: 'would open a Caddy block', mutate: (a) => (a[0].spec.expose[0].host = 'x{'), want: /is not a DNS name/ },
    { name: 'an address as expose host', reason: 'Caddy would serve an IP site, the hosts file would hold an address as a name', mutate: (a) => (a[0].spec.expose[0].host = '10.10.0.7'), want: /looks like an address/ },
    { name: 'semicolon in the domain', reason: 'nft/Caddy statement separator', mutate: (_, s) => (s.spec.dns.domain = 'home.arpa;flush'), want: /dns\.domain: .* is not a DNS name/ },
    { name: 'quote in the ACME e-mail', reason: 'would end a quoted token', mutate: (_, s) => (s.spec.proxy.acmeEmail = 'a"@example.org'), want: /proxy\.acmeEmail: .* is not a plain e-mail/ },
    { name: 'newline in the ACME e-mail', reason: 'would add a global Caddy option', mutate: (_, s) => (s.spec.proxy.acmeEmail = 'a@example.org\n\tadmin off'), want: /not a plain e-mail/ },
    { name: 'space in a record name', reason: 'a hosts line with two names', mutate: (_, s) => (s.spec.dns.records[0].name = 'nas evil'), want: /dns\.records\[0\]\.name/ },
    { name: 'comment in an upstream', reason: 'dnsmasq would read a truncated server=', mutate: (_, s) => (s.spec.dns.upstream[0] = '1.1.1.1#53'), want: /dns\.upstream\[0\]: .* is not an IPv4 address/ },
    { name: 'semicolon in a port-forward target', reason: 'a second nft statement', mutate: (_, s) => (s.spec.nat.portForwards[0].to = '10.10.0.20:22; accept'), want: /portForwards\[0\]\.to/ },
    { name: 'comma in an app name', reason: 'an extra dhcp-host field', mutate: (a) => (a[1].metadata.name = 'notes,10.10.0.9'), want: /is not a valid name/ },
    { name: 'a static address outside the LAN', reason: 'dnsmasq would hand out an unreachable lease', mutate: (a) => (a[0].spec.network.ip = '10.11.0.20/24'), want: /is outside the LAN 10\.10\.0\.0\/24/ },
    { name: 'two expose entries on one host', reason: 'Caddy refuses an ambiguous site', mutate: (a) => a[2].spec.expose.push({ port: 9999, tls: 'internal' }), want: /host uptime-kuma\.home\.arpa is already routed for App\/uptime-kuma spec\.expose\[0\]/ },
    { name: 'an expose host equal to another app name', reason: 'the app name would silently point at the proxy', mutate: (a) => (a[0].spec.expose[0].host = 'notes'), want: /name notes\.home\.arpa is taken by the route of App\/hello-web expose/ },
    { name: 'a port forward on 443/tcp', reason: "DNAT would steal the proxy's port", mutate: (_, s) => (s.spec.nat.portForwards[0].port = 443), want: /443\/tcp is the proxy's port/ },
    { name: 'a port forward to the appliance itself', reason: 'loops back into the appliance', mutate: (_, s) => (s.spec.nat.portForwards[0].to = '10.10.0.1:22'), want: /is the appliance itself/ },
    { name: 'two apps on one static address', reason: 'dnsmasq refuses duplicate dhcp-host IPs', mutate: (a) => (a[3].spec.network.ip = '10.10.0.20/24'), want: /10\.10\.0\.20 is already used by App "hello-web"/ },
    { name: 'a gateway inside the DHCP pool', reason: 'the pool would hand out the router address', mutate: (_, s) => (s.spec.lan.gateway = '10.10.0.150'), want: /lan\.gateway: 10\.10\.0\.150 lies inside the DHCP range/ },
  ]
  it.each(cases)('$name ($reason)', ({ mutate, want }) => {
    const apps = homelab.apps.map(clone).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    const appliance = clone(edge)
    mutate(apps, appliance)
    let err: unknown
    try {
      renderApplianceFiles(resolveApplianceNetwork(appliance, apps, { owner: OWNER }))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ApplianceRenderError)
    expect(err).toBeInstanceOf(StalledError)
    expect((err as StalledError).reason).toBe('InvalidApplianceConfig')
    expect((err as Error).message).toMatch(want)
  })

  // The file renderers re-check what they write, so a hand-built network cannot inject either.
  const renderers: { name: string; reason: string; run: (n: ApplianceNetwork) => string }[] = [
    { name: 'renderCaddyfile, route host with a block', reason: 'Caddy block injection', run: (n) => renderCaddyfile({ ...n, routes: [{ ...n.routes[0], host: 'a.b {\n}' }] }) },
    { name: 'renderCaddyfile, admin off loopback', reason: 'admin API must stay on loopback', run: (n) => renderCaddyfile(n, { adminAddress: '0.0.0.0:2019' }) },
    { name: 'renderDnsmasqConfig, interface with a directive', reason: 'dnsmasq directive injection', run: (n) => renderDnsmasqConfig(n, { lanInterface: 'eth1\nserver=6.6.6.6' }) },
    { name: 'renderDnsmasqConfig, hosts path with a newline', reason: 'dnsmasq directive injection', run: (n) => renderDnsmasqConfig(n, { hostsFile: '/etc/h\nconf-dir=/tmp' }) },
    { name: 'renderDnsmasqConfig, bad lease time', reason: 'dnsmasq rejects it at start', run: (n) => renderDnsmasqConfig(n, { leaseTime: '12x' }) },
    { name: 'renderDhcpHosts, MAC with a comma', reason: 'extra dhcp-host field', run: (n) => renderDhcpHosts({ ...n, apps: [{ ...n.apps[0], mac: '02:00:00:00:00:01,set:x' }] }) },
    { name: 'renderDhcpHosts, multicast MAC', reason: 'Proxmox and DHCP need unicast', run: (n) => renderDhcpHosts({ ...n, apps: [{ ...n.apps[0], mac: '03:00:00:00:00:01' }] }) },
    { name: 'renderHostsFile, name with a space', reason: 'a second hosts name', run: (n) => renderHostsFile({ ...n, hosts: [{ fqdn: 'a b', ip: '10.10.0.9', origin: 'test' }] }) },
    { name: 'renderNftables, interface with a quote', reason: 'nft string injection', run: (n) => renderNftables(n, { wanInterface: 'eth0"; flush ruleset; "' }) },
    { name: 'renderNftables, forward to a non-address', reason: 'nft statement injection', run: (n) => renderNftables({ ...n, portForwards: [{ protocol: 'tcp', port: 22, toIp: '10.0.0.1 accept', toPort: 22 }] }) },
  ]
  it.each(renderers)('$name ($reason)', ({ run }) => {
    expect(() => run(resolve())).toThrow(ApplianceRenderError)
  })
})

describe('renderApplianceFiles', () => {
  it('renders every file of the table, in table order, with the table path and a sha256 of the content', () => {
    const files = renderApplianceFiles(resolve())
    expect(files.map((f) => [f.id, f.path])).toEqual(APPLIANCE_FILES.map((f) => [f.id, f.path]))
    for (const f of files) expect(f.hash).toBe(createHash('sha256').update(f.content).digest('hex'))
    expect(contentHash('a')).not.toBe(contentHash('a\n'))
  })

  it('is byte-identical across runs and input orders (hashes too)', async () => {
    const a = renderApplianceFiles(resolve())
    const b = renderApplianceFiles(resolve([...homelab.apps].reverse(), clone(edge)))
    expect(b).toEqual(a)
    const big = await generatedSet(50)
    const shuffled = [...big.apps].sort(() => 0.5 - Math.random())
    expect(renderApplianceFiles(resolveApplianceNetwork(big.appliances[0], shuffled, { owner: OWNER })).map((f) => f.hash)).toEqual(
      renderApplianceFiles(resolveApplianceNetwork(big.appliances[0], big.apps, { owner: OWNER })).map((f) => f.hash),
    )
  })

  it('points dnsmasq.conf at the overridden data-file paths', () => {
    const files = renderApplianceFiles(resolve(), { paths: { hosts: '/tmp/x/hosts', 'dhcp-hosts': '/tmp/x/leases' }, leaseFile: '/tmp/x/db', lanInterface: 'lan0' })
    const conf = files.find((f) => f.id === 'dnsmasq-conf')!.content
    expect(conf).toContain('\naddn-hosts=/tmp/x/hosts\n')
    expect(conf).toContain('\ndhcp-hostsfile=/tmp/x/leases\n')
    expect(conf).toContain('\ndhcp-leasefile=/tmp/x/db\n')
    expect(conf).toContain('\ninterface=lan0\n')
    expect(files.find((f) => f.id === 'hosts')!.path).toBe('/tmp/x/hosts')
  })
})

describe('serviceCommandsFor', () => {
  const cases: { name: string; reason: string; given: ApplianceFileId[]; want: string[] }[] = [
    { name: 'nothing changed', reason: 'a second apply must not touch a service', given: [], want: [] },
    { name: 'the hosts file', reason: 'addn-hosts is re-read on SIGHUP', given: ['hosts'], want: ['rc-service dnsmasq reload'] },
    { name: 'leases and hosts', reason: 'one reload covers both files', given: ['dhcp-hosts', 'hosts'], want: ['rc-service dnsmasq reload'] },
    { name: 'dnsmasq.conf with the leases', reason: 'SIGHUP never re-reads the main file; a restart re-reads all', given: ['dhcp-hosts', 'dnsmasq-conf'], want: ['rc-service dnsmasq restart'] },
    { name: 'Caddyfile and ruleset', reason: 'firewall before the proxy', given: ['caddyfile', 'nftables'], want: ['rc-service nftables reload', 'rc-service caddy reload'] },
    { name: 'the nftables service config', reason: 'enable_forwarding is applied on reload', given: ['nftables-service'], want: ['rc-service nftables reload'] },
  ]
  it.each(cases)('$name ($reason)', ({ given, want }) => {
    expect(serviceCommandsFor(given).map((c) => c.argv.join(' '))).toEqual(want)
  })

  it('changedFiles picks exactly the files whose hash differs from the appliance', () => {
    const files = renderApplianceFiles(resolve())
    const observed = Object.fromEntries(files.map((f) => [f.id, f.hash]))
    expect(changedFiles(files, observed)).toEqual([])
    expect(changedFiles(files, { ...observed, caddyfile: contentHash('old') }).map((f) => f.id)).toEqual(['caddyfile'])
    expect(changedFiles(files, {}).map((f) => f.id)).toEqual(APPLIANCE_FILES.map((f) => f.id))
  })
})

describe('describeFileChanges', () => {
  it('gives nothing for identical files', () => {
    const f = filesOf(resolve())
    expect(describeFileChanges(f, { ...f })).toEqual([])
  })

  it('adding an app changes exactly its lease, its name and its route (other apps keep their addresses)', () => {
    const before = resolve()
    const grafana = app('whoami')
    grafana.metadata.name = 'grafana'
    grafana.spec.expose = [{ port: 3000, tls: 'internal' }]
    const previous = Object.fromEntries(before.apps.map((a) => [a.name, a.ip]))
    const after = resolve([...homelab.apps, grafana], edge, previous)
    const ip = after.apps.find((a) => a.name === 'grafana')!.ip
    expect(after.apps.filter((a) => a.name !== 'grafana')).toEqual(before.apps)
    expect(describeFileChanges(filesOf(before), filesOf(after))).toEqual([
      `dnsmasq: + dhcp-host grafana ${ip}`,
      'dnsmasq: + name grafana 10.10.0.1',
      `caddy: + route grafana.home.arpa → ${ip}:3000`,
    ])
    expect(serviceCommandsFor(changedFiles(renderApplianceFiles(after), Object.fromEntries(renderApplianceFiles(before).map((f) => [f.id, f.hash]))).map((f) => f.id)).map((c) => c.argv.join(' '))).toEqual([
      'rc-service dnsmasq reload',
      'rc-service caddy reload',
    ])
  })

  it('describes moved leases, changed routes, upstreams, forwards and tls modes item by item', () => {
    const before = filesOf(resolve())
    const appliance = clone(edge)
    appliance.spec.dns.upstream = ['1.1.1.1', '8.8.8.8']
    appliance.spec.nat.portForwards = [{ port: 2222, protocol: 'tcp', to: '10.10.0.20:2022' }]
    const apps = homelab.apps.map(clone)
    const hello = apps.find((a) => a.metadata.name === 'hello-web')!
    hello.spec.network.ip = '10.10.0.21/24'
    apps.find((a) => a.metadata.name === 'whoami')!.spec.expose[0].tls = 'acme'
    const after = filesOf(resolveApplianceNetwork(appliance, apps, { owner: OWNER }))
    expect(describeFileChanges(before, after)).toEqual([
      'nftables: ~ forward tcp/2222: 10.10.0.20:22 → 10.10.0.20:2022',
      'nftables: - forward udp/27015 → 10.10.0.20:27015',
      'dnsmasq: - server=9.9.9.9',
      'dnsmasq: + server=8.8.8.8',
      'dnsmasq: ~ dhcp-host hello-web: 10.10.0.20 → 10.10.0.21',
      'caddy: ~ route hello-web.home.arpa: 10.10.0.20:80 (http only) → 10.10.0.21:80 (http only)',
      'caddy: ~ route whoami.home.arpa: ' + resolve().routes.find((r) => r.app === 'whoami')!.ip + ':80 → ' + resolve().routes.find((r) => r.app === 'whoami')!.ip + ':80 (acme)',
    ])
  })

  it('describes a first push as additions, a hand-edited comment as formatting, and never prints a file whole', () => {
    const after = filesOf(resolve())
    const first = describeFileChanges({}, after)
    expect(first).toContain('nftables: + masquerade (oifname $WAN ip saddr $LAN_NET)')
    expect(first).toContain('caddy: + option email ops@example.org')
    expect(first.every((l) => !l.includes('\n'))).toBe(true)
    expect(describeFileChanges({ ...after, caddyfile: `# edited by hand\n${after.caddyfile}` }, after)).toEqual(['caddy: ~ caddyfile (formatting only)'])
    expect(describeFileChanges({ ...after, 'dhcp-hosts': after['dhcp-hosts'].replace(/^02:[0-9A-F:]{14}/, '02:00:00:00:00:01') }, after)[0]).toMatch(/^dnsmasq: ~ dhcp-host hello-web: 10\.10\.0\.20 \(MAC 02:00:00:00:00:01 → MAC 02:[0-9A-F:]{14}\)$/)
  })
})
