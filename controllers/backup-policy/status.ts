/**
 * Backup status helpers, pure: which backups belong to which app, the last one per app, whether a
 * policy's backup is overdue against its calendar, and which apps no policy covers. The
 * controller feeds them one content listing per backup storage per pass (never one per app).
 */
import { parseBackupNotes, type BackupTrigger } from '../../src/model/backup-notes.js'
import type { CalendarEvent } from '../../src/model/calendar.js'
import { nextOccurrence, previousOccurrence } from '../../src/model/calendar-occurrence.js'
import type { BackupPolicySpec } from '../../src/model/types.js'
import type { BackupEntry } from '../../src/model/vzdump.js'
import { selects, type BackupTarget } from './desired.js'

/** A backup attributed to one target. */
export interface BackupRecord {
  volid: string
  storage: string
  vmid: number
  time: Date
  size: number
  protected: boolean
  /** From the notes, when they carry it. */
  revision?: string
  policy?: string
  trigger?: BackupTrigger
}

/** `App/web`, `Appliance/gw`: the key status is kept under. */
export type TargetKey = `${BackupTarget['kind']}/${string}`
export const targetKey = (t: Pick<BackupTarget, 'kind' | 'name'>): TargetKey => `${t.kind}/${t.name}`

/**
 * The target a backup belongs to, or undefined:
 * - notes of another Proximity installation (another owner) → not ours, whatever the vmid;
 * - notes naming an app → that app, even under another vmid (the app was re-created), and never
 *   another app that now has the vmid;
 * - otherwise (job notes, a person's notes, none) → the target that has the backup's vmid now.
 */
export function backupTarget(entry: Pick<BackupEntry, 'vmid' | 'notes'>, targets: readonly BackupTarget[], owner: string): BackupTarget | undefined {
  const notes = parseBackupNotes(entry.notes)
  if (notes && notes.owner !== owner) return undefined
  if (notes?.app !== undefined) {
    const kind = notes.kind ?? 'App'
    return targets.find((t) => t.kind === kind && t.name === notes.app)
  }
  return targets.find((t) => t.vmid === entry.vmid)
}

function record(e: BackupEntry): BackupRecord {
  const notes = parseBackupNotes(e.notes)
  const r: BackupRecord = { volid: e.volid, storage: e.storage, vmid: e.vmid, time: e.time, size: e.size, protected: e.protected }
  if (notes?.revision !== undefined) r.revision = notes.revision
  if (notes?.policy !== undefined) r.policy = notes.policy
  if (notes?.trigger !== undefined) r.trigger = notes.trigger
  return r
}

/** Every backup per target, newest first (entries from any number of storages). */
export function backupsByTarget(entries: readonly BackupEntry[], targets: readonly BackupTarget[], owner: string): Map<TargetKey, BackupRecord[]> {
  const out = new Map<TargetKey, BackupRecord[]>()
  for (const e of entries) {
    const t = backupTarget(e, targets, owner)
    if (!t) continue
    const key = targetKey(t)
    const list = out.get(key) ?? []
    list.push(record(e))
    out.set(key, list)
  }
  for (const list of out.values()) list.sort((a, b) => b.time.getTime() - a.time.getTime() || (a.volid < b.volid ? -1 : 1))
  return out
}

/** The newest backup per target; targets without any backup are absent. */
export function lastBackups(entries: readonly BackupEntry[], targets: readonly BackupTarget[], owner: string): Map<TargetKey, BackupRecord> {
  const out = new Map<TargetKey, BackupRecord>()
  for (const [k, list] of backupsByTarget(entries, targets, owner)) out.set(k, list[0]!)
  return out
}

/**
 * How long after a scheduled start a backup may still be missing before it is overdue. Proxmox
 * runs one vzdump per node at a time and a job waits up to `lockwait` (180 minutes by default)
 * for the one before it, and guests of one job are backed up one after another.
 */
export const DEFAULT_OVERDUE_GRACE_MS = 3 * 60 * 60 * 1000

