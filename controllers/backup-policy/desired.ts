/**
 * BackupPolicy → the Proxmox backup job (`/cluster/backup`, REFERENCE §4.10) Proximity wants. Pure.
 *
 * One job per policy, so backups run on Proxmox's own scheduler even when Proximity is down:
 *
 * | job parameter    | from                                                                    |
 * |------------------|-------------------------------------------------------------------------|
 * | `id`             | {@link backupJobId}(owner, policy): deterministic, survives restarts    |
 * | `schedule`       | `spec.schedule` as written (Proxmox stores it verbatim)                 |
 * | `vmid`           | the selector resolved against the apps that have a guest, sorted        |
 * | `storage`        | `spec.storage`, else `Cluster.defaults.backupStorage`                   |
 * | `mode`           | `spec.mode`                                                             |
 * | `compress`       | `spec.compress` (`none` → `0`)                                          |
 * | `prune-backups`  | `spec.retention` ({@link pruneBackups})                                 |
 * | `notes-template` | owner + policy + `{{guestname}}`/`{{vmid}}` (see src/model/backup-notes) |
 * | `enabled`        | `0` when `spec.suspend`, else `1`                                       |
 * | `comment`        | the ownership marker (`proximity:managed {"kind":"BackupPolicy",…}`)     |
 *
 * `selector.all` means every Proximity app, never Proxmox's `all=1` (which would back up guests
 * Proximity does not own). Appliances join only with `includeAppliance`. Fields Proximity does
 * not manage (`repeat-missed`, `mailto`, `bwlimit`, …) are left as they are on the job.
 * Proxmox refuses a job without guests, so a selector that matches no guest yet has no job.
 */
import { createHash } from 'node:crypto'
import { renderJobNotesTemplate } from '../../src/model/backup-notes.js'
import { encodeMarker, parseMarker } from '../../src/model/marker.js'
import type { BackupPolicyManifest, BackupPolicySpec } from '../../src/model/types.js'

/** Proxmox's limit on a backup job id (`maxLength` of `id` in the API schema). */
export const BACKUP_JOB_ID_MAX_LENGTH = 50
/** `pve-configid` (`$CONFIGID_RE` in pve-common): a letter, then letters, digits, `_`, `-`. */
export const CONFIGID_PATTERN = /^[a-z][a-z0-9_-]+$/i

const PREFIX = 'proximity'

/**
 * The job id of a policy: `proximity_<owner>_<policy>`. Names cannot contain `_`, so the id maps
 * back to exactly one (owner, policy) pair and two installations sharing a cluster never collide.
 * When that is longer than Proxmox's 50 characters, the id becomes
 * `proximity_<12 hex of sha256(owner/policy)>_<policy cut to fit>`: still deterministic, still
 * recognisable in the Proxmox UI.
 */
export function backupJobId(owner: string, policy: string): string {
  const plain = `${PREFIX}_${owner}_${policy}`
  if (plain.length <= BACKUP_JOB_ID_MAX_LENGTH) return plain
  const hash = createHash('sha256').update(`${owner}/${policy}`).digest('hex').slice(0, 12)
  const head = `${PREFIX}_h${hash}_`
  return `${head}${policy.slice(0, BACKUP_JOB_ID_MAX_LENGTH - head.length)}`
}

/** One guest a policy can select: an App or the Appliance, with its vmid when it exists. */
export interface BackupTarget {
  kind: 'App' | 'Appliance'
  name: string
  labels?: Record<string, string>
  /** Undefined while the guest does not exist yet. */
  vmid?: number
}

/** What a selector resolved to. */
export interface BackupSelection {
  /** The vmids the job backs up, ascending, unique. */
  vmids: number[]
  /** Selected targets that have a guest, sorted by kind then name. */
  selected: { kind: BackupTarget['kind']; name: string; vmid: number }[]
  /** Selected targets without a guest yet (joined when they get one). */
  pending: string[]
  /** Names in `selector.apps` that match no App at all (the loader should have refused them). */
  unknown: string[]
}

const matchesLabels = (labels: Record<string, string> | undefined, want: Record<string, string>): boolean =>
  Object.entries(want).every(([k, v]) => labels?.[k] === v)

/**
 * True when a policy's selector picks `target` (whether or not it has a guest yet): an App by
 * `matchLabels` (every pair; an empty map matches every app, as in Kubernetes), by name (`apps`)
 * or `all`; the Appliance only with `includeAppliance`.
 */
export function selects(spec: Pick<BackupPolicySpec, 'selector' | 'includeAppliance'>, target: Pick<BackupTarget, 'kind' | 'name' | 'labels'>): boolean {
  if (target.kind === 'Appliance') return spec.includeAppliance === true
  const sel = spec.selector
  if (sel.apps !== undefined) return sel.apps.includes(target.name)
  if (sel.matchLabels !== undefined) return matchesLabels(target.labels, sel.matchLabels)
  return sel.all === true
}

/**
 * Resolves a policy's selector against the known targets. Apps are picked by `matchLabels` (all
 * pairs must match; an empty map matches every app, as in Kubernetes), by name (`apps`) or all of
 * them (`all`); appliances join only with `includeAppliance`. Pure and order-independent.
 */
