import { afterEach, describe, expect, it } from 'vitest'
import { composeArgs } from '../../controllers/app/docker.js'
import { parsePs } from '../../controllers/app/health.js'
import { KEEP_PRE_UPDATE_SNAPSHOTS, PRE_UPDATE_PREFIX } from '../../controllers/app/safe-update.js'
import type { AppManifest, AppSpec } from '../../src/model/types.js'
import { getCondition } from '../../src/runtime/conditions.js'
import { app, mutating, startHarness, type Harness } from './helpers.js'

const HEALTH_TIMEOUT_MS = 60_000

/** An app whose one service has a healthcheck, so an `unhealthy` image is seen as such. */
function web(image: string, over: Partial<AppSpec> = {}): AppManifest {
  return app('web', {
    source: { compose: { services: { web: { image, ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } },
    update: { strategy: 'snapshot', rollback: true, healthTimeout: HEALTH_TIMEOUT_MS },
    ...over,
  })
}

async function images(h: Harness, vmid: number): Promise<string[]> {
  const r = await h.shells.forNode('pve').pctExec(vmid, [...composeArgs('web'), 'ps', '-a', '--format', 'json'])
  return parsePs(r.stdout).map((e) => String((e as { Image?: string }).Image))
}

const snapshots = async (h: Harness, vmid: number): Promise<string[]> => (await h.pve.listSnapshots('pve', vmid)).map((s) => s.name).filter((n) => n !== 'current')

describe('App: safe updates (snapshot first, roll back on failure)', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('an image that never turns healthy is rolled back to the pre-update snapshot, once, and a later good change proceeds', async () => {
    h = await startHarness()
    const good = web('nginx:1.27-alpine')
    h.setApps([good])
    expect((await h.applyUntilReady(good)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)

    // 1. The bad image: plan says what will happen; a snapshot is taken before anything changes.
    const bad = web('example/unhealthy:1')
    h.setApps([bad])
    h.ctx.revision = 'main@sha1:0badc0ffee0000000000000000000000000000aa'
    h.sim.log.clear()
    const first = await h.reconcile(bad)
    expect(first.actions[0]).toMatchObject({ type: 'update', summary: expect.stringContaining('update (snapshot first, rolls back on failure)') })
    const calls = mutating(h.sim)
    const snap = calls.indexOf('POST /nodes/{node}/lxc/{vmid}/snapshot')
    expect(snap).toBeGreaterThanOrEqual(0)
    expect(calls.findIndex((c) => c.startsWith('SSH'))).toBeGreaterThan(snap)
    expect(await snapshots(h, vmid)).toEqual(['proximity-pre-0badc0ffee00'])
    expect(first.result).toMatchObject({ ready: false, reason: 'Progressing' })

    // 2. Not healthy within update.healthTimeout: rolled back, old image running, condition set.
    h.advance(HEALTH_TIMEOUT_MS + 1)
    h.sim.log.clear()
    const rolled = await h.reconcile(bad)
    expect(mutating(h.sim)).toContain('POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback')
    expect(rolled.result).toMatchObject({ ready: false, reason: 'UpdateRolledBack' })
    expect(await images(h, vmid)).toEqual(['nginx:1.27-alpine'])
    expect(h.sim.guests().find((g) => g.vmid === vmid)?.status).toBe('running')
    const st = h.store.getStatus('App/web')
    const cond = getCondition(st?.conditions ?? [], 'UpdateRolledBack')
    expect(cond).toMatchObject({ status: 'True', reason: 'HealthCheckFailed' })
    expect(cond?.message).toContain('main@sha1:0badc0ffee00')
    expect(cond?.message).toContain('not healthy 1m after deploy')
    expect(getCondition(st?.conditions ?? [], 'Healthy')).toMatchObject({ status: 'True' })
    expect(st?.extra).toMatchObject({ rolledBack: { specHash: bad.specHash } })

    // 3. The next two resyncs: no snapshot, no rollback, no deploy — nothing mutating at all.
    for (let i = 0; i < 2; i++) {
      h.sim.log.clear()
      const again = await h.reconcile(bad)
      expect(again.actions[0]).toMatchObject({ type: 'noop', detail: { step: 'rolled-back' } })
      expect(again.result).toMatchObject({ ready: false, reason: 'UpdateRolledBack' })
      expect(mutating(h.sim)).toEqual([])
    }
    expect(await snapshots(h, vmid)).toEqual(['proximity-pre-0badc0ffee00'])

    // 4. A different, good change proceeds: snapshot, deploy, healthy, Ready; the mark is cleared.
    const next = web('nginx:1.28-alpine')
    h.setApps([next])
    h.ctx.revision = 'main@sha1:900d000000000000000000000000000000000001'
    const ok = await h.applyUntilReady(next)
    expect(ok.result?.ready).toBe(true)
    expect(await images(h, vmid)).toEqual(['nginx:1.28-alpine'])
    expect(await snapshots(h, vmid)).toEqual(['proximity-pre-0badc0ffee00', 'proximity-pre-900d00000000'])
    const after = h.store.getStatus('App/web')
    expect(getCondition(after?.conditions ?? [], 'UpdateRolledBack')).toMatchObject({ status: 'False', reason: 'UpdateSucceeded' })
    expect(after?.extra?.rolledBack).toBeUndefined()
    expect(after?.extra?.pendingUpdate).toBeUndefined()
  })

  it(`keeps the last ${KEEP_PRE_UPDATE_SNAPSHOTS} pre-update snapshots and deletes older ones (only ours)`, async () => {
    h = await startHarness()
    let cur = web('nginx:1.27-alpine')
    h.setApps([cur])
    expect((await h.applyUntilReady(cur)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    const upid = await h.pve.createSnapshot('pve', vmid, 'mine', 'a snapshot of the operator')
    await h.pve.waitTask('pve', upid)
    for (let i = 1; i <= 5; i++) {
      cur = web('nginx:1.27-alpine', { env: { GREETING: `hello ${i}` } })
      h.setApps([cur])
      h.ctx.revision = `main@sha1:${String(i).repeat(40)}`
      expect((await h.applyUntilReady(cur)).result?.ready).toBe(true)
      h.advance(1000) // distinct snapshot times
      await new Promise((r) => setTimeout(r, 1100))
    }
    const names = await snapshots(h, vmid)
    expect(names.filter((n) => n.startsWith(PRE_UPDATE_PREFIX)).sort()).toEqual(['proximity-pre-333333333333', 'proximity-pre-444444444444', 'proximity-pre-555555555555'])
    expect(names).toContain('mine')
  })

  it('update.strategy backup: a vzdump before the update, restored over the same guest when the update fails', async () => {
    h = await startHarness()
    const update = { strategy: 'backup' as const, rollback: true, healthTimeout: HEALTH_TIMEOUT_MS }
    const good = web('nginx:1.27-alpine', { update })
    h.setApps([good])
    expect((await h.applyUntilReady(good)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    const bad = web('example/unhealthy:1', { update })
    h.setApps([bad])
    const first = await h.reconcile(bad)
    expect(first.actions[0]?.summary).toContain('update (backup first, rolls back on failure)')
    const backups = await h.pve.storageContent('pve', 'local', { content: 'backup', vmid })
    expect(backups).toHaveLength(1)
    expect(backups[0]?.notes).toContain('"trigger":"pre-update"')
    expect(await snapshots(h, vmid)).toEqual([])

    h.advance(HEALTH_TIMEOUT_MS + 1)
    h.sim.log.clear()
    const rolled = await h.reconcile(bad)
    expect(rolled.result).toMatchObject({ ready: false, reason: 'UpdateRolledBack' })
    const calls = mutating(h.sim)
    expect(calls).toContain('POST /nodes/{node}/lxc')
    expect(calls).not.toContain('DELETE /nodes/{node}/lxc/{vmid}')
    expect(await images(h, vmid)).toEqual(['nginx:1.27-alpine'])
    const g = h.sim.guests().find((x) => x.vmid === vmid)
    expect(g?.status).toBe('running')
    expect(String(g?.config.features)).toContain('keyctl=1')
    expect(getCondition(h.store.getStatus('App/web')?.conditions ?? [], 'UpdateRolledBack')?.message).toContain(`backup ${backups[0]?.volid}`)
    h.sim.log.clear()
    expect((await h.reconcile(bad)).actions[0]).toMatchObject({ type: 'noop', detail: { step: 'rolled-back' } })
    // At most a health probe of the previous version (SSH); no backup, restore or deploy.
    expect(mutating(h.sim).filter((c) => !c.startsWith('SSH'))).toEqual([])
  })

  it('update.strategy none takes no snapshot and a failing update stalls as before', async () => {
    h = await startHarness()
    const good = web('nginx:1.27-alpine', { update: { strategy: 'none', rollback: true, healthTimeout: HEALTH_TIMEOUT_MS } })
    h.setApps([good])
    expect((await h.applyUntilReady(good)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    const bad = web('example/unhealthy:1', { update: { strategy: 'none', rollback: true, healthTimeout: HEALTH_TIMEOUT_MS } })
    h.setApps([bad])
    const first = await h.reconcile(bad)
    expect(first.actions[0]?.summary).toContain('no snapshot')
    h.advance(HEALTH_TIMEOUT_MS + 1)
    const failed = await h.reconcile(bad)
    expect(failed.error?.name).toBe('StalledError')
    expect(await snapshots(h, vmid)).toEqual([])
  })
})
