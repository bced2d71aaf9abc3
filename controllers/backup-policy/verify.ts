/**
 * Restore drills of a BackupPolicy (`spec.verify`, issue 11 point 6), the pure part: when a drill
 * is due, which apps it takes, how the plan shows verify changes, and the `RestoreVerified`
 * conditions. The runner is ./drills.ts; the scratch guest itself is controllers/restore/drill.ts.
 *
 * When a drill is due: the scheduled start `previousOccurrence(verify.schedule, now)` is due when
 * it is not before the time verify was first seen (`since`) and is later than the scheduled start
 * the last run served (`lastScheduledAt`, kept in the policy's status). So a daemon that was down
 * at the scheduled time makes the run up once when it is back (never skipped), and a restart just
 * after a run does not run it again (never repeated).
 */
import { nextOccurrence, previousOccurrence } from '../../src/model/calendar-occurrence.js'
import type { BackupVerifySpec } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { DomainCondition } from '../../src/runtime/controller.js'
import { formatDuration } from '../app/apply.js'

/** Health timeout of a drill when neither verify nor the app sets one. */
export const DEFAULT_DRILL_HEALTH_TIMEOUT_MS = 5 * 60_000

/** The outcome of one app's drill, as status keeps it. */
export interface DrillRecord {
  ok: boolean
  /** `Verified`, `HealthCheckFailed`, `RestoreFailed`, `BackupNotFound`, `DrillInterrupted`. */
  reason: string
  /** The backup restored (absent when there was none). */
  volid?: string
  /** When the drill started (ISO). */
  at: string
  durationMs: number
  message: string
  /** `schedule` (spec.verify) or `manual` (`proximity backup verify`). */
  trigger: 'schedule' | 'manual'
}

/** A run of drills in progress (remembered when it starts, so a killed run is reported). */
export interface DrillRun {
  /** The scheduled start it serves (ISO). */
  scheduledAt: string
  startedAt: string
  /** App keys (`App/web`) it drills, in order. */
  apps: string[]
}

/** `verify` as the plan compares it (what was last applied). */
export type AppliedVerify = Pick<BackupVerifySpec, 'schedule' | 'suspend'> & Partial<Pick<BackupVerifySpec, 'healthTimeout' | 'appsPerRun'>>

/** What the policy remembers about its drills (`status.extra.verify`). */
export interface VerifyMemory {
  /** When verify was first seen (ISO): runs scheduled before were not due. */
  since?: string
  /** The scheduled start the last run served (ISO). */
  lastScheduledAt?: string
  running?: DrillRun
  /** The last drill per app key. */
  results?: Record<string, DrillRecord>
  /** The verify spec last applied (plan shows changes against it). */
  applied?: AppliedVerify
}

export interface DrillSchedule {
  due: boolean
  /** The scheduled start a due run serves. */
  scheduledAt?: Date
  /** The next scheduled start after now. */
  nextAt?: Date
  /** Why nothing is due, for status messages. */
  message: string
}

const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z')

/** Whether a drill run is due now (see the module comment). Pure. */
export function drillSchedule(verify: BackupVerifySpec | undefined, opts: { now: Date; policySuspended: boolean; memory: VerifyMemory; timeZone?: string }): DrillSchedule {
  if (!verify) return { due: false, message: 'no restore drills configured (spec.verify)' }
  if (opts.policySuspended || verify.suspend) return { due: false, message: `restore drills are suspended (${opts.policySuspended ? 'spec.suspend' : 'spec.verify.suspend'})` }
  const tz = { timeZone: opts.timeZone ?? 'UTC' }
  const nextAt = nextOccurrence(verify.schedule, opts.now, tz)
  const next = nextAt ? `; next drill at ${iso(nextAt)}` : ''
  const prev = previousOccurrence(verify.schedule, opts.now, tz)
  const since = opts.memory.since ? Date.parse(opts.memory.since) : opts.now.getTime()
  const served = opts.memory.lastScheduledAt ? Date.parse(opts.memory.lastScheduledAt) : -Infinity
  if (prev === undefined || prev.getTime() < since) return { due: false, nextAt, message: `no restore drill of "${verify.schedule}" is due yet${next}` }
  if (prev.getTime() <= served) return { due: false, nextAt, message: `the drill scheduled at ${iso(prev)} has run${next}` }
  return { due: true, scheduledAt: prev, nextAt, message: `the drill scheduled at ${iso(prev)} is due` }
}

