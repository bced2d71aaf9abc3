/**
 * The three error kinds a reconcile can end with (DESIGN §5). Anything else thrown by a
 * controller is a bug: it is retried like a transient error and logged with its stack.
 *
 * Each may carry a `failure`: what went wrong at the far end, as a provider adapter classified it
 * (not found, locked, a failed task …). Controllers branch on the predicates below, never on
 * `reason` or message text.
 */

/** What failed at the far end, classified once where the provider error is mapped. */
export type Failure =
  /** the object does not exist (Proxmox: a 500 saying `does not exist`) */
  | 'not-found'
  /** a create met an existing object */
  | 'already-exists'
  /** the guest is locked by another operation (backup, migrate …) */
  | 'locked'
  /** `can't lock file … got timeout` */
  | 'lock-timeout'
  /** an asynchronous task ended with an error (Proxmox rolled its work back) */
  | 'task-failed'
  /** the API refused the credentials or their permissions */
  | 'permission'
  /** the TLS certificate or the SSH host key is not the pinned one */
  | 'identity-mismatch'
  /** the SSH node refused our user or key */
  | 'ssh-auth'
  /** a connection could not be made or dropped; a timeout */
  | 'network'
  /** the request was invalid (parameter validation) */
  | 'invalid'
  /** a node command ran and failed */
  | 'command'
  /** anything else the provider reported */
  | 'other'

/** Options shared by the typed errors. */
export interface ReconcileErrorOptions {
  cause?: unknown
  failure?: Failure
}

/** Retry with per-key exponential backoff (network blips, 5xx, lock timeouts). */
export class TransientError extends Error {
  override readonly name = 'TransientError'
  readonly failure?: Failure
  constructor(message: string, options?: ReconcileErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.failure = options?.failure
  }
}

/** Requeue after a fixed delay without backoff (dependency not ready, guest locked by a backup). */
export class WaitingError extends Error {
  override readonly name = 'WaitingError'
  /** PascalCase condition reason, e.g. `DependencyNotReady`. */
  readonly reason: string
  readonly requeueAfterMs: number
  readonly failure?: Failure
  constructor(reason: string, message: string, requeueAfterMs = 30_000, options?: ReconcileErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.reason = reason
    this.requeueAfterMs = requeueAfterMs
    this.failure = options?.failure
  }
}

/** Needs a person: no retry until the spec changes (invalid template, permission denied). */
export class StalledError extends Error {
  override readonly name = 'StalledError'
  /** PascalCase condition reason, e.g. `DiskShrinkRefused`. */
  readonly reason: string
  readonly failure?: Failure
  constructor(reason: string, message: string, options?: ReconcileErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.reason = reason
    this.failure = options?.failure
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

/** The far-end failure behind a typed error, or undefined (not a typed error, or not classified). */
export function failureOf(err: unknown): Failure | undefined {
  return err instanceof TransientError || err instanceof WaitingError || err instanceof StalledError ? err.failure : undefined
}

/** True when a typed error says the object does not exist. */
export const isNotFoundFailure = (err: unknown): boolean => failureOf(err) === 'not-found'
/** True when a typed error says a create met an existing object. */
export const isAlreadyExistsFailure = (err: unknown): boolean => failureOf(err) === 'already-exists'
/** True when a typed error says an asynchronous task failed (and was rolled back by Proxmox). */
export const isTaskFailure = (err: unknown): boolean => failureOf(err) === 'task-failed'
/** True when a typed error says the guest is locked by someone else. */
export const isLockedFailure = (err: unknown): boolean => failureOf(err) === 'locked'
