/**
 * The three error kinds a reconcile can end with (DESIGN §5). Anything else thrown by a
 * controller is a bug: it is retried like a transient error and logged with its stack.
 */

/** Retry with per-key exponential backoff (network blips, 5xx, lock timeouts). */
export class TransientError extends Error {
  override readonly name = 'TransientError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Requeue after a fixed delay without backoff (dependency not ready, guest locked by a backup). */
export class WaitingError extends Error {
  override readonly name = 'WaitingError'
  /** PascalCase condition reason, e.g. `DependencyNotReady`. */
  readonly reason: string
  readonly requeueAfterMs: number
  constructor(reason: string, message: string, requeueAfterMs = 30_000) {
    super(message)
    this.reason = reason
    this.requeueAfterMs = requeueAfterMs
  }
}

/** Needs a person: no retry until the spec changes (invalid template, permission denied). */
export class StalledError extends Error {
  override readonly name = 'StalledError'
  /** PascalCase condition reason, e.g. `DiskShrinkRefused`. */
  readonly reason: string
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

export type ErrorKind = 'transient' | 'waiting' | 'stalled' | 'bug'

/** Classifies anything thrown by a controller. */
export function classifyError(err: unknown): ErrorKind {
  if (err instanceof TransientError) return 'transient'
  if (err instanceof WaitingError) return 'waiting'
  if (err instanceof StalledError) return 'stalled'
  return 'bug'
}
