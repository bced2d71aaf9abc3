/**
 * The BackupPolicy controller (DESIGN §5, issue 11): one BackupPolicy manifest → one native
 * Proxmox backup job (`/cluster/backup`), so backups run on Proxmox's scheduler even when
 * Proximity is down, plus the backup status of the apps it selects.
 *
 * - observe (./observe.ts): the selector resolved against the set's Apps/Appliances and their
 *   vmids; the job list, backup listings and task lists shared by every policy of the pass;
 * - plan (./plan.ts `planBackupJob`): create / update field by field / delete / noop; a job with
 *   our id that is not ours is refused, never modified;
 * - apply: one `POST`, `PUT` or `DELETE /cluster/backup/{id}`, then status: the job id in
 *   inventory, each app's last backup, `BackupOverdue`, the job's last run, uncovered apps;
 * - orphans/finalize: jobs whose marker names our owner and a policy that is gone; deleting one
 *   removes only the job (its backups stay);
 * - restore drills (`spec.verify`, ./verify.ts, ./verify-step.ts, ./drills.ts): on the verify
 *   calendar, the latest backup of each selected App is restored into a scratch guest in the
 *   background, health-checked and destroyed; `RestoreVerified` on each App and on the policy.
 *
 * Watches App and Appliance: when one is created, changed or deleted, the policy is queued again
 * so its vmid list follows the apps.
 */
import type { BackupPolicyManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Action, Controller, ControllerContext, DomainCondition, OrphanRecord, PassContext, Result } from '../../src/runtime/controller.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { audited, isAlreadyExists, isNotFound } from '../shared/call.js'
import { compressParam, jobPolicy, pruneBackups } from './desired.js'
import {
  forgetBackupJobs,
  observeBackupPolicy,
  passBackupJobs,
  policyKey,
  type BackupPolicyExtra,
  type BackupPolicyObservation,
  type LastBackup,
  type NotesCompletion,
  type StoredJobRun,
} from './observe.js'
import { orphanJobs, planBackupJob, type BackupJobDetail } from './plan.js'
import type { OverdueResult } from './status.js'
import { applyVerify, planVerify, type VerifyPlan } from './verify-step.js'

export { observeBackupPolicy } from './observe.js'

/** What apply needs besides the job step: the status facts observe gathered (never secrets). */
export interface BackupPolicyDetail extends BackupJobDetail {
  status: {
    digest: string
    /** True when this pass read the job list (so the job was checked now). */
    jobRead: boolean
    selected: string[]
    pending: string[]
    storage: string
    schedule: string
    overdue: Record<string, OverdueResult>
    lastBackups: Record<string, LastBackup>
    lastRun?: StoredJobRun
    uncovered: string[]
    coveredSince: Record<string, string>
    completions: NotesCompletion[]
    now: number
  }
  /** Restore drills (spec.verify). */
  verify: VerifyPlan
}

/** What finalize needs: the job id and the policy it was made for. */
export interface BackupJobOrphan {
  id: string
  policy: string
}

type PolicyAction = Action<BackupPolicyDetail, PlanFieldChange>

/**
 * Pure: the job action of planBackupJob, carrying the observed status facts, with the restore
 * drill changes (verify fields, leftover scratch guests, a due drill) added to it.
 */
export function planBackupPolicy(policy: BackupPolicyManifest, o: BackupPolicyObservation, ctx: Pick<ControllerContext, 'cluster'>): PolicyAction[] {
  const v = planVerify(policy, o.verify)
  return planJob(policy, o, ctx, v.plan).map((a) => {
    if (v.changes.length === 0) return a
    const summary = [a.summary, ...v.changes.filter((c) => c.key === 'scratch' || c.key === 'drill').map((c) => (c.key === 'drill' ? String(c.after) : `remove ${String(c.before)}`))].filter(Boolean).join('; ')
    return { ...a, type: a.type === 'noop' ? 'update' : a.type, changes: [...a.changes, ...v.changes], summary: summary || 'update restore drills' }
  })
}

