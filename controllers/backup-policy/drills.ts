/**
 * Running restore drills (issue 11 point 6): a run of one policy's drills goes on in the
 * background of this process, so the attempt that starts it returns at once and no worker is
 * held for the minutes a restore and a health wait take; the policy's next attempts (requeued
 * every {@link DRILL_POLL_MS}) collect the results. Drills of one run go one after another, each
 * holding a `restore` slot of its node. Results land in the App's status (`RestoreVerified`,
 * an event) and in the policy's memory.
 *
 * A run killed with the process leaves its scratch guest behind, tagged `proximity-drill`: the
 * next drill or the next reconcile of a BackupPolicy removes it (controllers/restore/drill.ts),
 * and the policy reports the run as interrupted.
 */
import { hasManagedTag } from '../../src/model/marker.js'
import { backupEntries } from '../../src/model/vzdump.js'
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext, PassContext } from '../../src/runtime/controller.js'
import { setCondition } from '../../src/runtime/conditions.js'
import { isoTime } from '../../src/runtime/clock.js'
import { redactObjectSecrets } from '../../src/runtime/redact-values.js'
import { createStatusRecorder } from '../../src/runtime/status.js'
import { redactSecrets } from '../../src/store/redact.js'
import { runRestoreDrill } from '../restore/drill.js'
import { chooseBackup } from '../restore/select.js'
import { read } from '../shared/call.js'
import { policyFor } from './operations.js'
import { restoreVerifiedCondition, type DrillRecord, type DrillRun } from './verify.js'

export { formatDuration } from '../app/apply.js'

/** How often a policy looks again while its drills run. */
export const DRILL_POLL_MS = 5_000

/** One app's drill in a run. */
export interface DrillJob {
  key: string
  app: AppManifest
  volid: string
  node: string
  healthTimeoutMs?: number
}

interface ActiveRun {
  run: DrillRun
  results: Record<string, DrillRecord>
  done: boolean
}

const active = new Map<string, ActiveRun>()

/** The run of `policyKey` going on (or finished, not collected yet) in this process. */
export function activeDrillRun(policyKey: string): Readonly<ActiveRun> | undefined {
  return active.get(policyKey)
}

/** Forgets a finished run once its results are recorded. */
export function forgetDrillRun(policyKey: string): void {
  if (active.get(policyKey)?.done) active.delete(policyKey)
}

/**
 * Drills one app now: restores `job.volid` into a scratch guest (holding a `restore` slot of the
 * node), records the outcome on the App's status and as an event, and returns it. Never throws
 * for a failed drill; the scratch guest is gone afterwards whatever happened.
 */
export async function drillApp(ctx: ControllerContext, job: DrillJob, trigger: DrillRecord['trigger']): Promise<DrillRecord> {
  const r = await ctx.semaphores.node(job.node, 'restore', () =>
    runRestoreDrill(ctx, job.app, { node: job.node, volid: job.volid, ...(job.healthTimeoutMs !== undefined ? { healthTimeoutMs: job.healthTimeoutMs } : {}) }),
  )
  const message = await redactObjectSecrets(ctx.secrets, job.key, r.detail)
  const rec: DrillRecord = { ok: r.ok, reason: r.reason, volid: r.volid, at: isoTime(r.startedAt), durationMs: r.durationMs, message, trigger }
  recordAppVerified(ctx, job.key, rec)
  return rec
}

/**
 * Sets `RestoreVerified` on the App's stored status (other conditions, history and memory are
 * left as they are; the App controller keeps the condition) and records an event. A no-op when
 * the App has no status.
 */
