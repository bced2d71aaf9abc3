/**
 * Pure helpers for status conditions (CONVENTIONS "Conditions"; KEP-1623): `lastTransitionTime`
 * changes only when `status` changes, `Ready` is always present, `Reconciling` and `Stalled` are
 * present only while True. Every function returns a new array and never mutates its input.
 */
import type { Condition } from '../store/types.js'

/** Standard condition types. */
export const READY = 'Ready'
export const RECONCILING = 'Reconciling'
export const STALLED = 'Stalled'

/** The reason pattern from the Kubernetes API conventions. */
export const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/

/** True when `reason` is a valid condition reason (PascalCase-ish, see REASON_PATTERN). */
export function isValidReason(reason: string): boolean {
  return typeof reason === 'string' && reason.length <= 1024 && REASON_PATTERN.test(reason)
}

/** Throws a TypeError naming the bad reason; returns it otherwise. */
export function assertReason(reason: string): string {
  if (!isValidReason(reason)) {
    throw new TypeError(`invalid condition reason ${JSON.stringify(reason)}: use PascalCase such as DependencyNotReady`)
  }
  return reason
}

/** What a caller states about one condition; times and generation are filled in. */
export interface ConditionInput {
  type: string
  status: Condition['status']
  reason: string
  message: string
}

/** The condition of `type`, or undefined (which means Unknown). */
export function getCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type)
}

/** True when the condition of `type` is present with status True. */
export function isTrue(conditions: readonly Condition[], type: string): boolean {
  return getCondition(conditions, type)?.status === 'True'
}

/**
 * Sets one condition. `lastTransitionTime` is kept when the status is unchanged and set to `now`
 * otherwise; reason, message and `observedGeneration` are always updated. Throws on a bad reason.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  now: string,
  observedGeneration: number,
): Condition[] {
  assertReason(input.reason)
  const prev = getCondition(conditions, input.type)
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime: prev && prev.status === input.status ? prev.lastTransitionTime : now,
    observedGeneration,
  }
  if (!prev) return [...conditions, next]
  return conditions.map((c) => (c.type === input.type ? next : c))
}

/** Removes the condition of `type` (absent means Unknown). */
export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type)
}

/** The standard state of one object after a reconcile. */
export interface StandardConditions {
  ready: { status: Condition['status']; reason: string; message: string }
  /** Set Reconciling=True with this reason/message; absent or false removes it. */
  reconciling?: { reason: string; message: string } | false
  /** Set Stalled=True with this reason/message; absent or false removes it. */
  stalled?: { reason: string; message: string } | false
}

/**
 * Applies Ready / Reconciling / Stalled at once, keeping them in a stable order (Ready first)
 * ahead of domain conditions, so Ready is always present and the other two only while True.
 */
export function setStandardConditions(
  conditions: readonly Condition[],
  state: StandardConditions,
  now: string,
  observedGeneration: number,
): Condition[] {
  let next = setCondition(conditions, { type: READY, ...state.ready }, now, observedGeneration)
  next = state.reconciling
    ? setCondition(next, { type: RECONCILING, status: 'True', ...state.reconciling }, now, observedGeneration)
    : removeCondition(next, RECONCILING)
  next = state.stalled
    ? setCondition(next, { type: STALLED, status: 'True', ...state.stalled }, now, observedGeneration)
    : removeCondition(next, STALLED)
  const order = [READY, RECONCILING, STALLED]
  const rank = (c: Condition): number => {
    const i = order.indexOf(c.type)
    return i < 0 ? order.length : i
  }
  return next
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map((x) => x.c)
}
