/**
 * Observe (read-only) for BackupPolicy, at the steady-state budget of DESIGN §4: everything a
 * pass reads from Proxmox is shared by every policy of the pass (cached on the pass snapshot, as
 * the App controller's deep-check pick is), so N policies over M apps cost
 *
 * - one content listing per backup storage (`GET /nodes/{node}/storage/{storage}/content`), the
 *   source of every app's last backup, never one per app;
 * - one `GET /cluster/backup`, and only when a policy's job may differ from what was last applied
 *   (its desired parameters changed, or the last check is older than {@link JOB_CHECK_INTERVAL_MS});
 * - one task list per node holding selected guests, and only when a new scheduled run is due to
 *   have started since the last look (the job's last result).
 *
 * The selector is resolved against the Apps (and Appliances) of the set and their vmids as the
 * store's inventory knows them, confirmed by the pass snapshot (a vmid whose guest is gone or is
 * not tagged as managed does not count).
 */
import { createHash } from 'node:crypto'
import { completeBackupNotes, needsCompletion, parseBackupNotes } from '../../src/model/backup-notes.js'
import { hasManagedTag } from '../../src/model/marker.js'
import { previousOccurrence } from '../../src/model/calendar-occurrence.js'
import { backupEntries, type BackupEntry } from '../../src/model/vzdump.js'
import type { BackupPolicyManifest } from '../../src/model/types.js'
import type { ClusterSnapshot, ControllerContext, PassContext } from '../../src/runtime/controller.js'
import { read } from '../shared/call.js'
import { desiredBackupJob, selects, type BackupTarget, type DesiredBackupJob } from './desired.js'
import { appImages } from './operations.js'
import type { ObservedBackupJob } from './plan.js'
import { checkOverdue, JOB_START_WINDOW_MS, lastBackups, lastJobRun, uncoveredTargets, type OverdueResult, type TaskEntry } from './status.js'
import { findLeftoverScratch, type LeftoverScratch } from '../restore/drill.js'
import { activeDrillRun } from './drills.js'
import { drillSchedule, type DrillSchedule, type VerifyMemory } from './verify.js'

/** How old the last look at a converged job may get before `GET /cluster/backup` is read again (drift behind our back). */
export const JOB_CHECK_INTERVAL_MS = 10 * 60_000

/** The last backup of one app, as status shows it. */
export interface LastBackup {
  time: string
  size: number
  volid: string
  revision?: string
  trigger?: string
}

/** The job's last scheduled run, as status keeps it. */
export interface StoredJobRun {
  state: 'ok' | 'warnings' | 'failed' | 'running' | 'missing'
  scheduledAt?: string
  message: string
  upids: string[]
}

/** What the controller remembers between passes (`status.extra`). */
export interface BackupPolicyExtra {
  /** Digest of the job parameters last applied (or `absent`). */
  appliedJobDigest?: string
  /** When `GET /cluster/backup` last confirmed the job (ms epoch). */
  jobCheckedAt?: number
  /** Since when each selected app has been covered (ISO), so runs before that are not overdue. */
  coveredSince?: Record<string, string>
  lastBackups?: Record<string, LastBackup>
  lastRun?: StoredJobRun
  uncovered?: string[]
  /** Restore drills (spec.verify): schedule memory, running run, last result per app. */
  verify?: VerifyMemory
}

/** What observe found about restore drills (spec.verify). */
export interface VerifyObservation {
  /** The policy's drill memory (`since` filled in when verify is set). */
  memory: VerifyMemory
  schedule: DrillSchedule
  /** Selected Apps with a guest (`App/web`) and the volid of their latest backup, if any. */
  candidates: { key: string; volid?: string }[]
  /** Scratch guests left by interrupted drills (looked for by the first policy of the set only). */
  leftovers: LeftoverScratch[]
  /** A run of this policy's drills is going on (or awaits collection) in this process. */
  active: boolean
  /** The node backups were listed on (where a drill restores). */
  node?: string
}

/** Notes of a job backup to complete with what only Proximity knows (app, revision, images). */
export interface NotesCompletion {
  key: string
  volid: string
  storage: string
  node: string
  notes: string
  revision?: string
}

