/**
 * The BackupPolicy controller through the runtime's own attempt machinery against the simulator
 * (real proxmox-api client, real apps converged by the App controller): the job it creates, the
 * backup status it records (last backup with its revision, BackupOverdue with the expected time,
 * the job's last run, uncovered apps), a steady pass that reads one backup listing and writes
 * nothing, and a job with our id that is not ours, which it refuses to touch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backupPolicyController } from '../../controllers/backup-policy/index.js'
import { backupJobId } from '../../controllers/backup-policy/desired.js'
import { planBackupNow, runBackupNow } from '../../controllers/backup-policy/operations.js'
import { normalizeVmids } from '../../controllers/backup-policy/plan.js'
import { parseBackupNotes } from '../../src/model/backup-notes.js'
import type { AppManifest, BackupPolicyManifest } from '../../src/model/types.js'
import { createAttempter, type AttemptReport } from '../../src/runtime/attempt.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

const DAY = 24 * 3600_000

function labelled(name: string, labels: Record<string, string>): AppManifest {
  const a = app(name)
  return { ...a, metadata: { name, labels } }
}

function policy(name: string, over: Partial<BackupPolicyManifest['spec']> = {}): BackupPolicyManifest {
  return {
    apiVersion: 'proximity/v1alpha1',
    kind: 'BackupPolicy',
    metadata: { name },
    spec: { schedule: '*-*-* 03:00', selector: { matchLabels: { backup: 'nightly' } }, mode: 'snapshot', compress: 'zstd', retention: { keepLast: 3 }, includeAppliance: false, suspend: false, ...over },
    source: { file: `${name}.yaml`, line: 1, column: 1 },
    specHash: `h-${name}`,
  }
}

let h: Harness
let attempt: (key: string) => Promise<AttemptReport>
const web = labelled('web', { backup: 'nightly' })
const db = labelled('db', {})

beforeAll(async () => {
  h = await startHarness()
  for (const a of [web, db]) expect((await h.applyUntilReady(a)).result?.ready).toBe(true)
  h.setApps([web, db])
  const attempter = createAttempter({
    registry: new Map([['BackupPolicy', backupPolicyController]]),
    store: h.store,
    manifests: () => h.ctx.set,
    clock: { now: () => h.ctx.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
    logger: { error: () => {}, warn: () => {}, info: () => {} },
  })
  attempt = async (key) => {
    await h.ctx.refreshSnapshot()
    return attempter.attempt(key, { ctx: h.ctx, orphans: new Map(), prune: false, force: true })
  }
}, 120_000)
afterAll(async () => {
  await h?.close()
})

const vmidOf = (name: string): number => h.store.getStatus(`App/${name}`)!.inventory!.vmid as number
const condition = (key: string, type: string) => h.store.getStatus(key)?.conditions.find((c) => c.type === type)

describe('BackupPolicy controller', () => {
  it('creates the job for the selected app; apps are not overdue before a run was due for them', async () => {
    h.advance(-2 * DAY) // the policy starts covering the apps two days ago
    h.ctx.set.backupPolicies = [policy('nightly')]
    const r = await attempt('BackupPolicy/nightly')
    expect(r.outcome, r.message).toBe('success')
    const job = (await h.pve.listBackupJobs()).find((j) => j.id === backupJobId(OWNER, 'nightly'))!
    expect(job).toMatchObject({ schedule: '*-*-* 03:00', storage: 'local', mode: 'snapshot' })
    expect(normalizeVmids(job.vmid)).toEqual([vmidOf('web')])
    const st = h.store.getStatus('BackupPolicy/nightly')!
    expect(st.inventory).toMatchObject({ jobId: backupJobId(OWNER, 'nightly') })
    expect(st.extra).toMatchObject({ uncovered: ['App/db'] })
    expect(condition('BackupPolicy/nightly', 'BackupOverdue')).toMatchObject({ status: 'False', reason: 'NoRunDue' })
  })

  it('two days later without a backup: BackupOverdue names the app and the expected time', async () => {
    h.advance(2 * DAY)
    const r = await attempt('BackupPolicy/nightly')
    expect(r.outcome, r.message).toBe('success')
    const c = condition('BackupPolicy/nightly', 'BackupOverdue')!
    expect(c.status).toBe('True')
    const now = new Date(h.ctx.now() - 3 * 3600_000)
    const expected = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 3, 0, 0))
    if (expected.getTime() > now.getTime()) expected.setUTCDate(expected.getUTCDate() - 1)
    expect(c.message).toContain('App/web')
    expect(c.message).toContain(expected.toISOString().replace('.000Z', 'Z'))
    expect((h.store.getStatus('BackupPolicy/nightly')!.extra as { lastRun?: { state: string } }).lastRun?.state).toBe('missing')
  })

  it('after a backup the app has its last backup (volid, size, revision) and is no longer overdue', async () => {
    const deps = { pve: h.pve, store: h.store, set: h.ctx.set, cluster: h.ctx.cluster.spec, semaphores: h.ctx.semaphores, revision: 'unused' }
    const done = await runBackupNow(deps, planBackupNow(deps, 'web', await h.pve.clusterGuests()), { wait: true, pollMs: 10 })
    expect(done.volid).toMatch(new RegExp(`^local:backup/vzdump-lxc-${vmidOf('web')}-`))
    const r = await attempt('BackupPolicy/nightly')
    expect(r.outcome, r.message).toBe('success')
    const last = (h.store.getStatus('BackupPolicy/nightly')!.extra as { lastBackups: Record<string, { volid: string; size: number; revision?: string }> }).lastBackups
    expect(last['App/web']).toMatchObject({ volid: done.volid, revision: h.store.getStatus('App/web')!.lastAppliedRevision })
    expect(last['App/web']!.size).toBeGreaterThan(0)
    expect(condition('BackupPolicy/nightly', 'BackupOverdue')).toMatchObject({ status: 'False', reason: 'BackupCurrent' })
  })

  it("a backup made by the job gets the app, revision and images added to its notes, once", async () => {
    // What Proxmox's scheduler runs: a vzdump with the job's notes template (owner, policy, guest, vmid).
    const job = (await h.pve.listBackupJobs()).find((j) => j.id === backupJobId(OWNER, 'nightly'))!
    const node = h.sim.nodes[0]!
    // Archive names and ctime have one-second resolution: start in a later second than the manual backup.
    await new Promise((r) => setTimeout(r, 1100))
    const upid = await h.pve.vzdump(node, { vmid: vmidOf('web'), storage: 'local', mode: 'snapshot', 'notes-template': String(job['notes-template']) })
    await h.pve.waitTask(node, upid as string, { pollMs: 10 })
    const listed = async () => (await h.pve.storageContent(node, 'local', { content: 'backup', vmid: vmidOf('web') })).sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0) || (a.volid < b.volid ? 1 : -1))
    const made = (await listed()).find((c) => parseBackupNotes(c.notes)?.trigger === 'schedule')!
    expect(parseBackupNotes(made.notes)).toMatchObject({ owner: OWNER, policy: 'nightly', vmid: vmidOf('web') })
    expect(parseBackupNotes(made.notes)?.app).toBeUndefined()

    h.sim.log.clear()
    const r = await attempt('BackupPolicy/nightly')
    expect(r.outcome, r.message).toBe('success')
    expect(mutating(h.sim)).toEqual(['PUT /nodes/{node}/storage/{storage}/content/{volume}'])
    const after = (await listed()).find((c) => c.volid === made.volid)!
    const revision = h.store.getStatus('App/web')!.lastAppliedRevision
    expect(parseBackupNotes(after.notes)).toMatchObject({ owner: OWNER, policy: 'nightly', app: 'web', revision, images: ['nginx:1.27-alpine'], trigger: 'schedule' })
    const last = (h.store.getStatus('BackupPolicy/nightly')!.extra as { lastBackups: Record<string, { volid: string; revision?: string }> }).lastBackups
    expect(last['App/web']).toMatchObject({ volid: made.volid, revision })

    h.sim.log.clear()
    await attempt('BackupPolicy/nightly')
    expect(mutating(h.sim)).toEqual([])
  })

  it('a steady pass reads one backup listing besides the snapshot and changes nothing', async () => {
    await attempt('BackupPolicy/nightly')
    h.sim.log.clear()
    const r = await attempt('BackupPolicy/nightly')
    expect(r.outcome).toBe('success')
    expect(r.actions?.map((a) => a.type)).toEqual(['noop'])
    expect(mutating(h.sim)).toEqual([])
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources', 'GET /nodes/{node}/storage/{storage}/content'])
  })

  it('a job someone else made under our id is refused (Stalled) and left exactly as it was', async () => {
    const id = backupJobId(OWNER, 'weekly')
    await h.pve.createBackupJob({ id, schedule: 'sun 05:00', vmid: String(vmidOf('db')), storage: 'local', comment: 'by hand' })
    h.ctx.set.backupPolicies = [policy('nightly'), policy('weekly', { schedule: 'sat 02:00' })]
    h.sim.log.clear()
    const r = await attempt('BackupPolicy/weekly')
    expect(r.outcome).toBe('stalled')
    expect(r.reason).toBe('BackupJobConflict')
    expect(mutating(h.sim)).toEqual([])
    expect((await h.pve.listBackupJobs()).find((j) => j.id === id)).toMatchObject({ schedule: 'sun 05:00', comment: 'by hand' })
  })
})