export function recordAppVerified(ctx: Pick<ControllerContext, 'store' | 'now'>, key: string, rec: DrillRecord): void {
  const st = ctx.store.getStatus(key)
  if (!st) return
  const c = restoreVerifiedCondition({ ...rec, message: redactSecrets(rec.message) })
  const now = isoTime(ctx.now())
  ctx.store.putStatus({ ...st, conditions: setCondition(st.conditions, c, now, st.observedGeneration), updatedAt: now })
  ctx.store.addEvent({ key, type: rec.ok ? 'Normal' : 'Warning', reason: rec.ok ? 'RestoreVerified' : 'RestoreDrillFailed', message: c.message, time: now })
}

/**
 * Starts `jobs` one after another in the background under `policyKey`; `ready` records (apps
 * that could not be drilled, e.g. without a backup) are part of the run's results from the start.
 * The caller must hold no other run of that policy.
 */
export function startDrillRun(ctx: ControllerContext, policyKey: string, run: DrillRun, jobs: readonly DrillJob[], ready: Record<string, DrillRecord> = {}): void {
  const state: ActiveRun = { run, results: { ...ready }, done: false }
  active.set(policyKey, state)
  void (async () => {
    for (const job of jobs) {
      try {
        state.results[job.key] = await drillApp(ctx, job, 'schedule')
      } catch (e) {
        // Only a store or semaphore failure gets here (drills report their own failures).
        state.results[job.key] = { ok: false, reason: 'RestoreFailed', volid: job.volid, at: isoTime(ctx.now()), durationMs: 0, message: redactSecrets((e as Error).message), trigger: 'schedule' }
      }
    }
    state.done = true
  })()
}

/** What `proximity backup verify` did for one app. */
export interface VerifyNowResult extends DrillRecord {
  app: string
}

/**
 * `proximity backup verify APP`: picks the backup (`latest` of the app, or a volid that must be a
 * backup of it), drills it now and records `RestoreVerified` on the App. Throws a short message
 * for an unknown app, an app without a guest or a backup that is not the app's (nothing is
 * created then). Not idempotent: every call restores once.
 */
export async function verifyAppNow(pass: PassContext, name: string, want: string, opts: { healthTimeoutMs?: number } = {}): Promise<VerifyNowResult> {
  const app = pass.set.apps.find((a) => a.metadata.name === name)
  if (!app) throw new Error(`no App "${name}" in the manifests`)
  const key = `App/${name}`
  const vmid = pass.store.getStatus(key)?.inventory?.vmid
  const guest = typeof vmid === 'number' ? pass.snapshot.guests.find((g) => g.vmid === vmid && hasManagedTag(g.tags)) : undefined
  if (!guest) throw new Error(`App ${name} has no guest yet; run proximity apply first`)
  const policy = policyFor(pass.set, app)
  const storage = want === 'latest' ? (policy?.spec.storage ?? pass.cluster.spec.defaults.backupStorage) : want.slice(0, want.indexOf(':'))
  const items = await read(`list backups on storage ${storage}`, () => pass.pve.storageContent(guest.node, storage, { content: 'backup' }))
  const choice = chooseBackup(backupEntries(items), want, { owner: pass.cluster.spec.owner, app: name, vmid: guest.vmid })
  const ctx: ControllerContext = Object.assign(Object.create(pass) as ControllerContext, {
    status: createStatusRecorder(),
    audit: (e: Parameters<ControllerContext['audit']>[0]) => pass.store.appendAudit({ ...e, key, revision: pass.revision }),
  })
  if (!choice.ok) {
    if (choice.reason === 'BackupNotOfApp') throw new Error(choice.message)
    const rec: DrillRecord = { ok: false, reason: 'BackupNotFound', at: isoTime(pass.now()), durationMs: 0, message: choice.message, trigger: 'manual' }
    recordAppVerified(ctx, key, rec)
    return { app: name, ...rec }
  }
  const healthTimeoutMs = opts.healthTimeoutMs ?? policy?.spec.verify?.healthTimeout
  return { app: name, ...(await drillApp(ctx, { key, app, volid: choice.entry.volid, node: guest.node, ...(healthTimeoutMs !== undefined ? { healthTimeoutMs } : {}) }, 'manual')) }
}
