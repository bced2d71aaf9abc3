import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPLIANCE_CHECK_INTERVAL_MS } from '../../controllers/appliance/desired.js'
import { appMacAddress } from '../../controllers/appliance/render/index.js'
import type { ApplianceManifest, ApplianceSpec } from '../../src/model/types.js'
import { parseMarker } from '../../src/model/marker.js'
import { caddyValidate, dnsmasqTest, dnsmasqTestDataFiles, nftCheck } from '../appliance/binaries.js'
import { app, OWNER, startHarness, type Harness, type Outcome } from './helpers.js'

/** A normalised Appliance manifest, as the loader hands it over. */
function appliance(name: string, over: Partial<ApplianceSpec> = {}): ApplianceManifest {
  const spec: ApplianceSpec = {
    wan: { bridge: 'vmbr0', ip: 'dhcp' },
    lan: { bridge: 'vmbr1', subnet: '10.44.0.0/24', gateway: '10.44.0.1', dhcpRange: { start: '10.44.0.100', end: '10.44.0.199' } },
    dns: { domain: 'home.arpa', upstream: ['1.1.1.1'], records: [] },
    proxy: { tls: 'internal' },
    nat: { masquerade: true, portForwards: [] },
    resources: { cores: 1, memory: 256, swap: 0, disk: 2 },
    ...over,
  }
  const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex')
  return { apiVersion: 'proximity/v1alpha1', kind: 'Appliance', metadata: { name }, spec, source: { file: `${name}.yaml`, line: 1, column: 1 }, specHash }
}

async function applianceUntilReady(h: Harness, a: ApplianceManifest, max = 20): Promise<Outcome> {
  let last: Outcome | undefined
  for (let i = 0; i < max; i++) {
    last = await h.reconcileAppliance(a)
    if (last.result?.ready) return last
    if (last.error && last.error.name === 'StalledError') return last
    await new Promise((r) => setTimeout(r, 30))
  }
  return last as Outcome
}

const guestOf = (h: Harness, kind: string, name: string) => {
  const g = h.sim.guests().find((x) => parseMarker(x.description)?.name === name && parseMarker(x.description)?.kind === kind && parseMarker(x.description)?.owner === OWNER)
  if (!g) throw new Error(`no ${kind} guest ${name}`)
  return g
}

/** What the appliance did over SSH since `from` (audit reasons). */
const sshSince = (h: Harness, from: number): string[] => h.audit.slice(from).filter((e) => e.action.startsWith('ssh ')).map((e) => `${e.action}: ${e.reason}`)