export function selectTargets(spec: Pick<BackupPolicySpec, 'selector' | 'includeAppliance'>, targets: readonly BackupTarget[]): BackupSelection {
  const picked = targets.filter((t) => selects(spec, t))
  const appNames = new Set(targets.filter((t) => t.kind === 'App').map((t) => t.name))
  const unknown = (spec.selector.apps ?? []).filter((n) => !appNames.has(n))
  const order = (t: { kind: string; name: string }): string => `${t.kind === 'App' ? 0 : 1}/${t.name}`
  const withGuest = picked.filter((t): t is BackupTarget & { vmid: number } => t.vmid !== undefined)
  return {
    vmids: [...new Set(withGuest.map((t) => t.vmid))].sort((a, b) => a - b),
    selected: withGuest.map((t) => ({ kind: t.kind, name: t.name, vmid: t.vmid })).sort((a, b) => (order(a) < order(b) ? -1 : 1)),
    pending: picked.filter((t) => t.vmid === undefined).map(order).sort().map((k) => k.slice(k.indexOf('/') + 1)),
    unknown: unknown.sort(),
  }
}

const RETENTION_KEYS: [keyof BackupPolicySpec['retention'], string][] = [
  ['keepDaily', 'keep-daily'],
  ['keepHourly', 'keep-hourly'],
  ['keepLast', 'keep-last'],
  ['keepMonthly', 'keep-monthly'],
  ['keepWeekly', 'keep-weekly'],
  ['keepYearly', 'keep-yearly'],
]

/**
 * `spec.retention` as Proxmox's `prune-backups` property string, keys in Proxmox's (alphabetical)
 * order: `{keepLast: 3, keepDaily: 7}` → `keep-daily=7,keep-last=3`. Zero means "not used" in
 * Proxmox, so zeros are left out; with nothing left the job keeps everything (`keep-all=1`), never
 * falls back to the storage's own retention behind the policy's back.
 */
export function pruneBackups(retention: BackupPolicySpec['retention'] | undefined): string {
  const parts: string[] = []
  for (const [k, key] of RETENTION_KEYS) {
    const v = retention?.[k]
    if (v !== undefined && v > 0) parts.push(`${key}=${v}`)
  }
  return parts.length > 0 ? parts.join(',') : 'keep-all=1'
}

/** `spec.compress` as the job's `compress` enum. */
export function compressParam(c: BackupPolicySpec['compress'] | undefined): '0' | 'zstd' | 'gzip' | 'lzo' {
  if (c === undefined) return 'zstd'
  return c === 'none' ? '0' : c
}

/** The job's `comment`: the ownership marker (no spec hash: it must not churn on every edit). */
export function jobComment(owner: string, policy: string): string {
  return encodeMarker({ kind: 'BackupPolicy', name: policy, owner, specHash: '' })
}

/** The policy a job belongs to, read from its comment marker; undefined for foreign jobs. */
export function jobPolicy(job: { comment?: unknown }): { owner: string; policy: string } | undefined {
  const m = parseMarker(typeof job.comment === 'string' ? job.comment : undefined)
  if (!m || m.kind !== 'BackupPolicy') return undefined
  return { owner: m.owner, policy: m.name }
}

/** The parameters of `POST /cluster/backup` (also the managed fields of `PUT`). */
export type BackupJobParams = {
  id: string
  schedule: string
  vmid: string
  storage: string
  mode: BackupPolicySpec['mode']
  compress: '0' | 'zstd' | 'gzip' | 'lzo'
  'prune-backups': string
  'notes-template': string
  enabled: 0 | 1
  comment: string
}

/** The keys of {@link BackupJobParams} Proximity manages (everything else on a job is left alone). */
export const MANAGED_JOB_KEYS = ['schedule', 'vmid', 'storage', 'mode', 'compress', 'prune-backups', 'notes-template', 'enabled', 'comment'] as const
export type ManagedJobKey = (typeof MANAGED_JOB_KEYS)[number]

export interface DesiredBackupJob {
  id: string
  /** Undefined when the selector matches no guest: Proxmox cannot hold a job without guests. */
  params?: BackupJobParams
  selection: BackupSelection
  storage: string
}

/** What the desired job needs to know about the cluster. */
export interface BackupClusterFacts {
  owner: string
  /** `Cluster.spec.defaults.backupStorage`. */
  backupStorage: string
}

/**
 * The job Proximity wants for `policy`, given the targets (apps and appliance with their vmids).
 * Deterministic: the same inputs always give the same params, so a converged job plans no change.
 */
export function desiredBackupJob(policy: BackupPolicyManifest, cluster: BackupClusterFacts, targets: readonly BackupTarget[]): DesiredBackupJob {
  const name = policy.metadata.name
  const spec = policy.spec
  const id = backupJobId(cluster.owner, name)
  const selection = selectTargets(spec, targets)
  const storage = spec.storage ?? cluster.backupStorage
  if (selection.vmids.length === 0) return { id, selection, storage }
  return {
    id,
    selection,
    storage,
    params: {
      id,
      schedule: spec.schedule,
      vmid: selection.vmids.join(','),
      storage,
      mode: spec.mode ?? 'snapshot',
      compress: compressParam(spec.compress),
      'prune-backups': pruneBackups(spec.retention),
      'notes-template': renderJobNotesTemplate({ owner: cluster.owner, policy: name }),
      enabled: spec.suspend ? 0 : 1,
      comment: jobComment(cluster.owner, name),
    },
  }
}