function planJob(policy: BackupPolicyManifest, o: BackupPolicyObservation, ctx: Pick<ControllerContext, 'cluster'>, verify: VerifyPlan): PolicyAction[] {
  const name = policy.metadata.name
  const status: BackupPolicyDetail['status'] = {
    digest: o.digest,
    jobRead: o.jobs !== undefined,
    selected: o.desired.selection.selected.map((t) => `${t.kind}/${t.name}`),
    pending: o.desired.selection.pending,
    storage: o.desired.storage,
    schedule: policy.spec.schedule,
    overdue: o.overdue,
    lastBackups: o.lastBackups,
    ...(o.lastRun ? { lastRun: o.lastRun } : {}),
    uncovered: o.uncovered,
    coveredSince: o.coveredSince,
    completions: o.completions,
    now: o.now,
  }
  if (o.jobs === undefined) {
    // Steady: the desired job is the one last applied and checked recently; nothing to read or do.
    const detail: BackupPolicyDetail = o.desired.params
      ? { mode: 'converged', id: o.desired.id, status, verify }
      : { mode: 'absent', id: o.desired.id, status, verify, message: `the selector matches no app with a guest${o.desired.selection.pending.length > 0 ? ` yet (waiting for ${o.desired.selection.pending.join(', ')})` : ''}` }
    return [{ key: policyKey(name), kind: 'BackupPolicy', name, type: 'noop', changes: [], detail }]
  }
  const a = planBackupJob(name, o.desired, o.jobs, ctx.cluster.spec.owner)
  const pending = o.desired.selection.pending
  if (a.detail?.mode === 'absent' && pending.length > 0) {
    // The apps it selects are still to be created: show the job to come, as Terraform shows values
    // "known after apply". Apply creates it once they have guests (the policy watches App).
    const spec = policy.spec
    const later = `(known after apply: ${pending.join(', ')})`
    const changes: PlanFieldChange[] = [
      { path: 'schedule', key: 'schedule', after: spec.schedule, impact: 'live' },
      { path: 'selector', key: 'vmid', after: later, impact: 'live' },
      { path: 'storage', key: 'storage', after: o.desired.storage, impact: 'live' },
      { path: 'mode', key: 'mode', after: spec.mode ?? 'snapshot', impact: 'live' },
      { path: 'compress', key: 'compress', after: compressParam(spec.compress), impact: 'live' },
      { path: 'retention', key: 'prune-backups', after: pruneBackups(spec.retention), impact: 'live' },
    ]
    return [{ ...a, type: 'create', changes, summary: `create backup job ${o.desired.id} once ${pending.join(', ')} have guests`, detail: { ...(a.detail as BackupJobDetail), status, verify } }]
  }
  return [{ ...a, detail: { ...(a.detail as BackupJobDetail), status, verify } }]
}

/** The `BackupOverdue` condition over every selected app (True when any is overdue). */
export function overdueCondition(overdue: Record<string, OverdueResult>): DomainCondition {
  const entries = Object.entries(overdue).sort(([a], [b]) => (a < b ? -1 : 1))
  const late = entries.filter(([, r]) => r.overdue)
  if (late.length > 0) {
    const expected = late.map(([, r]) => r.expectedAt?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0)
    return {
      type: 'BackupOverdue',
      status: 'True',
      reason: 'BackupOverdue',
      message: `${late.map(([k, r]) => `${k}: ${r.message}`).join('; ')}${expected > 0 ? ` (expected by ${new Date(expected).toISOString()})` : ''}`,
    }
  }
  if (entries.length === 0) return { type: 'BackupOverdue', status: 'False', reason: 'NoGuestsSelected', message: 'the policy selects no app with a guest' }
  const reasons = new Set(entries.map(([, r]) => r.reason))
  const reason = reasons.has('Suspended') ? 'Suspended' : reasons.has('NoRunDue') ? 'NoRunDue' : 'BackupCurrent'
  const next = entries.map(([, r]) => r.nextAt).find((d) => d !== undefined)
  return { type: 'BackupOverdue', status: 'False', reason, message: `${entries.length} app${entries.length === 1 ? '' : 's'} backed up on schedule${next ? `; next run at ${next.toISOString()}` : ''}` }
}

const jobTarget = (id: string): string => `cluster/backup/${id}`

