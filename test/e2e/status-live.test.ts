/**
 * Status you can trust (issue 9, point 5), through the real CLI against the simulator over
 * HTTPS and SSH: `get apps` observes live with one `/cluster/resources` read, shows the app's
 * address, and marks a guest stopped or deleted through the Proxmox API behind Proximity's back
 * (and after `sandbox reset`) as stale instead of repeating the last recorded status.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

/** Its http health check on the port compose publishes: the one port the address gives a URL for. */
const httpHealth = (yaml: string): string => yaml.replace('    tcp: {port: 80}', '    http: {port: 80, path: /}')

/** An App on the plain bridge with a static address and an http health check on its published port. */
const staticApp = (name: string, ip: string): string =>
  httpHealth(appYaml(name)).replace('  health:', ['  network:', '    bridge: vmbr0', `    ip: ${ip}/24`, '    gateway: 10.20.0.1', '  health:'].join('\n'))

/** The table row of `name`, split into cells (three spaces or more separate columns). */
const row = (table: string, name: string): Record<string, string> => {
  const lines = table.trimEnd().split('\n')
  const header = lines[0].split(/\s{3,}/)
  const cells = (lines.find((l) => l.startsWith(`${name} `)) ?? '').split(/\s{3,}/)
  return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']))
}

describe('get apps against a real target', () => {
  let sim: RunningSimulator
  let pve: PveHttpClient
  let work: { dir: string; cleanup: () => Promise<void> }
  let target: string[]
  const vmidOf = (name: string): number => sim.guests().find((g) => g.config.hostname === name)!.vmid
  beforeAll(async () => {
    sim = await startSim()
    pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    work = await tempDir()
    const cluster = await writeClusterManifest(work.dir, sim)
    await mkdir(join(work.dir, 'apps'))
    await writeFile(join(work.dir, 'apps', 'web.yaml'), staticApp('web', '10.20.0.50'))
    await writeFile(join(work.dir, 'apps', 'api.yaml'), staticApp('api', '10.20.0.51'))
    await writeFile(join(work.dir, 'apps', 'dyn.yaml'), httpHealth(appYaml('dyn')))
    target = ['-f', cluster, '-f', join(work.dir, 'apps')]
    const r = await runCli(['apply', ...target], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await pve?.close()
    await sim?.stop()
    await work?.cleanup()
  })

  it('observes live with one snapshot read and shows state, address and when the status was observed', async () => {
    sim.log.clear()
    const r = await runCli(['get', 'apps', ...target], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    // the snapshot only: the DHCP app's address was recorded by apply (its guest reported it then)
    expect(sim.log.entries().map((e) => `${e.method} ${e.path}`)).toEqual(['GET /cluster/resources'])
    const web = row(r.stdout, 'web')
    expect(web).toMatchObject({ READY: 'True', STATUS: 'Succeeded', STATE: 'running', VMID: String(vmidOf('web')), ADDRESS: '10.20.0.50 http://10.20.0.50:80' })
    expect(web.OBSERVED).toMatch(/^\d+s$/)
    expect(row(r.stdout, 'dyn').ADDRESS).toMatch(/^(\d+\.\d+\.\d+\.\d+) http:\/\/\1:80$/)
  })

  it('-o wide adds the revision and shows the address a DHCP guest reported', async () => {
    sim.log.clear()
    const r = await runCli(['get', 'apps', '-o', 'wide', ...target], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(sim.log.entries().map((e) => `${e.method} ${e.path}`)).toEqual(['GET /cluster/resources'])
    const nics = await pve.lxcInterfaces('pve', vmidOf('dyn'))
    expect(row(r.stdout, 'dyn').ADDRESS).toBe(`${nics.find((n) => n.name === 'eth0')?.inet?.split('/')[0]} http://${nics.find((n) => n.name === 'eth0')?.inet?.split('/')[0]}:80`)
    const dyn = row(r.stdout, 'dyn')
    expect(dyn.ADDRESS).toMatch(/^(\d+\.\d+\.\d+\.\d+) http:\/\/\1:80$/)
    expect(dyn.REVISION).not.toBe('')
  })

  it('without a target it shows the recorded status and says it was not observed live', async () => {
    sim.log.clear()
    const r = await runCli(['get', 'apps'], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(sim.log.entries()).toEqual([])
    expect(r.stderr).toContain('notice: not observed live')
    // the files of the last apply still give the addresses
    expect(row(r.stdout, 'web')).toMatchObject({ READY: 'True', STATE: '<unknown>', ADDRESS: '10.20.0.50 http://10.20.0.50:80' })
    expect(row(r.stdout, 'dyn').ADDRESS).toMatch(/^(\d+\.\d+\.\d+\.\d+) http:\/\/\1:80$/)
  })

  it('shows the recorded status with the reason when the live read fails', async () => {
    const id = sim.faults.add({ method: 'GET', route: '/cluster/resources', action: { type: 'error', status: 403, message: 'Permission check failed (/, Sys.Audit)' } })
    try {
      const r = await runCli(['get', 'apps', ...target], { cwd: work.dir })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^notice: not observed live \(.*Permission check failed.*\); showing the status last recorded$/m)
      expect(row(r.stdout, 'web')).toMatchObject({ READY: 'True', STATE: '<unknown>' })
    } finally {
      sim.faults.remove(id)
    }
  })

  it('marks a guest stopped through the API as stale, in the table, -o json and describe', async () => {
    const vmid = vmidOf('web')
    const upid = await pve.stopLxc('pve', vmid)
    await pve.waitTask('pve', upid)
    const r = await runCli(['get', 'apps', ...target], { cwd: work.dir })
    expect(row(r.stdout, 'web')).toMatchObject({ READY: 'Unknown', STATUS: `Stale: guest ${vmid} is stopped, recorded running`, STATE: 'stopped' })
    expect(row(r.stdout, 'api')).toMatchObject({ READY: 'True', STATE: 'running' })
    const json = JSON.parse((await runCli(['get', 'apps', 'web', '-o', 'json', ...target], { cwd: work.dir })).stdout) as { observation: Record<string, unknown> }
    expect(json.observation).toMatchObject({ live: { state: 'stopped', node: 'pve', vmid }, stale: expect.stringContaining('is stopped'), address: { ip: '10.20.0.50', urls: ['http://10.20.0.50:80'] } })
    const d = await runCli(['describe', 'app', 'web', ...target], { cwd: work.dir })
    expect(d.stdout).toMatch(/^Observed: +\S+ \(\d+s ago\), stale: guest \d+ is stopped/m)
    expect(d.stdout).toMatch(/^Live State: +stopped on pve \(read \d+s ago from \/cluster\/resources\)$/m)
    expect(d.stdout).toMatch(/^IP: +10\.20\.0\.50$/m)
    // --no-refresh reads no cluster and shows what was recorded
    sim.log.clear()
    const stored = await runCli(['get', 'apps', '--no-refresh', ...target], { cwd: work.dir })
    expect(sim.log.entries()).toEqual([])
    expect(row(stored.stdout, 'web')).toMatchObject({ READY: 'True', STATE: '<unknown>' })
  })

  it('marks a guest deleted through the API as gone', async () => {
    const vmid = vmidOf('web')
    const upid = await pve.deleteLxc('pve', vmid, { purge: true })
    await pve.waitTask('pve', upid)
    const r = await runCli(['get', 'apps', ...target], { cwd: work.dir })
    expect(row(r.stdout, 'web')).toMatchObject({ READY: 'Unknown', STATE: 'gone', STATUS: `Stale: guest ${vmid} is gone (deleted or sandbox reset)` })
  })
})

describe('get apps on the sandbox', () => {
  it('shows the guests gone after sandbox reset', async () => {
    const work = await tempDir()
    try {
      await mkdir(join(work.dir, 'apps'))
      await writeFile(join(work.dir, 'apps', 'web.yaml'), appYaml('web'))
      expect((await runCli(['apply', '-f', 'apps'], { cwd: work.dir })).code).toBe(0)
      const before = await runCli(['get', 'apps'], { cwd: work.dir })
      expect(row(before.stdout, 'web')).toMatchObject({ READY: 'True', STATE: 'running' })
      expect((await runCli(['sandbox', 'reset'], { cwd: work.dir })).code).toBe(0)
      const after = await runCli(['get', 'apps'], { cwd: work.dir })
      expect(after.code, after.stderr).toBe(0)
      expect(row(after.stdout, 'web')).toMatchObject({ READY: 'Unknown', STATE: 'gone' })
      expect(row(after.stdout, 'web').STATUS).toMatch(/^Stale: guest \d+ is gone/)
    } finally {
      await work.cleanup()
    }
  })
})
