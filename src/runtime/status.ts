/**
 * Pure status bookkeeping: from the previous status and what one reconcile attempt ended with,
 * compute the next status (generation, conditions, revisions, inventory, history) and the
 * events to record. Events only on transitions and non-empty changes, so a no-op resync adds
 * none (DESIGN §5).
 */
import type { DomainCondition, Result, StatusRecorder } from './controller.js'
import type { HistoryEntry, ObjectStatus, StoredEvent } from '../store/types.js'
import { getCondition, isValidReason, READY, setCondition, setStandardConditions, type StandardConditions } from './conditions.js'
import { isoTime } from './clock.js'
import { redactSecrets } from '../store/redact.js'

/** How many history entries a status keeps (newest first). */
export const HISTORY_LIMIT = 10
const MESSAGE_LIMIT = 1000

/** How an attempt ended. `bug` is anything but the three typed errors. */
export type AttemptOutcome = 'success' | 'transient' | 'waiting' | 'stalled' | 'bug'

/** What a controller recorded during one attempt (StatusRecorder), kept on every outcome. */
export interface RecordedStatus {
  conditions: DomainCondition[]
  extra: Record<string, unknown>
  inventory: Record<string, unknown>
}

const RUNTIME_CONDITIONS: ReadonlySet<string> = new Set(['Ready', 'Reconciling', 'Stalled'])

/**
 * A fresh recorder for one attempt; `recorded()` returns what was recorded so far (copies).
 * Runtime-owned condition types are ignored (the runtime sets them from the outcome).
 */
export function createStatusRecorder(): StatusRecorder & { recorded(): RecordedStatus } {
  const conditions = new Map<string, DomainCondition>()
  let extra: Record<string, unknown> = {}
  let inventory: Record<string, unknown> = {}
  return {
    condition(c) {
      if (!RUNTIME_CONDITIONS.has(c.type)) conditions.set(c.type, { ...c })
    },
    remember(patch) {
      extra = { ...extra, ...patch }
    },
    inventory(inv) {
      inventory = { ...inventory, ...inv }
    },
    recorded: () => ({ conditions: [...conditions.values()], extra: { ...extra }, inventory: { ...inventory } }),
  }
}

/** `recorded` with a successful result's conditions, extra and inventory merged on top. */
function mergeRecorded(rec: RecordedStatus | undefined, r: Result | undefined): RecordedStatus {
  const conditions = new Map<string, DomainCondition>()
  for (const c of [...(rec?.conditions ?? []), ...(r?.conditions ?? [])]) conditions.set(c.type, c)
  return {
    conditions: [...conditions.values()],
    extra: { ...rec?.extra, ...r?.extra },
    inventory: { ...rec?.inventory, ...r?.inventory },
  }
}

/** One finished reconcile attempt, as the reconciler saw it. */
export interface Attempt {
  key: string
  kind: string
  name: string
  /** The manifest's specHash; undefined when there is no manifest (an orphan being deleted). */
  specHash?: string
  revision: string
  outcome: AttemptOutcome
  /** Present when outcome is `success`. */
  result?: Result
  /** Reason and message for the error outcomes. */
  reason?: string
  message?: string
  /** What the controller recorded before the attempt ended (any outcome). */
  recorded?: RecordedStatus
  startedAt: number
  finishedAt: number
}

/** An event to store (time is the attempt's end). */
export type PendingEvent = Omit<StoredEvent, 'time'> & { time: string }

/** Returns `reason` when valid, otherwise `fallback` (a controller bug must not break status writes). */
export const safeReason = (reason: string | undefined, fallback: string): string =>
  reason !== undefined && isValidReason(reason) ? reason : fallback

const clean = (m: string | undefined): string => {
  const s = redactSecrets(m ?? '')
  return s.length > MESSAGE_LIMIT ? `${s.slice(0, MESSAGE_LIMIT - 1)}…` : s
}