export interface BackupPolicyObservation {
  desired: DesiredBackupJob
  digest: string
  /** Undefined when the job was not read this pass (steady: it matched at the last check). */
  jobs?: ObservedBackupJob[]
  extra: BackupPolicyExtra
  /** Per selected target key (`App/web`) the overdue verdict. */
  overdue: Record<string, OverdueResult>
  lastBackups: Record<string, LastBackup>
  lastRun?: StoredJobRun
  uncovered: string[]
  coveredSince: Record<string, string>
  /** Job backups whose notes lack the app and revision (one `PUT …/content/{volid}` each, once). */
  completions: NotesCompletion[]
  verify: VerifyObservation
  now: number
}

/** The store key of a policy. */
export const policyKey = (name: string): string => `BackupPolicy/${name}`

const passCache = new WeakMap<ClusterSnapshot, Map<string, Promise<unknown>>>()

/** `load` once per pass snapshot and cache key; a failed read is not cached. */
function once<T>(ctx: Pick<ControllerContext, 'snapshot'>, key: string, load: () => Promise<T>): Promise<T> {
  let m = passCache.get(ctx.snapshot)
  if (!m) passCache.set(ctx.snapshot, (m = new Map()))
  const hit = m.get(key)
  if (hit) return hit as Promise<T>
  const p = load()
  m.set(key, p)
  p.catch(() => m.delete(key))
  return p
}

/**
 * Drops this pass's copy of the job list after a job was written (or found written meanwhile), so
 * the next policy or attempt of the pass reads what Proxmox has now, not what it had before.
 */
export function forgetBackupJobs(ctx: Pick<ControllerContext, 'snapshot'>): void {
  passCache.get(ctx.snapshot)?.delete('jobs')
}

/** Every backup job (`GET /cluster/backup`), read at most once per pass (see forgetBackupJobs). */
export function passBackupJobs(ctx: PassContext): Promise<ObservedBackupJob[]> {
  return once(ctx, 'jobs', () => read('list backup jobs', () => ctx.pve.listBackupJobs()))
}

/** The node a storage is listed on: one that holds our guests (sorted), else any node of the snapshot. */
export function listingNode(ctx: Pick<ControllerContext, 'snapshot'>): string | undefined {
  const nodes = [...new Set(ctx.snapshot.guests.filter((g) => hasManagedTag(g.tags)).map((g) => g.node))].sort()
  return nodes[0] ?? [...new Set(ctx.snapshot.guests.map((g) => g.node))].sort()[0]
}

/**
 * The backups on `storage` (one content listing per storage per pass). WARNING: a storage that is
 * not shared is listed on one node only (the first that holds our guests); backups other nodes
 * keep on their own local storage are not seen.
 */
export function passBackups(ctx: PassContext, storage: string): Promise<BackupEntry[]> {
  return once(ctx, `content:${storage}`, async () => {
    const node = listingNode(ctx)
    if (node === undefined) return []
    const items = await read(`list backups on storage ${storage}`, () => ctx.pve.storageContent(node, storage, { content: 'backup' }))
    return backupEntries(items)
  })
}

/** The vzdump tasks of a node (one read per node per pass). */
function passTasks(ctx: PassContext, node: string): Promise<TaskEntry[]> {
  return once(ctx, `tasks:${node}`, () => read(`list tasks on node ${node}`, () => ctx.pve.listTasks(node, { typefilter: 'vzdump', limit: 500 })))
}

/**
 * The guests a policy may select: every App and Appliance of the set, with the vmid the store's
 * inventory holds when the pass snapshot still shows that guest as managed.
 */
/** True when an App or Appliance inventory names a vmid the pass snapshot does not show as managed. */
function snapshotBehindStore(ctx: Pick<ControllerContext, 'set' | 'store' | 'snapshot'>): boolean {
  const managed = new Set(ctx.snapshot.guests.filter((g) => hasManagedTag(g.tags)).map((g) => g.vmid))
  const keys = [...ctx.set.apps.map((a) => `App/${a.metadata.name}`), ...ctx.set.appliances.map((a) => `Appliance/${a.metadata.name}`)]
  return keys.some((k) => {
    const vmid = ctx.store.getStatus(k)?.inventory?.vmid
    return typeof vmid === 'number' && !managed.has(vmid)
  })
}

