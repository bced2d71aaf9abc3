/**
 * What the Restore controller keeps in its status `extra` (never secrets): the outcome of each
 * run keyed by the Restore's specHash, so applying the same manifest again does not restore again,
 * and the run in flight (so a crash or a health wait resumes instead of starting over).
 */

/** How one restore ended. */
export interface RestoreOutcome {
  result: 'Succeeded' | 'Failed' | 'Refused'
  reason: string
  message: string
  /** The backup restored (or chosen). */
  volid?: string
  /** The revision the backup was taken at (from its notes), when known. */
  revision?: string
  /** The safety backup of the state before the restore. */
  safetyBackup?: string
  /** ms epoch */
  at: number
}

/** A restore in flight. */
export interface RestoreInFlight {
  specHash: string
  volid: string
  revision?: string
  safetyBackup?: string
  /** `restored`: the guest was restored and started; the health gate is pending since `restoredAt`. */
  phase: 'backing-up' | 'restored'
  restoredAt?: number
}

export interface RestoreExtra {
  outcomes?: Record<string, RestoreOutcome>
  inFlight?: RestoreInFlight
  [k: string]: unknown
}

/** How many past outcomes are kept. */
export const KEEP_OUTCOMES = 10

/** `outcomes` with `specHash → o` added, the oldest dropped beyond KEEP_OUTCOMES. */
export function withOutcome(outcomes: Record<string, RestoreOutcome> | undefined, specHash: string, o: RestoreOutcome): Record<string, RestoreOutcome> {
  const all = Object.entries({ ...outcomes, [specHash]: o }).sort((a, b) => a[1].at - b[1].at)
  return Object.fromEntries(all.slice(-KEEP_OUTCOMES))
}
