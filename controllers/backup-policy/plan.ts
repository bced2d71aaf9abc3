/**
 * The pure BackupPolicy plan: the observed backup jobs (`GET /cluster/backup`) + the desired job →
 * one action with per-field changes, like guests. Values are normalised before comparison so a
 * converged job plans nothing, whichever form Proxmox returns:
 *
 * - `prune-backups` as an object (`{"keep-last": 3}`, real PVE) or a property string (config
 *   files, older servers, the simulator), numbers or numeric strings, zeros meaning unset;
 * - `vmid` as a list in any order with `,`, `;` or blanks;
 * - `enabled` missing (= 1), `1`/`0`, booleans or strings; `mode` missing (= snapshot); `compress`
 *   missing (= 0) and the legacy `1` (= lzo);
 * - the ownership marker in `comment` compared by identity, not by bytes.
 *
 * Jobs Proximity did not create are never touched: a job with our id but without our marker is a
 * conflict that plan refuses, and orphans are only ever jobs whose marker names our owner.
 */
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Action } from '../../src/runtime/controller.js'
import { jobPolicy, type BackupJobParams, type DesiredBackupJob, type ManagedJobKey } from './desired.js'

/** A job as `GET /cluster/backup` lists it. */
export type ObservedBackupJob = Record<string, unknown>

/** Manifest-facing path per job parameter (how plan names a change). */
export const JOB_FIELD_PATHS: Record<ManagedJobKey | 'all' | 'pool' | 'exclude', string> = {
  schedule: 'schedule',
  vmid: 'selector',
  storage: 'storage',
  mode: 'mode',
  compress: 'compress',
  'prune-backups': 'retention',
  'notes-template': 'notes',
  enabled: 'suspend',
  comment: 'owner',
  all: 'selector',
  pool: 'selector',
  exclude: 'selector',
}

const text = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v).trim())

/** A `pve-vmid-list` (or a number) as ascending unique numbers. */
export function normalizeVmids(v: unknown): number[] {
  const s = text(v)
  if (!s) return []
  const ids = s
    .split(/[;,\s\0]+/)
    .filter((x) => x !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n))
  return [...new Set(ids)].sort((a, b) => a - b)
}

/**
 * `prune-backups` in either of Proxmox's forms as a canonical string (keys sorted, zeros dropped,
 * `keep-all=1` alone when nothing else is set or when it is set). Missing stays undefined: the job
 * then follows the storage's retention, which is not the same as keeping everything.
 */
export function normalizePruneBackups(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined
  const map: Record<string, number> = {}
  if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const n = Number(x === true ? 1 : x === false ? 0 : x)
      if (Number.isFinite(n)) map[k.trim().toLowerCase()] = n
    }
  } else {
    for (const part of String(v).split(',')) {
      const eq = part.indexOf('=')
      if (eq < 0) continue
      const n = Number(part.slice(eq + 1).trim())
      if (Number.isFinite(n)) map[part.slice(0, eq).trim().toLowerCase()] = n
    }
  }
  if ((map['keep-all'] ?? 0) > 0) return 'keep-all=1'
  const keys = Object.keys(map)
    .filter((k) => k !== 'keep-all' && map[k]! > 0)
    .sort()
  return keys.length > 0 ? keys.map((k) => `${k}=${map[k]}`).join(',') : 'keep-all=1'
}

const flag = (v: unknown, dflt: 0 | 1): 0 | 1 => {
  if (v === undefined || v === null || v === '') return dflt
  if (v === true || v === 1 || v === '1') return 1
  if (v === false || v === 0 || v === '0') return 0
  return dflt
}

const COMPRESS_ALIASES: Record<string, string> = { '1': 'lzo', pigz: 'gzip' }

/** The comparable form of one managed field of a job. */
function comparable(key: ManagedJobKey, v: unknown): unknown {
  switch (key) {
    case 'vmid':
      return normalizeVmids(v).join(',')
    case 'prune-backups':
      return normalizePruneBackups(v)
    case 'enabled':
      return flag(v, 1)
    case 'mode':
      return text(v) || 'snapshot'
    case 'compress': {
      const c = text(v) || '0'
      return Object.hasOwn(COMPRESS_ALIASES, c) ? COMPRESS_ALIASES[c] : c
    }
    case 'comment': {
      const owned = jobPolicy({ comment: v })
      return owned ? `marker:${owned.owner}/${owned.policy}` : text(v)
    }
    case 'notes-template':
      // Proxmox keeps the template verbatim; only a trailing newline from config files is noise.
      return v === undefined || v === null ? undefined : String(v).replace(/\r?\n$/, '')
    default:
      return text(v)
  }
}

/** What a user reads for a field: vmids as a list, suspend as a boolean, the rest as stored. */
function shown(key: ManagedJobKey, v: unknown): unknown {
  if (v === undefined) return undefined
  if (key === 'vmid') return normalizeVmids(v)
  if (key === 'enabled') return flag(v, 1) === 0
  return comparable(key, v)
}

/**
 * Per-field differences between the job Proximity wants and the one Proxmox has. Every change is
 * `live` (Proxmox applies job edits at the next run). Guest selection that Proximity never sets
 * (`all`, `pool`, `exclude`) is reported for removal, since it would widen the job beyond the
 * policy. Returns [] for a converged job.
 */
