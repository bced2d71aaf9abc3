/**
 * The appliance through the real CLI against the real simulator: examples/homelab with whoami
 * moved onto the LAN converges, and `diagnose appliance` reports services, leases, DNS, routes,
 * NAT and the files as read back from the appliance — which the real binaries accept — and no
 * secret.
 */
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/types.js'
import { caddyValidate, dnsmasqTest, nftCheck } from '../appliance/binaries.js'
import { copyExample, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

interface Diagnosis {
  services: { name: string; started: boolean; log: string[] }[]
  leases: { mac: string; ip: string; name: string }[]
  dns: { name: string; expected: string; answer: string | null; ok: boolean }[]
  routes: { host: string; upstream: string; healthy: boolean }[]
  nat: { forwarding: boolean; rulesLoaded: boolean; outbound: { ok: boolean } }
  files: Record<string, string | null>
}

describe('proximity diagnose appliance', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let stateDir: string

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const homelab = await copyExample('homelab', work.dir)
    const whoami = join(homelab, 'whoami.yaml')
    const text = await readFile(whoami, 'utf8')
    await writeFile(whoami, text.replace(/  network:\n(    .*\n)+/, '  network:\n    appliance: edge\n  expose:\n    - port: 80\n      tls: none\n'))
    stateDir = join(work.dir, 'state')
    args = ['-f', homelab, '-f', clusterDir, '--state-dir', stateDir]
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('apply converges the appliance and the app on its LAN; a second plan shows no change', async () => {
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const plan = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
  })

  it('a second apply reads no guest config and runs no node command (apps and appliance steady)', async () => {
    sim.log.clear()
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    const routes = sim.log.entries().map((e) => `${e.method} ${e.route}`)
    expect(routes.filter((x) => !/ \/pools(\/|$)/.test(x)).filter((x) => x.includes('/config') || x.startsWith('SSH') || !x.startsWith('GET'))).toEqual([]) // the lease's own pool requests aside
  })

  it('reports services, leases, DNS answers, routes, NAT and the files read back; exit 0', async () => {
    const r = await runCli(['diagnose', 'appliance', 'edge', '-o', 'json', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const d = JSON.parse(r.stdout) as Diagnosis
    expect(d.services.map((s) => [s.name, s.started])).toEqual([['nftables', true], ['dnsmasq', true], ['caddy', true]])
    expect(d.leases.map((l) => l.name)).toEqual(['whoami'])
    expect(d.dns.find((x) => x.name === 'whoami.home.arpa')).toMatchObject({ expected: '10.10.0.1', answer: '10.10.0.1', ok: true })
    expect(d.routes).toEqual([expect.objectContaining({ host: 'whoami.home.arpa', upstream: `${d.leases[0].ip}:80`, healthy: true })])
    expect(d.nat).toMatchObject({ forwarding: true, rulesLoaded: true, outbound: { ok: true } })
    expect(Object.keys(d.files).sort()).toEqual(['/etc/caddy/Caddyfile', '/etc/conf.d/nftables', '/etc/dnsmasq.conf', '/etc/nftables.nft', '/etc/proximity/dhcp-hosts', '/etc/proximity/hosts'])
    expect(d.files['/etc/proximity/dhcp-hosts']).toContain(`,${d.leases[0].ip},whoami`)
    // What really runs passes the real binaries.
    const dir = await mkdtemp(join(tmpdir(), 'pxa-diag-'))
    try {
      await writeFile(join(dir, 'dnsmasq.conf'), d.files['/etc/dnsmasq.conf']!)
      expect((await dnsmasqTest(join(dir, 'dnsmasq.conf'))).code).toBe(0)
      await writeFile(join(dir, 'Caddyfile'), d.files['/etc/caddy/Caddyfile']!)
      expect((await caddyValidate(join(dir, 'Caddyfile'), join(dir, 'caddy'))).code).toBe(0)
      await writeFile(join(dir, 'rules.nft'), d.files['/etc/nftables.nft']!)
      expect((await nftCheck(join(dir, 'rules.nft'))).code).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the text report has every section; no output holds the API token or the SSH key', async () => {
    const r = await runCli(['diagnose', 'appliance', 'edge', ...args], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    for (const section of ['Services:', 'Log of dnsmasq', 'Leases:', 'DNS:', 'Proxy routes:', 'NAT:', 'Files']) expect(r.stdout).toContain(section)
    const json = await runCli(['diagnose', 'appliance', 'edge', '-o', 'json', ...args], { cwd: work.dir })
    for (const text of [r.stdout, r.stderr, json.stdout]) {
      expect(text).not.toContain(sim.tokenSecret)
      expect(text).not.toContain(sim.ssh.privateKey.split('\n')[1])
    }
  })

  it('an unknown appliance is a clear error, exit 1', async () => {
    const r = await runCli(['diagnose', 'appliance', 'nope', ...args], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no Appliance named "nope"')
  })
})