export interface OverdueInput {
  schedule: string | CalendarEvent
  now: Date
  /** The node's time zone. @default 'UTC' */
  timeZone?: string
  /** @default DEFAULT_OVERDUE_GRACE_MS */
  graceMs?: number
  /** Start of the newest backup of the app, if any. */
  last?: Date
  /** Since when the policy has covered the app (runs before that were not due for it). */
  since?: Date
  suspended?: boolean
}

export interface OverdueResult {
  overdue: boolean
  /** PascalCase condition reason. */
  reason: 'BackupCurrent' | 'BackupOverdue' | 'NoRunDue' | 'Suspended'
  message: string
  /** The scheduled start the newest backup must not be older than. */
  expectedAt?: Date
  /** The next scheduled start after `now`. */
  nextAt?: Date
}

const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z')

/**
 * Whether an app's backups are overdue against a policy's calendar: the scheduled start
 * `previousOccurrence(schedule, now - grace)` must have a backup that started at or after it.
 * A run before `since` was not due for the app; a suspended policy is never overdue.
 */
export function checkOverdue(input: OverdueInput): OverdueResult {
  const tz = { timeZone: input.timeZone ?? 'UTC' }
  const grace = input.graceMs ?? DEFAULT_OVERDUE_GRACE_MS
  const nextAt = nextOccurrence(input.schedule, input.now, tz)
  const schedule = typeof input.schedule === 'string' ? input.schedule : input.schedule.source
  if (input.suspended) return { overdue: false, reason: 'Suspended', message: 'the backup policy is suspended', nextAt }
  const due = previousOccurrence(input.schedule, new Date(input.now.getTime() - grace), tz)
  if (due === undefined || (input.since !== undefined && due.getTime() < input.since.getTime())) {
    const first = nextAt ? `; the next run is at ${iso(nextAt)}` : ''
    return { overdue: false, reason: 'NoRunDue', message: `no scheduled run of "${schedule}" is due yet${first}`, nextAt }
  }
  if (input.last !== undefined && input.last.getTime() >= due.getTime()) {
    return { overdue: false, reason: 'BackupCurrent', message: `last backup at ${iso(input.last)} covers the run scheduled at ${iso(due)}`, expectedAt: due, nextAt }
  }
  const graceText = `${Math.round(grace / 60000)} min grace`
  const message = input.last
    ? `last backup at ${iso(input.last)} is older than the run scheduled at ${iso(due)} ("${schedule}", ${graceText}); check the job's task log in Proxmox`
    : `no backup yet although a run was scheduled at ${iso(due)} ("${schedule}", ${graceText}); check the job's task log in Proxmox`
  return { overdue: true, reason: 'BackupOverdue', message, expectedAt: due, nextAt }
}

/** The `BackupOverdue` condition for a result (status True when overdue). */
export function backupOverdueCondition(r: OverdueResult): { type: 'BackupOverdue'; status: 'True' | 'False'; reason: string; message: string } {
  return { type: 'BackupOverdue', status: r.overdue ? 'True' : 'False', reason: r.reason, message: r.message }
}

/**
 * Targets no active policy selects, as Proxmox's `not-backed-up` lists guests in no job: a
 * suspended policy backs nothing up, so it covers nothing. Sorted apps first, then by name.
 */
export function uncoveredTargets(
  policies: readonly { spec: Pick<BackupPolicySpec, 'selector' | 'includeAppliance' | 'suspend'> }[],
  targets: readonly BackupTarget[],
): BackupTarget[] {
  const active = policies.filter((p) => !p.spec.suspend)
  return targets
    .filter((t) => !active.some((p) => selects(p.spec, t)))
    .sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind === 'App' ? -1 : 1))
}

