import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SOURCE_KEY } from '../../src/engine/source-status.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, startSim, tempDir, writeApps, writeClusterManifest } from '../e2e/helpers.js'
import { idle, openTestEngine } from './helpers.js'

const routes = (sim: RunningSimulator): string[] => sim.log.entries().map((e) => `${e.method} ${e.route}`)

describe('engine', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(n: number): Promise<{ sim: RunningSimulator; dir: string; cluster: string; apps: string }> {
    const sim = await startSim()
    cleanups.push(() => sim.stop())
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const cluster = await writeClusterManifest(t.dir, sim)
    const apps = await writeApps(t.dir, n)
    return { sim, dir: t.dir, cluster, apps }
  }

  it('plan then apply of one run take one snapshot and observe a changed object once', async () => {
    const { sim, dir, cluster, apps } = await setup(2)
    const first = await openTestEngine(dir, [cluster, apps])
    const created = await first.apply()
    await first.close()
    expect([...created.outcomes.values()].map((o) => o.result)).toEqual(['Ready', 'Ready'])
    await writeFile(join(apps, 'apps.yaml'), [appYaml('app-000', { memory: 512 }), appYaml('app-001')].join('---\n'))
    const engine = await openTestEngine(dir, [cluster, apps])
    cleanups.push(() => engine.close())
    sim.log.clear()
    const computed = await engine.plan()
    const applied = await engine.apply({}, { plan: computed })
    expect(applied.keys).toEqual(['App/app-000'])
    expect(applied.outcomes.get('App/app-000')?.result).toBe('Ready')
    const log = routes(sim)
    expect(log.filter((r) => r === 'GET /cluster/resources')).toHaveLength(1)
    expect(log.filter((r) => r === 'GET /nodes/{node}/lxc/{vmid}/config')).toHaveLength(1)
    expect(sim.log.mutating().map((e) => `${e.method} ${e.route}`)).toEqual(['PUT /nodes/{node}/lxc/{vmid}/config'])
  })

  it('keeps the last good set when a reload is invalid, records SourceInvalid, and recovers', async () => {
    const { dir, cluster, apps } = await setup(1)
    const engine = await openTestEngine(dir, [cluster, apps])
    cleanups.push(() => engine.close())
    const before = engine.current()
    await writeFile(join(apps, 'broken.yaml'), appYaml('db').replace('cores: 1', 'cores: many'))
    expect(await engine.reload()).toBe(false)
    expect(engine.current()).toBe(before)
    const st = engine.store.getStatus(SOURCE_KEY)!
    expect(st.conditions.find((c) => c.type === 'SourceInvalid')).toMatchObject({ status: 'True', reason: 'ValidationFailed' })
    expect(st.conditions.find((c) => c.type === 'SourceInvalid')?.message).toMatch(/broken\.yaml:\d+:\d+: App\/db: spec\.resources\.cores: .*still reconciling local@sha256:/)
    expect(engine.store.listEvents({ key: SOURCE_KEY }).map((e) => e.reason)).toEqual(['SourceInvalid'])
    await writeFile(join(apps, 'broken.yaml'), appYaml('db'))
    expect(await engine.reload()).toBe(true)
    expect(engine.current().set.apps.map((a) => a.metadata.name).sort()).toEqual(['app-000', 'db'])
    const fixed = engine.store.getStatus(SOURCE_KEY)!
    expect(fixed.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True'])
    expect(engine.store.listEvents({ key: SOURCE_KEY }).map((e) => e.reason)).toEqual(['SourceInvalid', 'SourceValid'])
  })

  it('a daemon resync of converged apps costs one snapshot read, no write and no SSH session', async () => {
    const { sim, dir, cluster, apps } = await setup(4)
    const first = await openTestEngine(dir, [cluster, apps])
    await first.apply()
    await first.close()
    const engine = await openTestEngine(dir, [cluster, apps])
    cleanups.push(() => engine.close())
    const stop = new AbortController()
    const running = engine.run(stop.signal, { resyncMs: 3_600_000 })
    cleanups.push(async () => {
      stop.abort()
      await running
    })
    await idle(engine)
    sim.log.clear()
    await engine.resyncNow()
    await idle(engine)
    expect(routes(sim)).toEqual(['GET /cluster/resources'])
    expect(engine.shells.sessionsOpened()).toBe(0)
  })

  it('with prune, a manifest removed from a watched folder has its guest deleted without waiting for a resync', async () => {
    const { sim, dir, cluster, apps } = await setup(2)
    const first = await openTestEngine(dir, [cluster, apps])
    const created = await first.apply()
    await first.close()
    const gone = created.outcomes.get('App/app-001')
    expect(gone?.result).toBe('Ready')
    const vmid = (): number | undefined => sim.guests().find((g) => /"name":"app-001"/.test(String(g.config.description ?? '')))?.vmid
    expect(vmid()).toBeDefined()
    const engine = await openTestEngine(dir, [cluster, apps], { watch: true })
    cleanups.push(() => engine.close())
    const stop = new AbortController()
    const running = engine.run(stop.signal, { resyncMs: 3_600_000, prune: true })
    cleanups.push(async () => {
      stop.abort()
      await running
    })
    await idle(engine)
    await writeFile(join(apps, 'apps.yaml'), appYaml('app-000'))
    for (let i = 0; i < 1000 && (vmid() !== undefined || engine.store.getStatus('App/app-001') !== undefined); i++) await new Promise((r) => setTimeout(r, 20))
    expect(vmid()).toBeUndefined()
    expect(engine.store.getStatus('App/app-001')).toBeUndefined()
    expect(engine.store.listEvents({ key: 'App/app-001' }).at(-1)).toMatchObject({ reason: 'Deleted' })
  })
})