export function diffBackupJob(desired: BackupJobParams, observed: ObservedBackupJob): PlanFieldChange[] {
  const changes: PlanFieldChange[] = []
  for (const key of ['schedule', 'vmid', 'storage', 'mode', 'compress', 'prune-backups', 'notes-template', 'enabled', 'comment'] as const) {
    const want = desired[key]
    const have = observed[key]
    if (comparable(key, want) === comparable(key, have)) continue
    changes.push({ path: JOB_FIELD_PATHS[key], key, before: shown(key, have), after: shown(key, want), impact: 'live' })
  }
  for (const key of ['all', 'pool', 'exclude'] as const) {
    const have = observed[key]
    const set = key === 'all' ? flag(have, 0) === 1 : text(have) !== undefined && text(have) !== ''
    if (set) changes.push({ path: JOB_FIELD_PATHS[key], key, before: key === 'all' ? true : text(have), after: undefined, impact: 'live' })
  }
  return changes
}

/**
 * The body of `PUT /cluster/backup/{id}` for `changes`: the desired value of every changed field,
 * and `delete` for the selection keys Proximity removes. Untouched fields are not sent.
 */
export function jobUpdateParams(desired: BackupJobParams, changes: readonly PlanFieldChange[]): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  const del: string[] = []
  for (const c of changes) {
    const key = c.key as keyof BackupJobParams | 'all' | 'pool' | 'exclude' | undefined
    if (key === undefined) continue
    if (key === 'all' || key === 'pool' || key === 'exclude') del.push(key)
    else out[key] = desired[key]
  }
  if (del.length > 0) out.delete = del.join(',')
  return out
}

/** The jobs (by id) whose marker names `owner` but no policy in `policies`: left by deleted policies. */
export function orphanJobs(jobs: readonly ObservedBackupJob[], owner: string, policies: readonly string[]): string[] {
  const keep = new Set(policies)
  return jobs
    .filter((j) => {
      const p = jobPolicy(j)
      return p !== undefined && p.owner === owner && !keep.has(p.policy)
    })
    .map((j) => String(j.id))
    .sort()
}

const change = (c: PlanFieldChange): PlanFieldChange => c

/** How apply must act, carried in `Action.detail`. */
export interface BackupJobDetail {
  mode: 'create' | 'update' | 'delete' | 'converged' | 'absent' | 'conflict'
  id: string
  /** POST body (create) or PUT body (update). */
  params?: Record<string, string | number>
  /** Why there is no job, or why plan refuses to touch the one there is. */
  message?: string
}

/**
 * The action for one policy. `jobs` is the whole `GET /cluster/backup` list (one read per pass
 * for every policy). `owner` is Cluster.spec.owner.
 *
 * - no job with our id and guests selected → `create`;
 * - our job, differing → `update` with per-field changes (converged → `noop`);
 * - our job but nothing selected → `delete` (Proxmox cannot keep a job without guests; it is
 *   created again when an app matches);
 * - a job with our id that is not ours → `noop` with a refused change: never modified.
 */
export function planBackupJob(policyName: string, desired: DesiredBackupJob, jobs: readonly ObservedBackupJob[], owner: string): Action<BackupJobDetail> {
  const base = { key: `BackupPolicy/${policyName}`, kind: 'BackupPolicy' as const, name: policyName }
  const id = desired.id
  const job = jobs.find((j) => String(j.id) === id)
  const detail = (d: BackupJobDetail): BackupJobDetail => d
  if (job) {
    const p = jobPolicy(job)
    if (!p || p.owner !== owner || p.policy !== policyName) {
      const message = `backup job "${id}" exists in Proxmox but was not created by this Proximity for BackupPolicy/${policyName}; it is left alone (rename the policy, or remove the job in Proxmox if it is stale)`
      return {
        ...base,
        type: 'noop',
        changes: [change({ path: 'job', key: 'id', before: id, after: id, impact: 'live', refused: message })],
        summary: `backup job ${id} belongs to someone else`,
        detail: detail({ mode: 'conflict', id, message }),
      }
    }
  }
  if (!desired.params) {
    const message = `the selector matches no app with a guest${desired.selection.pending.length > 0 ? ` yet (waiting for ${desired.selection.pending.join(', ')})` : ''}`
    if (!job) return { ...base, type: 'noop', changes: [], summary: `no backup job: ${message}`, detail: detail({ mode: 'absent', id, message }) }
    return {
      ...base,
      type: 'delete',
      changes: [change({ path: 'selector', key: 'vmid', before: normalizeVmids(job.vmid), after: [], impact: 'live' })],
      summary: `delete backup job ${id}: ${message}`,
      detail: detail({ mode: 'delete', id, message }),
    }
  }
  const want = desired.params
  if (!job) {
    const changes: PlanFieldChange[] = (['schedule', 'vmid', 'storage', 'mode', 'compress', 'prune-backups', 'enabled'] as const).map((key) => ({
      path: JOB_FIELD_PATHS[key],
      key,
      after: shown(key, want[key]),
      impact: 'live' as const,
    }))
    return { ...base, type: 'create', changes, summary: `create backup job ${id}`, detail: detail({ mode: 'create', id, params: { ...want } }) }
  }
  const changes = diffBackupJob(want, job)
  if (changes.length === 0) return { ...base, type: 'noop', changes: [], detail: detail({ mode: 'converged', id }) }
  return {
    ...base,
    type: 'update',
    changes,
    summary: `update backup job ${id}`,
    detail: detail({ mode: 'update', id, params: jobUpdateParams(want, changes) }),
  }
}