/**
 * The apps of one run: every candidate, or with `appsPerRun` those verified longest ago (never
 * verified first), then by key. Pure.
 */
export function pickDrillApps(candidates: readonly string[], results: Record<string, DrillRecord> | undefined, appsPerRun: number | undefined): string[] {
  const last = (k: string): number => (results?.[k] ? Date.parse(results[k]!.at) : -Infinity)
  const order = [...candidates].sort((a, b) => last(a) - last(b) || (a < b ? -1 : a > b ? 1 : 0))
  return appsPerRun === undefined ? order : order.slice(0, appsPerRun)
}

/** `verify` as the plan compares it. */
export function appliedVerify(v: BackupVerifySpec | undefined): AppliedVerify | undefined {
  if (!v) return undefined
  return { schedule: v.schedule, suspend: v.suspend, ...(v.healthTimeout !== undefined ? { healthTimeout: v.healthTimeout } : {}), ...(v.appsPerRun !== undefined ? { appsPerRun: v.appsPerRun } : {}) }
}

const VERIFY_FIELDS = ['schedule', 'suspend', 'healthTimeout', 'appsPerRun'] as const

/**
 * Field-by-field changes of `verify` against what was last applied (`live`: drills follow at once).
 * A policy applied before verify existed (no `applied` memory and no verify) plans nothing.
 */
export function diffVerify(want: AppliedVerify | undefined, had: AppliedVerify | undefined): PlanFieldChange[] {
  if (!want && !had) return []
  if (!want) return [{ path: 'verify', key: 'verify', before: had, after: undefined, impact: 'live', note: 'restore drills stop' }]
  const out: PlanFieldChange[] = []
  for (const k of VERIFY_FIELDS) {
    const a = had?.[k]
    const b = want[k]
    if (a === b) continue
    // Timeouts are shown as durations (`90s`), as written in manifests.
    const shown = (v: typeof a): unknown => (k === 'healthTimeout' && typeof v === 'number' ? formatDuration(v) : v)
    out.push({ path: `verify.${k}`, key: `verify.${k}`, before: shown(a), after: shown(b), impact: 'live' })
  }
  return out
}

/** The `RestoreVerified` condition of an app for its last drill. */
export function restoreVerifiedCondition(r: DrillRecord): DomainCondition {
  const from = r.volid ? `backup ${r.volid}` : 'no backup'
  const message = r.ok
    ? `${from} restored into a scratch guest and healthy in ${formatDuration(r.durationMs)} (drill at ${r.at})`
    : `drill at ${r.at} of ${from} failed after ${formatDuration(r.durationMs)}: ${r.message}`
  return { type: 'RestoreVerified', status: r.ok ? 'True' : 'False', reason: r.reason, message }
}

/**
 * The policy's `RestoreVerified` condition over the apps it drilled (`results`, any subset of the
 * selected apps): False when any last drill failed, True when all passed, Unknown before the first.
 */
export function policyVerifiedCondition(results: Record<string, DrillRecord>, selected: readonly string[], schedule: DrillSchedule): DomainCondition {
  const mine = selected.filter((k) => results[k] !== undefined).sort()
  const failed = mine.filter((k) => !results[k]!.ok)
  const next = schedule.nextAt ? `; next drill at ${iso(schedule.nextAt)}` : ''
  if (failed.length > 0) {
    return { type: 'RestoreVerified', status: 'False', reason: results[failed[0]!]!.reason, message: `${failed.map((k) => `${k}: ${results[k]!.message}`).join('; ')}${next}` }
  }
  if (mine.length === 0) return { type: 'RestoreVerified', status: 'Unknown', reason: 'NotVerifiedYet', message: `no restore drill has run yet${next}` }
  const untested = selected.length - mine.length
  return {
    type: 'RestoreVerified',
    status: 'True',
    reason: 'Verified',
    message: `${mine.length} app${mine.length === 1 ? '' : 's'} restored and healthy in their last drill${untested > 0 ? ` (${untested} not drilled yet)` : ''}${next}`,
  }
}
