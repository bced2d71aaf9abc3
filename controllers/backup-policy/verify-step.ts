/**
 * The restore-drill step of the BackupPolicy controller: what plan shows (verify changes field by
 * field, leftover scratch guests to remove, a due drill) and what apply does after the job step
 * (remove leftovers, collect a finished run, start a due one). See ./verify.ts for the schedule
 * and ./drills.ts for the runner.
 */
import type { BackupPolicyManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { ControllerContext, DomainCondition } from '../../src/runtime/controller.js'
import { isoTime } from '../../src/runtime/clock.js'
import { removeLeftoverScratch } from '../restore/drill.js'
import { activeDrillRun, DRILL_POLL_MS, forgetDrillRun, recordAppVerified, startDrillRun, type DrillJob } from './drills.js'
import type { VerifyObservation } from './observe.js'
import { appliedVerify, diffVerify, pickDrillApps, policyVerifiedCondition, type DrillRecord, type VerifyMemory } from './verify.js'

/** A due drill looks this far ahead: the daemon comes back at the scheduled time, not a resync later. */
export const DRILL_WAKE_AHEAD_MS = 15 * 60_000

/** What plan hands apply about drills. */
export interface VerifyPlan {
  obs: VerifyObservation
  /** App keys a due run drills (empty: none due). */
  due: string[]
}

/** Pure: the plan's verify changes and the apps of a due run. */
export function planVerify(policy: BackupPolicyManifest, obs: VerifyObservation): { plan: VerifyPlan; changes: PlanFieldChange[] } {
  const changes = diffVerify(appliedVerify(policy.spec.verify), obs.memory.applied)
  for (const l of obs.leftovers) {
    changes.push({ path: 'verify', key: 'scratch', before: `scratch guest ${l.vmid}${l.app ? ` (drill of App/${l.app})` : ''}`, after: undefined, impact: 'live', note: 'left by an interrupted restore drill; removed' })
  }
  const due = obs.schedule.due && !obs.active ? pickDrillApps(obs.candidates.map((c) => c.key), obs.memory.results, policy.spec.verify?.appsPerRun) : []
  if (due.length > 0) {
    changes.push({ path: 'verify', key: 'drill', after: `restore drill of ${due.join(', ')}`, impact: 'live', note: `scheduled at ${obs.schedule.scheduledAt!.toISOString()}; scratch guests, destroyed afterwards` })
  }
  return { plan: { obs, due }, changes }
}

/** What the drill step did, for the policy's result. */
export interface VerifyOutcome {
  memory: VerifyMemory
  condition?: DomainCondition
  changed: string[]
  /** A run is going on: come back in `requeueAfterMs`. */
  running: boolean
  requeueAfterMs?: number
  message?: string
}

/**
 * Apply's drill step: removes leftover scratch guests, records a finished run (or one a killed
 * process left unfinished), and starts the due run in the background. Returns at once.
 */
export async function applyVerify(ctx: ControllerContext, policy: BackupPolicyManifest, v: VerifyPlan): Promise<VerifyOutcome> {
  const key = `BackupPolicy/${policy.metadata.name}`
  const spec = policy.spec.verify
  const now = ctx.now()
  const applied = appliedVerify(spec)
  // What the store holds now wins over what observe read (an observation planned earlier).
  const stored = (ctx.store.getStatus(key)?.extra as { verify?: VerifyMemory } | undefined)?.verify ?? {}
  const memory: VerifyMemory = { ...v.obs.memory, ...stored, ...(v.obs.memory.since && !stored.since ? { since: v.obs.memory.since } : {}), applied }
  const changed: string[] = []
  if (ctx.dryRun) return { memory: v.obs.memory, changed, running: false }
  if (v.obs.leftovers.length > 0) {
    const removed = await removeLeftoverScratch(ctx, v.obs.leftovers)
    if (removed.length > 0) changed.push(`removed scratch guest${removed.length === 1 ? '' : 's'} ${removed.join(', ')} left by an interrupted restore drill`)
  }
  const results = { ...memory.results }
  const run = activeDrillRun(key)
  if (run?.done) {
    Object.assign(results, run.results)
    forgetDrillRun(key)
    memory.running = undefined
    changed.push(`restore drill: ${Object.entries(run.results).map(([k, r]) => `${k} ${r.ok ? 'verified' : `failed (${r.reason})`}`).join(', ')}`)
  } else if (!run && memory.running) {
    // A run this process does not know: the process that started it was killed or stopped.
    for (const k of memory.running.apps) {
      if (results[k] && Date.parse(results[k]!.at) >= Date.parse(memory.running.startedAt)) continue
      const rec: DrillRecord = { ok: false, reason: 'DrillInterrupted', at: memory.running.startedAt, durationMs: Math.max(0, now - Date.parse(memory.running.startedAt)), message: 'the drill was interrupted (Proximity stopped); it runs again at the next scheduled time', trigger: 'schedule' }
      results[k] = rec
      recordAppVerified(ctx, k, rec)
    }
    memory.running = undefined
    changed.push('restore drill interrupted by a stop of Proximity; recorded as failed')
  }
  memory.results = results
  let running = run !== undefined && !run.done
  const served = memory.lastScheduledAt !== undefined && v.obs.schedule.scheduledAt !== undefined && Date.parse(memory.lastScheduledAt) >= v.obs.schedule.scheduledAt.getTime()
  if (!running && !served && v.due.length > 0 && v.obs.schedule.scheduledAt) {
    const startedAt = isoTime(now)
    const ready: Record<string, DrillRecord> = {}
    const jobs: DrillJob[] = []
    for (const k of v.due) {
      const app = ctx.set.apps.find((a) => `App/${a.metadata.name}` === k)
      const volid = v.obs.candidates.find((c) => c.key === k)?.volid
      if (!app) continue
      if (!volid || !v.obs.node) {
        ready[k] = { ok: false, reason: 'BackupNotFound', at: startedAt, durationMs: 0, message: `no backup of ${k} on the policy's storage to restore`, trigger: 'schedule' }
        recordAppVerified(ctx, k, ready[k]!)
        continue
      }
      jobs.push({ key: k, app, volid, node: v.obs.node, ...(spec?.healthTimeout !== undefined ? { healthTimeoutMs: spec.healthTimeout } : {}) })
    }
    memory.lastScheduledAt = v.obs.schedule.scheduledAt.toISOString()
    memory.running = { scheduledAt: memory.lastScheduledAt, startedAt, apps: [...v.due] }
    startDrillRun(ctx, key, memory.running, jobs, ready)
    running = true
    changed.push(`started the restore drill of ${v.due.join(', ')}`)
  }
  if (!spec) {
    // Drills were configured before: the condition says they stopped rather than showing an old verdict.
    const hadDrills = v.obs.memory.applied !== undefined || v.obs.memory.results !== undefined
    const stopped: DomainCondition = { type: 'RestoreVerified', status: 'Unknown', reason: 'NotConfigured', message: 'no restore drills: spec.verify is not set (each App keeps the result of its last drill)' }
    return { memory, changed, running, ...(hadDrills ? { condition: stopped } : {}) }
  }
  const selected = v.obs.candidates.map((c) => c.key)
  const condition = policyVerifiedCondition(results, selected, v.obs.schedule)
  if (running) return { memory, condition, changed, running, requeueAfterMs: DRILL_POLL_MS, message: `restore drill of ${(memory.running ?? activeDrillRun(key)?.run)?.apps.join(', ')} running` }
  const wake = v.obs.schedule.nextAt ? v.obs.schedule.nextAt.getTime() - now : undefined
  return { memory, condition, changed, running, ...(wake !== undefined && wake <= DRILL_WAKE_AHEAD_MS ? { requeueAfterMs: Math.max(1000, wake) } : {}) }
}
