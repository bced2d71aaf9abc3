/**
 * Restore drills of a BackupPolicy (spec.verify) through the runtime's attempt machinery against
 * the simulator (real proxmox-api client over HTTPS, real SSH): a due drill starts in the
 * background and the policy collects it on a later attempt; a good backup is verified and a
 * backup whose app never turns healthy is reported; no scratch guest is left; the apps' own
 * guests are untouched; a served run is not repeated and costs nothing in steady state; a scratch
 * guest left by a killed drill is removed, a foreign one is not. Only the clock is moved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appController } from '../../controllers/app/index.js'
import { backupPolicyController } from '../../controllers/backup-policy/index.js'
import { activeDrillRun } from '../../controllers/backup-policy/drills.js'
import { DRILL_TAG } from '../../controllers/restore/drill.js'
import { renderNotesTemplate } from '../../src/model/backup-notes.js'
import type { AppManifest, BackupPolicyManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import { createAttempter, type AttemptReport } from '../../src/runtime/attempt.js'
import { createReconciler } from '../../src/runtime/reconciler.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

const DAY = 24 * 3600_000
const KEY = 'BackupPolicy/drills'

const policy: BackupPolicyManifest = {
  apiVersion: 'proximity/v1alpha1',
  kind: 'BackupPolicy',
  metadata: { name: 'drills' },
  spec: {
    schedule: '*-*-* 03:00',
    selector: { apps: ['web', 'sick'] },
    mode: 'snapshot',
    compress: 'zstd',
    retention: { keepLast: 3 },
    includeAppliance: false,
    suspend: false,
    verify: { schedule: '*-*-* 04:00', suspend: false, healthTimeout: 4000 },
  },
  source: { file: 'drills.yaml', line: 1, column: 1 },
  specHash: 'h-drills',
}

let h: Harness
let attempt: () => Promise<AttemptReport>
const web = app('web')
const sick: AppManifest = app('sick', {
  source: { compose: { services: { web: { image: 'example/unhealthy:1', ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } },
  // The compose health check: the image's container never reports healthy.
  health: undefined,
})
const scratch = () => h.sim.guests().filter((g) => (g.tags ?? '').includes(DRILL_TAG))
const changes = (r: AttemptReport): PlanFieldChange[] => r.actions![0]!.changes as PlanFieldChange[]
const vmidOf = (name: string): number => h.store.getStatus(`App/${name}`)!.inventory!.vmid as number
const condition = (key: string) => h.store.getStatus(key)?.conditions.find((c) => c.type === 'RestoreVerified')
const appGuests = () => h.sim.guests().filter((g) => g.vmid === vmidOf('web') || g.vmid === vmidOf('sick'))

async function backupOf(name: string): Promise<string> {
  const vmid = vmidOf(name)
  const upid = await h.pve.vzdump('pve', { vmid: String(vmid), storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': renderNotesTemplate({ owner: OWNER, app: name, trigger: 'manual' }) })
  if (upid !== 'OK') await h.pve.waitTask('pve', upid, { pollMs: 10 })
  return (await h.pve.storageContent('pve', 'local', { content: 'backup', vmid }))[0]?.volid as string
}

beforeAll(async () => {
  h = await startHarness()
  expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
  await h.reconcile(sick) // its guest exists; the app itself never turns healthy
  h.setApps([web, sick])
  const attempter = createAttempter({
    registry: new Map([['BackupPolicy', backupPolicyController]]),
    store: h.store,
    manifests: () => h.ctx.set,
    clock: { now: () => h.ctx.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
    logger: { error: () => {}, warn: () => {}, info: () => {} },
  })
  attempt = async () => {
    await h.ctx.refreshSnapshot()
    return attempter.attempt(KEY, { ctx: h.ctx, orphans: new Map(), prune: false, force: true })
  }
}, 120_000)
afterAll(async () => {
  await h?.close()
})

describe('BackupPolicy restore drills', () => {
  let volids: Record<string, string>

  it('verify set two days ago: plan shows its fields and no drill is due before its first scheduled time', async () => {
    volids = { web: await backupOf('web'), sick: await backupOf('sick') }
    h.advance(-2 * DAY)
    h.ctx.set.backupPolicies = [policy]
    const r = await attempt()
    expect(r.outcome, r.message).toBe('success')
    const fields = r.actions![0]!.changes.map((c) => c.path)
    expect(fields).toEqual(expect.arrayContaining(['verify.schedule', 'verify.suspend', 'verify.healthTimeout']))
    expect(fields).not.toContain('verify')
    expect(r.result?.ready).toBe(true)
    expect(condition(KEY)).toMatchObject({ status: 'Unknown', reason: 'NotVerifiedYet' })
    expect(scratch()).toEqual([])
  })

  it('once due, the drill runs in the background; good backup verified, unhealthy one reported, no scratch guest left, apps untouched', async () => {
    const before = JSON.stringify(appGuests())
    h.advance(2 * DAY)
    const first = await attempt()
    expect(first.outcome, first.message).toBe('success')
    expect(changes(first).find((c) => c.key === 'drill')?.after).toBe('restore drill of App/sick, App/web')
    expect(first.result).toMatchObject({ ready: false, reason: 'RestoreDrillRunning' })
    expect(first.requeueAfterMs).toBeGreaterThan(0)
    // The attempt did not wait for the drill: it goes on without holding a worker.
    expect(activeDrillRun(KEY)?.done).toBe(false)
    // The attempt returned while the drill goes on; the policy collects it on a later attempt.
    let seen = false
    let last = first
    for (let i = 0; i < 120 && !last.result?.ready; i++) {
      await new Promise((r) => setTimeout(r, 250))
      if (scratch().length > 0) seen = true
      last = await attempt()
      expect(last.outcome, last.message).toBe('success')
    }
    expect(seen, 'a scratch guest existed during the drill').toBe(true)
    expect(last.result?.ready, last.result?.message).toBe(true)
    expect(condition('App/web')).toMatchObject({ status: 'True', reason: 'Verified', message: expect.stringContaining(volids.web!) })
    expect(condition('App/sick')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: expect.stringContaining(volids.sick!) })
    expect(condition(KEY)).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: expect.stringContaining('App/sick') })
    expect(h.store.listEvents({ key: 'App/web' }).some((e) => e.reason === 'RestoreVerified')).toBe(true)
    expect(scratch()).toEqual([])
    expect(JSON.stringify(appGuests())).toBe(before)
    // The App controller keeps the condition it did not set.
    expect((await h.reconcile(web)).result?.ready).toBe(true)
    expect(condition('App/web')).toMatchObject({ status: 'True', reason: 'Verified' })
  }, 90_000)

  it('the served run is not repeated: the next pass reads the snapshot and one listing, and writes nothing', async () => {
    await attempt()
    h.sim.log.clear()
    const r = await attempt()
    expect(r.result?.ready).toBe(true)
    expect(r.actions?.map((a) => a.type)).toEqual(['noop'])
    expect(mutating(h.sim)).toEqual([])
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources', 'GET /nodes/{node}/storage/{storage}/content'])
  })

  it('a run this process does not know (the daemon was killed mid-run) is reported as interrupted, not run again', async () => {
    const st = h.store.getStatus(KEY)!
    const verify = (st.extra as { verify: { lastScheduledAt: string } }).verify
    const running = { scheduledAt: verify.lastScheduledAt, startedAt: new Date(h.ctx.now()).toISOString(), apps: ['App/web'] }
    h.store.putStatus({ ...st, extra: { ...st.extra, verify: { ...verify, running } } })
    const r = await attempt()
    expect(r.result?.ready, r.result?.message).toBe(true)
    expect(changes(r).find((c) => c.key === 'drill')).toBeUndefined()
    expect(condition('App/web')).toMatchObject({ status: 'False', reason: 'DrillInterrupted' })
    expect((h.store.getStatus(KEY)!.extra as { verify: { running?: unknown } }).verify.running).toBeUndefined()
  })

  it('a long drill holds no worker: with one worker, an App is reconciled while the drill runs, and the run waits for it', async () => {
    h.advance(DAY) // the next scheduled drill is due
    const reconciler = createReconciler({
      controllers: [appController, backupPolicyController],
      store: h.store,
      manifests: () => h.ctx.set,
      context: async () => {
        await h.ctx.refreshSnapshot()
        return h.ctx
      },
      clock: { now: () => h.ctx.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
      logger: { error: () => {}, warn: () => {}, info: () => {} },
      options: { workers: 1 },
    })
    const order: string[] = []
    let drillRunningWhenAppDone: boolean | undefined
    const outcomes = await reconciler.runOnce([KEY, 'App/web'], {
      onOutcome: (o) => {
        order.push(`${o.key}:${o.result}`)
        if (o.key === 'App/web') drillRunningWhenAppDone = activeDrillRun(KEY)?.done === false
      },
    })
    expect(order).toEqual(['App/web:Ready', `${KEY}:Ready`])
    expect(drillRunningWhenAppDone).toBe(true)
    expect(outcomes.get(KEY)?.changed.join('; ')).toMatch(/restore drill: .*App\/web verified/)
    expect(scratch()).toEqual([])
  }, 60_000)

  it('removing verify: plan shows it, the policy says drills stopped, the Apps keep their last result', async () => {
    const without: BackupPolicyManifest = { ...policy, spec: { ...policy.spec, verify: undefined }, specHash: 'h-drills-2' }
    h.ctx.set.backupPolicies = [without]
    const r = await attempt()
    expect(changes(r).map((c) => [c.path, c.after])).toEqual([['verify', undefined]])
    expect(condition(KEY)).toMatchObject({ status: 'Unknown', reason: 'NotConfigured' })
    expect(condition('App/web')?.type).toBe('RestoreVerified')
    h.sim.log.clear()
    expect((await attempt()).actions?.map((a) => a.type)).toEqual(['noop'])
    expect(mutating(h.sim)).toEqual([])
    h.ctx.set.backupPolicies = [policy]
  })

  it('a scratch guest left by a killed drill is planned for removal and removed; a foreign one is left alone', async () => {
    h.sim.seedGuest({ vmid: 180, config: { hostname: 'drill-web', tags: DRILL_TAG, description: `proximity:drill {"owner":"${OWNER}","app":"web","volid":"x"}` } })
    h.sim.seedGuest({ vmid: 181, config: { hostname: 'drill-x', tags: DRILL_TAG, description: 'proximity:drill {"owner":"someone-else","app":"x","volid":"y"}' } })
    h.sim.log.clear()
    const r = await attempt()
    expect(r.outcome, r.message).toBe('success')
    expect(changes(r).filter((c) => c.key === 'scratch').map((c) => c.before)).toEqual(['scratch guest 180 (drill of App/web)'])
    expect(r.result?.changed?.join('; ')).toMatch(/removed scratch guest 180/)
    expect(scratch().map((g) => g.vmid)).toEqual([181])
    expect(mutating(h.sim).every((m) => m.includes('/lxc/{vmid}'))).toBe(true)
  })
})
