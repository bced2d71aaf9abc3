/**
 * `proximity serve` through the real CLI against the simulator over HTTPS and SSH: converging a
 * watched set, applying a change written into a watched file, refusing an invalid file (the
 * last good set stays; located errors in the log and in `proximity get`), putting back drift
 * made by another client on resync, leaving a foreign guest alone, releasing the lease.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createPveClient } from '../../src/providers/proxmox/index.js'
import { openStateStore } from '../../src/store/state-store.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, clusterChanges, runCli, startSim, tempDir, testHomeDir, writeClusterManifest } from './helpers.js'
import { createTokenAuthority } from '../../src/api/tokens.js'
import { startServe, until, type ServeRun } from './serve-helpers.js'

const FOREIGN = 150

interface AppRow {
  name: string
  updatedAt?: string
  conditions: { type: string; status: string; reason?: string }[]
  inventory?: { vmid?: number }
}

describe('proximity serve', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(apps: string[]): Promise<{ sim: RunningSimulator; dir: string; appsFile: string; args: string[]; stateDir: string }> {
    const sim = await startSim()
    cleanups.push(() => sim.stop())
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const cluster = await writeClusterManifest(t.dir, sim)
    const appsDir = join(t.dir, 'apps')
    await mkdir(appsDir)
    const appsFile = join(appsDir, 'apps.yaml')
    await writeFile(appsFile, apps.join('---\n'))
    const stateDir = join(t.dir, 'state')
    return { sim, dir: t.dir, appsFile, stateDir, args: ['-f', cluster, '-f', appsDir, '--state-dir', stateDir, '--listen', '127.0.0.1:0'] }
  }

  async function getApps(dir: string, stateDir: string): Promise<AppRow[]> {
    const r = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: dir })
    return r.code === 0 && r.stdout ? (JSON.parse(r.stdout) as { items: AppRow[] }).items : []
  }

  const allReady = (rows: AppRow[], n: number): boolean =>
    rows.length === n && rows.every((a) => a.conditions.some((c) => c.type === 'Ready' && c.status === 'True'))

  function serve(args: string[], cwd: string): ServeRun {
    const s = startServe(args, { cwd })
    cleanups.push(async () => {
      await s.stop()
    })
    return s
  }

  it('converges, applies a watched change with one PUT, puts back drift on resync (not while suspended), lets plan run, leaves a foreign guest alone', async () => {
    const { sim, dir, appsFile, args, stateDir } = await setup([appYaml('app-000'), appYaml('app-001')])
    sim.seedGuest({ vmid: FOREIGN, config: { hostname: 'foreign', memory: 512, tags: 'proximity', description: 'made by hand\n' }, status: 'running' })
    const foreignBefore = JSON.stringify(sim.guests().find((g) => g.vmid === FOREIGN))
    const s = serve(args, dir)
    const url = await s.url()
    expect(s.records()[0]).toMatchObject({ msg: expect.stringMatching(/^serving Cluster\/sim https:\/\/127\.0\.0\.1:\d+; manifests cluster, apps \(watched\); state .*state; listening on http:\/\/127\.0\.0\.1:\d+$/) })
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const rows = await until(s.clock, async () => {
      const r = await getApps(dir, stateDir)
      return allReady(r, 2) && r
    }, { what: 'two Ready apps' })
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    const vmid = (name: string): number => rows.find((a) => a.name === name)!.inventory!.vmid!

    // the status API: a token is required; a viewer reads the apps; /metrics shows their readiness
    expect((await fetch(`${url}/api/v1/apps`)).status).toBe(401)
    const tokens = createTokenAuthority({ configDir: join(testHomeDir(), '.config', 'proximity') })
    const { token } = await tokens.issue({ role: 'viewer', ttlMs: 600_000 })
    const auth = { headers: { Authorization: `Bearer ${token}` } }
    const api = (await (await fetch(`${url}/api/v1/apps`, auth)).json()) as { items: { metadata: { name: string }; status: { ready: boolean; inventory: { vmid: number } } }[] }
    expect(api.items.map((o) => [o.metadata.name, o.status.ready, o.status.inventory.vmid])).toEqual([
      ['app-000', true, vmid('app-000')],
      ['app-001', true, vmid('app-001')],
    ])
    const metricsText = await (await fetch(`${url}/metrics`, auth)).text()
    expect(metricsText).toContain('proximity_object_ready{kind="App",name="app-000"} 1')
    expect(metricsText).toContain(`proximity_app_info{name="app-001",id="lxc/${vmid('app-001')}"`)
    expect(metricsText).toMatch(/proximity_pve_requests_total\{method="GET",route="\/cluster\/resources",status="200"\} [1-9]/)

    // a memory change written into the watched file: exactly one config PUT
    sim.log.clear()
    await writeFile(appsFile, [appYaml('app-000', { memory: 512 }), appYaml('app-001')].join('---\n'))
    await until(s.clock, () => sim.guests().find((g) => g.vmid === vmid('app-000'))?.config.memory === 512, { what: 'the memory change', stepMs: 10 })
    await until(s.clock, () => s.records().some((r) => r.msg === 'manifests changed'), { what: 'the revision log line', stepMs: 10 })
    expect(clusterChanges(sim).map((e) => `${e.method} ${e.route}`)).toEqual(['PUT /nodes/{node}/lxc/{vmid}/config'])

    // drift made by another client over the API is put back by the next resync (5 min ± 10 %)
    const other = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    cleanups.push(() => other.close())
    const node = sim.guests().find((g) => g.vmid === vmid('app-001'))!.node
    await other.updateLxcConfig(node, vmid('app-001'), { memory: 1024 })
    sim.log.clear()
    await s.clock.advance(330_000)
    await until(s.clock, () => sim.guests().find((g) => g.vmid === vmid('app-001'))?.config.memory === 256, { what: 'drift put back', stepMs: 10 })
    expect(clusterChanges(sim).map((e) => `${e.method} ${e.path}`)).toEqual([`PUT /nodes/${node}/lxc/${vmid('app-001')}/config`])

    // `plan` works while serve runs (it needs no lease) and sees the converged cluster
    const plan = await runCli(['plan', '--detailed-exitcode', ...args.slice(0, 6)], { cwd: dir })
    expect(plan.code, plan.stderr).toBe(0)

    // suspend: true pauses an object: its drift is left alone on resync
    await writeFile(appsFile, [appYaml('app-000', { memory: 512 }), `${appYaml('app-001')}  suspend: true\n`].join('---\n'))
    await until(s.clock, async () => (await getApps(dir, stateDir)).find((a) => a.name === 'app-001')?.conditions.some((c) => c.reason === 'Suspended'), { what: 'app-001 Suspended', stepMs: 10 })
    await other.updateLxcConfig(node, vmid('app-001'), { memory: 1024 })
    const updatedAt = async (): Promise<string | undefined> => (await getApps(dir, stateDir)).find((a) => a.name === 'app-001')?.updatedAt
    const before = await updatedAt()
    sim.log.clear()
    await s.clock.advance(330_000)
    await until(s.clock, async () => (await updatedAt()) !== before, { what: 'the next resync of app-001', stepMs: 10 })
    expect(sim.log.mutating()).toEqual([])
    expect(sim.guests().find((g) => g.vmid === vmid('app-001'))?.config.memory).toBe(1024)

    // a foreign guest is never touched
    expect(JSON.stringify(sim.guests().find((g) => g.vmid === FOREIGN))).toBe(foreignBefore)

    const r = await s.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(s.records().at(-1)?.msg).toBe('stopped: state flushed, lease released')
    // the lease is free at once
    const store = await openStateStore(stateDir)
    cleanups.push(() => store.close())
    const lease = await store.acquireLease('test', 10_000, { waitMs: 0 })
    await store.releaseLease(lease)
    expect(r.stderr).not.toContain(sim.tokenSecret)
  })

  it('never applies an invalid set, shows the located error in the log and in get, and resumes when it is fixed', async () => {
    const { sim, dir, appsFile, args, stateDir } = await setup([appYaml('app-000')])
    const s = serve(args, dir)
    await until(s.clock, async () => allReady(await getApps(dir, stateDir), 1), { what: 'a Ready app' })
    sim.log.clear()
    // a valid change and a broken file land together: nothing of it is applied
    await writeFile(appsFile, appYaml('app-000', { memory: 512 }))
    const broken = join(appsFile, '..', 'db.yaml')
    await writeFile(broken, appYaml('db').replace('cores: 1', 'cores: lots'))
    const rejected = await until(s.clock, () => s.records().find((r) => r.msg.startsWith('manifest rejected: ')), { what: 'the rejection log line', stepMs: 10 })
    expect(rejected.msg).toMatch(/^manifest rejected: .*db\.yaml:\d+:\d+: App\/db: spec\.resources\.cores: /)
    await s.clock.advance(400_000) // a resync with the last good set changes nothing either
    const sources = await runCli(['get', 'sources', '--state-dir', stateDir], { cwd: dir })
    expect(sources.stdout).toMatch(/manifests\s+False\s+SourceInvalid: .*db\.yaml:\d+:\d+/)
    expect(sources.stdout).toMatch(/Source\/manifests: 1 error, nothing of this change was applied:\n {2}.*db\.yaml:\d+:\d+: App\/db: spec\.resources\.cores: /)
    const apps = await runCli(['get', 'apps', '--state-dir', stateDir], { cwd: dir })
    expect(apps.stderr).toMatch(/^warning: the manifests were rejected: .*db\.yaml/m)
    expect(sim.log.mutating()).toEqual([])

    // fixed: the whole set is applied (the memory change, and the new app)
    await writeFile(broken, appYaml('db'))
    await until(s.clock, async () => allReady(await getApps(dir, stateDir), 2), { what: 'db Ready after the fix' })
    const app0 = (await getApps(dir, stateDir)).find((a) => a.name === 'app-000')!
    expect(sim.guests().find((g) => g.vmid === app0.inventory!.vmid)?.config.memory).toBe(512)
    const fixed = await runCli(['get', 'sources', '-o', 'json', '--state-dir', stateDir], { cwd: dir })
    expect((JSON.parse(fixed.stdout) as { items: AppRow[] }).items[0].conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True'])
    expect((await s.stop()).code).toBe(0)
  })
})