describe('Appliance convergence on the sandbox: LAN bridge, guest, files, services, health, apps joining', () => {
  let h: Harness
  const edge = appliance('edge')
  const web = app('web', { network: { ip: 'dhcp', appliance: 'edge' }, expose: [{ port: 8080, tls: 'none' }] })
  const db = app('db', { network: { ip: '10.44.0.20/24', appliance: 'edge' } })
  beforeAll(async () => {
    h = await startHarness({ nodes: 1 })
    h.setAppliances([edge])
    h.setApps([web, db])
  })
  afterAll(async () => {
    await h?.close()
  })

  it('an App on the LAN waits until its Appliance is Ready, without touching anything', async () => {
    h.sim.log.clear()
    const out = await h.reconcile(web)
    expect(out.error?.name).toBe('WaitingError')
    expect(out.error?.message).toMatch(/^waiting for Appliance\/edge to be ready/)
    expect(h.sim.log.mutating()).toEqual([])
  })

  it('converges: our marked bridge on the node, an Alpine guest with WAN and LAN NICs, services up, conditions True', async () => {
    const out = await applianceUntilReady(h, edge)
    expect(out.error?.message).toBeUndefined()
    expect(out.result?.ready).toBe(true)
    const ifaces = await h.pve.nodeNetworks(guestOf(h, 'Appliance', 'edge').node)
    const vmbr1 = ifaces.find((i) => i.iface === 'vmbr1')
    expect(vmbr1).toMatchObject({ type: 'bridge', active: 1 })
    expect(String(vmbr1?.comments)).toContain(`Appliance/edge owner=${OWNER};`)
    expect(ifaces.filter((i) => !i.active)).toEqual([])
    const g = guestOf(h, 'Appliance', 'edge')
    expect(g.status).toBe('running')
    expect(String(g.config.net0)).toMatch(/^name=eth0,bridge=vmbr0,.*ip=dhcp/)
    expect(String(g.config.net1)).toMatch(/^name=eth1,bridge=vmbr1,.*ip=10\.44\.0\.1\/24/)
    const st = h.store.getStatus('Appliance/edge')!
    const conds = Object.fromEntries(st.conditions.map((c) => [c.type, c.status]))
    expect(conds).toMatchObject({ Ready: 'True', DnsReady: 'True', DhcpReady: 'True', ProxyReady: 'True', NatReady: 'True' })
  })

  it('Apps join the LAN: LAN bridge, deterministic MAC, DHCP or static with the appliance as gateway and DNS', async () => {
    for (const a of [web, db]) expect((await h.applyUntilReady(a)).result?.ready).toBe(true)
    const w = guestOf(h, 'App', 'web')
    expect(String(w.config.net0)).toContain('bridge=vmbr1')
    expect(String(w.config.net0)).toContain(`hwaddr=${appMacAddress(OWNER, 'web')}`)
    expect(String(w.config.net0)).toContain('ip=dhcp')
    const d = guestOf(h, 'App', 'db')
    expect(String(d.config.net0)).toContain('ip=10.44.0.20/24')
    expect(String(d.config.net0)).toContain('gw=10.44.0.1')
    expect(d.config.nameserver).toBe('10.44.0.1')
    // Each App's status records its address: web its DHCP reservation on the LAN and the URL of
    // its exposed port through the proxy, db its static address.
    const lease = (h.store.getStatus('Appliance/edge')!.extra as { addresses: Record<string, string> }).addresses.web
    expect(lease).toMatch(/^10\.44\.0\.\d+$/)
    expect(h.store.getStatus('App/web')?.extra).toMatchObject({ ip: lease, urls: ['http://web.home.arpa'] })
    expect(h.store.getStatus('App/db')?.extra).toMatchObject({ ip: '10.44.0.20', urls: [] })
    // At its next full check the appliance sees web's lease and reaches it through the proxy.
    h.advance(APPLIANCE_CHECK_INTERVAL_MS)
    const out = await h.reconcileAppliance(edge)
    expect(out.result?.ready).toBe(true)
    const st = h.store.getStatus('Appliance/edge')!
    expect(st.conditions.find((c) => c.type === 'Reachable')).toMatchObject({ status: 'True' })
    const apps = (st.extra as { apps: { name: string; leased?: boolean; reachable?: boolean }[] }).apps
    expect(apps.find((x) => x.name === 'web')).toMatchObject({ leased: true, reachable: true })
  })

  it('a second apply changes nothing: no file pushed, no service reloaded, no API write; steady state costs no SSH', async () => {
    await h.reconcileAppliance(edge)
    h.sim.log.clear()
    const steady = await h.reconcileAppliance(edge)
    expect(steady.result?.ready).toBe(true)
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources'])
    // Even a full check (files read back, health probed) pushes and reloads nothing.
    h.advance(APPLIANCE_CHECK_INTERVAL_MS)
    const from = h.audit.length
    h.sim.log.clear()
    const out = await h.reconcileAppliance(edge)
    expect(out.result?.ready).toBe(true)
    expect(out.actions.map((a) => a.type)).toEqual(['noop'])
    const ssh = sshSince(h, from)
    expect(ssh.filter((l) => l.startsWith('ssh pct push'))).toEqual([])
    expect(ssh.filter((l) => /: (reload|restart|start) /.test(l))).toEqual([])
    expect(h.sim.log.entries().filter((e) => e.method !== 'GET' && e.method !== 'SSH')).toEqual([])
  })

  it('adding an app changes exactly its lease, its name and its route (plan lines, pushes, reloads)', async () => {
    const wiki = app('wiki', { network: { ip: 'dhcp', appliance: 'edge' }, expose: [{ port: 3000, tls: 'internal' }] })
    h.setApps([web, db, wiki])
    const from = h.audit.length
    const out = await h.reconcileAppliance(edge)
    expect(out.error?.message).toBeUndefined()
    const ip = (h.store.getStatus('Appliance/edge')!.extra as { addresses: Record<string, string> }).addresses.wiki
    expect(out.actions[0].type).toBe('update')
    expect(out.actions[0].changes.map((c) => `${c.path}: ${String(c.after)}`)).toEqual([
      `dnsmasq: + dhcp-host wiki ${ip}`,
      'dnsmasq: + name wiki 10.44.0.1',
      `caddy: + route wiki.home.arpa → ${ip}:3000`,
    ])
    const ssh = sshSince(h, from)
    expect(ssh.filter((l) => l.startsWith('ssh pct push')).map((l) => l.replace('ssh pct push: write ', ''))).toEqual(['/etc/proximity/dhcp-hosts.new', '/etc/proximity/hosts.new', '/etc/caddy/Caddyfile.new'])
    expect(ssh.filter((l) => /: (reload|restart|start) /.test(l))).toEqual(['ssh pct exec: reload dnsmasq', 'ssh pct exec: reload caddy'])
    // Existing leases did not move.
    expect((h.store.getStatus('Appliance/edge')!.extra as { addresses: Record<string, string> }).addresses).toMatchObject({ db: '10.44.0.20' })
  })

  it('the files read back from the appliance over the node SSH pass the real binaries', async () => {
    const g = guestOf(h, 'Appliance', 'edge')
    const shell = h.shells.forNode(g.node)
    const cat = async (p: string): Promise<string> => {
      const r = await shell.pctExec(g.vmid, ['cat', p])
      expect(r.code, p).toBe(0)
      return r.stdout
    }
    const dir = await mkdtemp(join(tmpdir(), 'pxa-readback-'))
    try {
      const conf = join(dir, 'dnsmasq.conf')
      await writeFile(conf, (await cat('/etc/dnsmasq.conf')).replace(/^(addn-hosts|dhcp-hostsfile)=.*$/gm, ''))
      expect((await dnsmasqTest(conf)).code).toBe(0)
      const data = await dnsmasqTestDataFiles(await cat('/etc/proximity/dhcp-hosts'), await cat('/etc/proximity/hosts'), join(dir, 'data.conf'))
      expect(data.code, data.stderr).toBe(0)
      const caddyfile = join(dir, 'Caddyfile')
      await writeFile(caddyfile, await cat('/etc/caddy/Caddyfile'))
      const cv = await caddyValidate(caddyfile, join(dir, 'caddy'))
      expect(cv.code, cv.stderr).toBe(0)
      const nft = join(dir, 'rules.nft')
      await writeFile(nft, await cat('/etc/nftables.nft'))
      const nv = await nftCheck(nft)
      expect(nv.code, nv.stderr).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a reload that fails keeps the old config running, restores the old file and reports it as a condition', async () => {
    const g = guestOf(h, 'Appliance', 'edge')
    const shell = h.shells.forNode(g.node)
    const before = (await shell.pctExec(g.vmid, ['cat', '/etc/caddy/Caddyfile'])).stdout
    const blog = app('blog', { network: { ip: 'dhcp', appliance: 'edge' }, expose: [{ port: 2368, tls: 'none' }] })
    h.setApps([...h.ctx.set.apps, blog])
    h.sim.faults.failServiceReload(g.vmid, 'caddy', 'Error: loading new config: http app module: start: listening on :80: bind: address already in use')
    const failed = await h.reconcileAppliance(edge)
    expect(failed.error?.name).toBe('StalledError')
    expect(failed.error?.message).toContain('address already in use')
    expect(failed.error?.message).toContain('the previous config was restored')
    const proxy = h.store.getStatus('Appliance/edge')!.conditions.find((c) => c.type === 'ProxyReady')
    expect(proxy).toMatchObject({ status: 'False', reason: 'ReloadFailed' })
    expect((await shell.pctExec(g.vmid, ['cat', '/etc/caddy/Caddyfile'])).stdout).toBe(before)
    const running = (await shell.pctExec(g.vmid, ['wget', '-q', '-O', '-', 'http://localhost:2019/config/'])).stdout
    expect(running).not.toContain('blog.home.arpa')
    // The fault is gone: the next attempt pushes the Caddyfile again and converges.
    const out = await applianceUntilReady(h, edge)
    expect(out.result?.ready, out.error?.message).toBe(true)
    expect((await shell.pctExec(g.vmid, ['wget', '-q', '-O', '-', 'http://localhost:2019/config/'])).stdout).toContain('blog.home.arpa')
    expect(h.store.getStatus('Appliance/edge')!.conditions.find((c) => c.type === 'ProxyReady')).toMatchObject({ status: 'True' })
  })

  it('never applies network changes someone else queued on the node: it waits and says so', async () => {
    const node = guestOf(h, 'Appliance', 'edge').node
    await h.pve.updateNetwork(node, 'vmbr0', { type: 'bridge', comments: 'edited by hand, not applied yet' })
    const other = appliance('edge2', { lan: { bridge: 'vmbr2', subnet: '10.45.0.0/24', gateway: '10.45.0.1', dhcpRange: { start: '10.45.0.100', end: '10.45.0.199' } } })
    h.sim.log.clear()
    const out = await h.reconcileAppliance(other)
    expect(out.error?.name).toBe('WaitingError')
    expect((out.error as Error & { reason?: string }).reason).toBe('ForeignNetworkChanges')
    expect(out.error?.message).toContain(`node ${node} has network changes Proximity did not make`)
    expect(h.sim.log.entries().filter((e) => e.method !== 'GET')).toEqual([])
    await h.pve.revertNetwork(node)
    h.setAppliances([edge])
  })
})