export function backupTargets(ctx: Pick<ControllerContext, 'set' | 'store' | 'snapshot'>): BackupTarget[] {
  const managed = new Map(ctx.snapshot.guests.filter((g) => hasManagedTag(g.tags)).map((g) => [g.vmid, g]))
  const vmidOf = (key: string): number | undefined => {
    const v = ctx.store.getStatus(key)?.inventory?.vmid
    return typeof v === 'number' && managed.has(v) ? v : undefined
  }
  const out: BackupTarget[] = []
  for (const a of ctx.set.apps) out.push({ kind: 'App', name: a.metadata.name, labels: a.metadata.labels, vmid: vmidOf(`App/${a.metadata.name}`) })
  for (const a of ctx.set.appliances) out.push({ kind: 'Appliance', name: a.metadata.name, labels: a.metadata.labels, vmid: vmidOf(`Appliance/${a.metadata.name}`) })
  return out
}

/** A stable digest of the job Proximity wants (`absent` when it wants none). */
export function jobDigest(desired: DesiredBackupJob): string {
  if (!desired.params) return 'absent'
  const p = desired.params
  return createHash('sha256')
    .update(JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k as keyof typeof p]])))
    .digest('hex')
    .slice(0, 16)
}

const iso = (d: Date): string => d.toISOString()

/** Observes one policy. Read-only. */
export async function observeBackupPolicy(ctx: ControllerContext, policy: BackupPolicyManifest): Promise<BackupPolicyObservation> {
  const name = policy.metadata.name
  const spec = policy.spec
  const now = ctx.now()
  const extra = { ...((ctx.store.getStatus(policyKey(name))?.extra ?? {}) as BackupPolicyExtra) }
  const cluster = ctx.cluster.spec
  // A guest another object created during this pass may not be in the pass snapshot yet: when the
  // store names a vmid the snapshot does not show as managed, look again once (never in a steady
  // pass, where every inventory is confirmed).
  if (snapshotBehindStore(ctx)) await ctx.refreshSnapshot()
  const targets = backupTargets(ctx)
  const desired = desiredBackupJob(policy, { owner: cluster.owner, backupStorage: cluster.defaults.backupStorage }, targets)
  const digest = jobDigest(desired)
  const fresh = extra.jobCheckedAt !== undefined && now - extra.jobCheckedAt < JOB_CHECK_INTERVAL_MS && extra.jobCheckedAt <= now
  const jobs = extra.appliedJobDigest === digest && fresh ? undefined : await passBackupJobs(ctx)

  // Backups: one listing of the policy's storage, shared by every policy writing there.
  const selected = desired.selection.selected
  const entries = selected.length > 0 ? await passBackups(ctx, desired.storage) : []
  const last = lastBackups(entries, targets, cluster.owner)
  const lastOut: Record<string, LastBackup> = {}
  const coveredSince: Record<string, string> = {}
  const overdue: Record<string, OverdueResult> = {}
  for (const t of selected) {
    const key = `${t.kind}/${t.name}`
    coveredSince[key] = extra.coveredSince?.[key] ?? new Date(now).toISOString()
    const b = last.get(key as `App/${string}`)
    if (b) lastOut[key] = { time: iso(b.time), size: b.size, volid: b.volid, ...(b.revision ? { revision: b.revision } : {}), ...(b.trigger ? { trigger: b.trigger } : {}) }
    overdue[key] = checkOverdue({ schedule: spec.schedule, now: new Date(now), last: b?.time, since: new Date(coveredSince[key]!), suspended: spec.suspend })
  }

  // Job backups know only owner, policy, guest and vmid; add the app, its revision and images once.
  const completions: NotesCompletion[] = []
  const node = listingNode(ctx)
  for (const t of selected) {
    const key = `${t.kind}/${t.name}`
    const b = last.get(key as `App/${string}`)
    const entry = b ? entries.find((e) => e.volid === b.volid) : undefined
    const notes = parseBackupNotes(entry?.notes)
    if (!b || !notes || notes.owner !== cluster.owner || !needsCompletion(notes) || node === undefined) continue
    const revision = revisionAt(ctx, key, b.time)
    const app = t.kind === 'App' ? ctx.set.apps.find((a) => a.metadata.name === t.name) : undefined
    const text = completeBackupNotes(notes, { app: t.name, kind: t.kind, revision, images: app ? appImages(app) : undefined })
    completions.push({ key, volid: b.volid, storage: b.storage || desired.storage, node, notes: text, ...(revision ? { revision } : {}) })
  }

  // The job's last scheduled run: read the task lists only when a new run is due to have shown up.
  let lastRun = extra.lastRun
  const scheduled = desired.params ? previousOccurrence(spec.schedule, new Date(now)) : undefined
  // A run scheduled before the policy covered any of its apps is not the job's (it did not exist).
  const coveredFrom = Math.min(...Object.values(coveredSince).map((t) => Date.parse(t)))
  if (scheduled && scheduled.getTime() < coveredFrom) lastRun = undefined
  else if (scheduled && !spec.suspend) {
    const at = iso(scheduled)
    const settled = lastRun?.scheduledAt === at && lastRun.state !== 'running' && !(lastRun.state === 'missing' && now - scheduled.getTime() < JOB_START_WINDOW_MS)
    if (!settled) {
      const byVmid = new Map(ctx.snapshot.guests.map((g) => [g.vmid, g.node]))
      const nodes = [...new Set(selected.map((t) => byVmid.get(t.vmid)).filter((n): n is string => n !== undefined))].sort()
      const tasks = (await Promise.all(nodes.map((n) => passTasks(ctx, n)))).flat()
      const r = lastJobRun(tasks, { schedule: spec.schedule, vmids: desired.selection.vmids, now: new Date(now) })
      lastRun = { state: r.state, ...(r.scheduledAt ? { scheduledAt: iso(r.scheduledAt) } : {}), message: r.message, upids: r.tasks.map((t) => t.upid) }
    }
  } else if (!desired.params) lastRun = undefined

  const uncovered = uncoveredTargets(ctx.set.backupPolicies, targets).map((t) => `${t.kind}/${t.name}`)
  const verify = await observeVerify(ctx, policy, extra, selected, lastOut, now)
  return { desired, digest, jobs, extra, overdue, lastBackups: lastOut, lastRun, uncovered, coveredSince, completions, verify, now }
}