/** Executes the job step (one call), then reports the policy's backup status. */
export async function applyBackupPolicy(ctx: ControllerContext, policy: BackupPolicyManifest, actions: PolicyAction[]): Promise<Result> {
  const action = actions[0]
  const d = action?.detail
  if (!action || !d) throw new Error(`BackupPolicy/${policy.metadata.name}: plan produced no action`)
  const s = d.status
  const memory: BackupPolicyExtra = { lastBackups: s.lastBackups, lastRun: s.lastRun, uncovered: s.uncovered, coveredSince: s.coveredSince }
  ctx.status.remember({ ...memory })
  ctx.status.condition(overdueCondition(s.overdue))
  const what = `backup job ${d.id} for BackupPolicy ${policy.metadata.name}`
  const changed: string[] = []
  // Whatever happens to a write, the job list this pass cached is stale from here on.
  if (d.mode === 'create' || d.mode === 'update' || d.mode === 'delete') forgetBackupJobs(ctx)
  switch (d.mode) {
    case 'conflict':
      throw new StalledError('BackupJobConflict', d.message ?? `backup job ${d.id} belongs to someone else`)
    case 'create':
      try {
        await audited(ctx, { action: 'POST /cluster/backup', target: jobTarget(d.id), reason: 'create backup job', what: `create ${what}` }, () => ctx.pve.createBackupJob(d.params!))
      } catch (e) {
        // Created by a lost response or a parallel run: the next attempt reads it and updates it.
        if (isAlreadyExists(e)) throw new TransientError(`${what} appeared meanwhile; reading it again`, { cause: e })
        throw e
      }
      changed.push(`created backup job ${d.id}`)
      break
    case 'update':
      await audited(ctx, { action: 'PUT /cluster/backup/{id}', target: jobTarget(d.id), reason: `update ${action.changes.map((c) => c.path).join(', ')}`, what: `update ${what}` }, () =>
        ctx.pve.updateBackupJob(d.id, d.params!),
      )
      changed.push(`updated backup job ${d.id} (${[...new Set(action.changes.map((c) => c.path))].join(', ')})`)
      break
    case 'delete':
      try {
        await audited(ctx, { action: 'DELETE /cluster/backup/{id}', target: jobTarget(d.id), reason: 'no guest selected', what: `delete ${what}` }, () => ctx.pve.deleteBackupJob(d.id))
      } catch (e) {
        if (!isNotFound(e)) throw e
      }
      changed.push(`deleted backup job ${d.id}`)
      break
    default:
      break
  }
  // Notes of new job backups: one PUT each, once; a failure is retried by the next pass.
  for (const c of s.completions) {
    try {
      await audited(ctx, { action: 'PUT /nodes/{node}/storage/{storage}/content/{volume}', target: c.volid, reason: `record app and revision of ${c.key} in the backup notes`, what: `complete the notes of backup ${c.volid}` }, () =>
        ctx.pve.updateVolume(c.node, c.storage, c.volid, { notes: c.notes }),
      )
      const last = s.lastBackups[c.key]
      if (last?.volid === c.volid && c.revision) last.revision = c.revision
      changed.push(`recorded ${c.key} in the notes of ${c.volid}`)
    } catch {
      // audited() recorded the failure; status keeps the backup without its revision until then
    }
  }
  const checked = s.jobRead || changed.length > 0
  // Restore drills: leftovers, a finished run, a due one (started in the background).
  const drills = await applyVerify(ctx, policy, d.verify)
  if (drills.condition) ctx.status.condition(drills.condition)
  const extra: BackupPolicyExtra = { ...memory, verify: drills.memory, appliedJobDigest: s.digest, ...(checked ? { jobCheckedAt: s.now } : {}) }
  const hasJob = d.mode !== 'absent' && d.mode !== 'delete'
  const parts: string[] = []
  if (hasJob) parts.push(`backup job ${d.id}: ${s.selected.length} guest${s.selected.length === 1 ? '' : 's'} (${s.selected.join(', ')}) to ${s.storage}, schedule "${s.schedule}"`)
  else parts.push(`no backup job: ${d.message ?? 'the selector matches no app with a guest'}`)
  if (hasJob && s.pending.length > 0) parts.push(`joining when their guest exists: ${s.pending.join(', ')}`)
  if (s.lastRun) parts.push(`last run: ${s.lastRun.message}`)
  if (drills.message) parts.push(drills.message)
  const all = [...changed, ...drills.changed]
  return {
    // While a drill runs the policy is not Ready and comes back to collect it: a one-shot apply
    // waits for it (its scratch guest must not outlive the process); the daemon keeps working.
    ready: !drills.running,
    reason: drills.running ? 'RestoreDrillRunning' : hasJob ? 'Succeeded' : 'NoGuestsSelected',
    message: parts.join('; '),
    inventory: { jobId: hasJob ? d.id : undefined, storage: s.storage },
    extra: { ...extra },
    ...(drills.requeueAfterMs !== undefined ? { requeueAfterMs: drills.requeueAfterMs } : {}),
    ...(all.length > 0 ? { changed: all } : {}),
  }
}