/** A task as `GET /cluster/tasks` or `GET /nodes/{node}/tasks` lists it. */
export interface TaskEntry {
  upid: string
  node?: string
  type: string
  /** The vmid when the task concerns exactly one local guest, else ''. */
  id?: string
  user?: string
  starttime: number | string
  endtime?: number | string
  /** `OK`, `WARNINGS: n`, an error text (`job errors`), `RUNNING`, or absent while running. */
  status?: string
}

export interface JobRunResult {
  /** `ok`, `warnings`, `failed`, `running`, or `missing` (no task found for the run). */
  state: 'ok' | 'warnings' | 'failed' | 'running' | 'missing'
  /** The scheduled start the result is for. */
  scheduledAt?: Date
  /** The vzdump tasks of that run (one per node that holds selected guests), oldest first. */
  tasks: { upid: string; node?: string; status?: string; startedAt: Date; endedAt?: Date }[]
  message: string
}

/**
 * pvescheduler checks jobs once a minute and starts a due job's vzdump at once (waiting for the
 * node's vzdump lock happens inside the task), so a run's tasks start within this window after the
 * scheduled time.
 */
export const JOB_START_WINDOW_MS = 5 * 60 * 1000

const toNum = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN
  return Number.isFinite(n) ? n : undefined
}

/**
 * The result of a backup job's last scheduled run, read from the task list: Proxmox does not put
 * the job id into the UPID, so a run's tasks are the `vzdump` tasks of `root@pam` (the scheduler)
 * that started within {@link JOB_START_WINDOW_MS} of the last scheduled time and concern one of
 * the job's guests (or several guests, `id` empty). Several nodes give several tasks; the worst
 * status wins.
 */
export function lastJobRun(tasks: readonly TaskEntry[], job: { schedule: string | CalendarEvent; vmids: readonly number[]; now: Date; timeZone?: string }): JobRunResult {
  const scheduledAt = previousOccurrence(job.schedule, job.now, { timeZone: job.timeZone ?? 'UTC' })
  if (!scheduledAt) return { state: 'missing', tasks: [], message: 'the job has not been scheduled to run yet' }
  const from = scheduledAt.getTime()
  const vmids = new Set(job.vmids.map(String))
  const runs = tasks
    .filter((t) => {
      const start = toNum(t.starttime)
      if (t.type !== 'vzdump' || start === undefined) return false
      if (t.user !== undefined && t.user !== 'root@pam') return false
      if (start * 1000 < from || start * 1000 > from + JOB_START_WINDOW_MS) return false
      return !t.id || vmids.has(String(t.id))
    })
    .map((t) => {
      const end = toNum(t.endtime)
      const status = t.status === 'RUNNING' || (end === undefined && t.status === undefined) ? undefined : t.status
      return { upid: t.upid, node: t.node, status, startedAt: new Date(toNum(t.starttime)! * 1000), endedAt: end !== undefined && status !== undefined ? new Date(end * 1000) : undefined }
    })
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || (a.upid < b.upid ? -1 : 1))
  const at = iso(scheduledAt)
  if (runs.length === 0) return { state: 'missing', scheduledAt, tasks: [], message: `no vzdump task of the run scheduled at ${at} was found in the task list` }
  const failed = runs.filter((r) => r.status !== undefined && r.status !== 'OK' && !/^WARNINGS: \d+$/.test(r.status))
  if (failed.length > 0) {
    return { state: 'failed', scheduledAt, tasks: runs, message: `the run scheduled at ${at} failed on ${failed.map((r) => r.node ?? '?').join(', ')}: ${failed[0]!.status}` }
  }
  if (runs.some((r) => r.status === undefined)) return { state: 'running', scheduledAt, tasks: runs, message: `the run scheduled at ${at} is still running` }
  if (runs.some((r) => r.status !== 'OK')) {
    return { state: 'warnings', scheduledAt, tasks: runs, message: `the run scheduled at ${at} finished with warnings (${runs.map((r) => r.status).filter((s) => s !== 'OK').join(', ')})` }
  }
  return { state: 'ok', scheduledAt, tasks: runs, message: `the run scheduled at ${at} finished OK` }
}