/**
 * Restore drills, read-only and free in steady state: the schedule is computed from memory, the
 * latest backups come from the listing above, and leftover scratch guests are looked for in the
 * pass snapshot (a config read only for a guest tagged as a scratch guest).
 */
async function observeVerify(
  ctx: ControllerContext,
  policy: BackupPolicyManifest,
  extra: BackupPolicyExtra,
  selected: readonly { kind: string; name: string }[],
  last: Record<string, LastBackup>,
  now: number,
): Promise<VerifyObservation> {
  const spec = policy.spec
  const had = extra.verify ?? {}
  const memory: VerifyMemory = spec.verify ? { ...had, since: had.since ?? new Date(now).toISOString() } : had
  const schedule = drillSchedule(spec.verify, { now: new Date(now), policySuspended: spec.suspend, memory })
  // One policy cleans up after interrupted drills (whichever app or command they were for).
  const first = ctx.set.backupPolicies.map((p) => p.metadata.name).sort()[0] === policy.metadata.name
  const leftovers = first ? await findLeftoverScratch(ctx) : []
  const candidates = selected.filter((t) => t.kind === 'App').map((t) => ({ key: `App/${t.name}`, ...(last[`App/${t.name}`] ? { volid: last[`App/${t.name}`]!.volid } : {}) }))
  const node = listingNode(ctx)
  return { memory, schedule, candidates, leftovers, active: activeDrillRun(policyKey(policy.metadata.name)) !== undefined, ...(node ? { node } : {}) }
}

/**
 * The revision `key` ran at `time`: its last applied revision when that was first reconciled
 * before the backup started; undefined when it cannot be told (an update happened since).
 */
function revisionAt(ctx: Pick<ControllerContext, 'store'>, key: string, time: Date): string | undefined {
  const st = ctx.store.getStatus(key)
  const rev = st?.lastAppliedRevision
  if (!st || !rev) return undefined
  const since = st.history.filter((h) => h.revision === rev && h.result === 'Succeeded').map((h) => Date.parse(h.firstReconciled))
  return since.length > 0 && Math.min(...since) <= time.getTime() ? rev : undefined
}

/** True when `policy` selects the App `name` (for `backup now`: which storage and mode apply). */
export function policySelectsApp(policy: BackupPolicyManifest, app: { name: string; labels?: Record<string, string> }): boolean {
  return !policy.spec.suspend && selects(policy.spec, { kind: 'App', name: app.name, labels: app.labels })
}