/**
 * Our jobs whose policy is gone. With `prune` the job list is read and jobs are found by their
 * marker (owner + policy), whatever the store remembers; without it (no deletion this pass) the
 * store's BackupPolicy statuses answer, so a steady pass costs no read.
 */
export async function findJobOrphans(ctx: PassContext, opts: { prune?: boolean } = {}): Promise<OrphanRecord<BackupJobOrphan>[]> {
  const owner = ctx.cluster.spec.owner
  const wanted = new Set(ctx.set.backupPolicies.map((p) => p.metadata.name))
  const out = new Map<string, OrphanRecord<BackupJobOrphan>>()
  const add = (id: string, policy: string): void => {
    const key = policyKey(policy)
    out.set(key, { key, kind: 'BackupPolicy', name: policy, destroys: false, target: `backup job ${id}`, detail: { id, policy } })
  }
  if (opts.prune) {
    const jobs = await passBackupJobs(ctx)
    for (const id of orphanJobs(jobs, owner, [...wanted])) {
      const p = jobPolicy(jobs.find((j) => String(j.id) === id)!)
      if (p) add(id, p.policy)
    }
  } else {
    for (const st of ctx.store.listStatus('BackupPolicy')) {
      const name = st.key.slice('BackupPolicy/'.length)
      const id = st.inventory?.jobId
      if (!wanted.has(name) && typeof id === 'string') add(id, name)
    }
  }
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : 1))
}

/** Deletes the orphan's job if it is still ours; gone already is success. Backups are kept. */
export async function finalizeBackupJob(ctx: ControllerContext, record: OrphanRecord<BackupJobOrphan>): Promise<Result> {
  const { id, policy } = record.detail
  const owner = ctx.cluster.spec.owner
  const job = (await passBackupJobs(ctx)).find((j) => String(j.id) === id)
  const mine = job ? jobPolicy(job) : undefined
  if (!job) return { ready: true, reason: 'Deleted', message: `backup job ${id} is already gone` }
  if (!mine || mine.owner !== owner || mine.policy !== policy) {
    return { ready: true, reason: 'Deleted', message: `backup job ${id} is not ours (any more); left alone` }
  }
  forgetBackupJobs(ctx)
  try {
    await audited(ctx, { action: 'DELETE /cluster/backup/{id}', target: jobTarget(id), reason: 'policy removed', what: `delete backup job ${id} of removed BackupPolicy ${policy}` }, () =>
      ctx.pve.deleteBackupJob(id),
    )
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
  return { ready: true, reason: 'Deleted', message: `backup job ${id} deleted; its backups are kept`, changed: [`deleted backup job ${id}`] }
}

/** Reconciles BackupPolicy manifests into Proxmox backup jobs. */
export const backupPolicyController: Controller<BackupPolicyManifest, BackupPolicyObservation, BackupPolicyDetail, BackupJobOrphan, PlanFieldChange> = {
  kind: 'BackupPolicy',
  phases: [],
  watches: ['App', 'Appliance'],
  observe: observeBackupPolicy,
  plan: planBackupPolicy,
  apply: applyBackupPolicy,
  orphans: findJobOrphans,
  planDelete: (r) => ({
    type: 'delete',
    key: r.key,
    kind: r.kind,
    name: r.name,
    changes: [{ path: 'job', key: 'id', before: (r.detail as BackupJobOrphan).id, impact: 'live' }] as PlanFieldChange[],
    summary: `delete ${r.target} (its backups are kept)`,
  }),
  finalize: finalizeBackupJob,
}