function standardFor(a: Attempt): { std: StandardConditions; history: HistoryEntry['result']; warning: boolean } {
  const message = clean(a.message)
  switch (a.outcome) {
    case 'success': {
      const r = a.result as Result
      const reason = safeReason(r.reason, r.ready ? 'Succeeded' : 'Progressing')
      const msg = clean(r.message)
      const polling = !r.ready && r.requeueAfterMs !== undefined
      return {
        std: { ready: { status: r.ready ? 'True' : 'False', reason, message: msg }, reconciling: polling ? { reason: 'Progressing', message: msg } : false },
        history: r.ready ? 'Succeeded' : 'Waiting',
        warning: false,
      }
    }
    case 'transient':
      return {
        std: { ready: { status: 'False', reason: 'ProgressingWithRetry', message }, reconciling: { reason: 'ProgressingWithRetry', message } },
        history: 'Failed',
        warning: true,
      }
    case 'waiting': {
      const reason = safeReason(a.reason, 'Progressing')
      return { std: { ready: { status: 'False', reason, message }, reconciling: { reason, message } }, history: 'Waiting', warning: false }
    }
    case 'stalled': {
      const reason = safeReason(a.reason, 'Stalled')
      return { std: { ready: { status: 'False', reason, message }, stalled: { reason, message } }, history: 'Stalled', warning: true }
    }
    case 'bug':
      return {
        std: { ready: { status: 'False', reason: 'ReconciliationFailed', message }, reconciling: { reason: 'ProgressingWithRetry', message } },
        history: 'Failed',
        warning: true,
      }
  }
}

/**
 * Computes the next status and its events. Pure. Whatever the outcome, the controller's recorded
 * domain conditions, memory (`extra`) and inventory are merged into the stored ones. The generation starts at 1 and is bumped when
 * the specHash differs from the stored one; observedGeneration is the generation just acted on.
 * History: consecutive attempts with the same specHash, revision and result update the newest
 * entry (lastReconciled, duration, message) instead of adding one; at most HISTORY_LIMIT kept.
 */
export function nextStatus(prev: ObjectStatus | undefined, a: Attempt): { status: ObjectStatus; events: PendingEvent[] } {
  const now = isoTime(a.finishedAt)
  const specHash = a.specHash ?? prev?.specHash
  const generation = !prev ? 1 : a.specHash !== undefined && prev.specHash !== a.specHash ? prev.generation + 1 : prev.generation
  const { std, history: histResult, warning } = standardFor(a)
  let conditions = setStandardConditions(prev?.conditions ?? [], std, now, generation)
  const r = a.outcome === 'success' ? a.result : undefined
  const rec = mergeRecorded(a.recorded, r)
  for (const c of rec.conditions) {
    if (RUNTIME_CONDITIONS.has(c.type)) continue
    conditions = setCondition(conditions, { ...c, reason: safeReason(c.reason, 'Unknown'), message: clean(c.message) }, now, generation)
  }

  const entry: HistoryEntry = {
    specHash: specHash ?? '',
    revision: a.revision,
    firstReconciled: isoTime(a.startedAt),
    lastReconciled: now,
    durationMs: Math.max(0, a.finishedAt - a.startedAt),
    result: histResult,
    message: clean(r ? r.message : a.message),
  }
  const history = [...(prev?.history ?? [])]
  const head = history[0]
  if (head && head.specHash === entry.specHash && head.revision === entry.revision && head.result === entry.result) {
    history[0] = { ...head, lastReconciled: entry.lastReconciled, durationMs: entry.durationMs, message: entry.message }
  } else {
    history.unshift(entry)
  }

  const status: ObjectStatus = {
    key: a.key,
    kind: a.kind,
    name: a.name,
    generation,
    observedGeneration: generation,
    ...(specHash !== undefined ? { specHash } : {}),
    conditions,
    ...(r ? { lastAppliedRevision: a.revision } : prev?.lastAppliedRevision ? { lastAppliedRevision: prev.lastAppliedRevision } : {}),
    lastAttemptedRevision: a.revision,
    ...(Object.keys(rec.inventory).length > 0 || prev?.inventory ? { inventory: { ...prev?.inventory, ...rec.inventory } } : {}),
    history: history.slice(0, HISTORY_LIMIT),
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
    ...(Object.keys(rec.extra).length > 0 || prev?.extra ? { extra: { ...prev?.extra, ...rec.extra } } : {}),
  }

  const events: PendingEvent[] = []
  if (r?.changed && r.changed.length > 0) {
    events.push({ time: now, key: a.key, type: 'Normal', reason: 'Applied', message: clean(r.changed.join('; ')) })
  }
  const before = prev && getCondition(prev.conditions, READY)
  const after = getCondition(conditions, READY)
  if (after && (!before || before.status !== after.status || before.reason !== after.reason)) {
    events.push({ time: now, key: a.key, type: warning ? 'Warning' : 'Normal', reason: after.reason, message: after.message })
  }
  return { status, events }
}
