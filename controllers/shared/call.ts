/**
 * Provider calls as every controller makes them, whatever its kind: one audited call (ok or
 * error, never secrets), read-only calls, task waits, and the one place where Proxmox and SSH
 * failures become the runtime's typed errors (DESIGN §5) with a classified `failure`, so no raw
 * provider error escapes a controller and no controller reads message text.
 */
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import { SshError, SshHostKeyMismatchError } from '../../src/providers/ssh/errors.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { failureOf, StalledError, TransientError, WaitingError, type Failure, type ReconcileErrorOptions } from '../../src/runtime/errors.js'

/** How long to wait before looking again at a guest locked by someone else (e.g. a backup). */
export const LOCKED_REQUEUE_MS = 15_000

/**
 * Maps an SSH failure. Auth and host-key failures need a person (stalled; a host-key mismatch
 * names the pinned and the offered fingerprint and is never retried in a loop); connection
 * failures, drops and timeouts are transient; a failed node command is transient too (the next
 * attempt runs it again); an argument our own validation refused is stalled.
 */
function mapSshError(err: SshError, what: string): Error {
  if (err instanceof SshHostKeyMismatchError) {
    return new StalledError(
      'SshHostKeyMismatch',
      `cannot ${what}: the ssh host key of the node is not the pinned one: expected ${err.expected}, offered ${err.actual}; if the node's key changed on purpose (a reinstall), set cluster.ssh.hostKey to ${err.actual}, otherwise the connection may be intercepted`,
      { cause: err, failure: 'identity-mismatch' },
    )
  }
  switch (err.code) {
    case 'host-key':
      return new StalledError('SshHostKeyMismatch', `cannot ${what}: ${err.message}`, { cause: err, failure: 'identity-mismatch' })
    case 'auth':
      return new StalledError('SshAuthFailed', `cannot ${what}: the node refused the ssh login; check cluster.ssh.user and cluster.ssh.privateKey`, { cause: err, failure: 'ssh-auth' })
    case 'connect':
    case 'closed':
    case 'timeout':
      return new TransientError(`cannot ${what}: ${err.message}`, { cause: err, failure: 'network' })
    case 'invalid-argument':
      return new StalledError('InvalidArgument', `cannot ${what}: ${err.message}`, { cause: err, failure: 'invalid' })
    case 'command':
      return new TransientError(`cannot ${what}: ${err.message}`, { cause: err, failure: 'command' })
  }
}

/**
 * Maps anything a provider throws to Transient/Waiting/Stalled with a `failure`. `what` names the
 * step for the message (`create guest for App web`). Typed runtime errors pass through unchanged.
 */
export function mapProviderError(err: unknown, what: string): Error {
  if (err instanceof TransientError || err instanceof WaitingError || err instanceof StalledError) return err
  if (err instanceof PveApiError) {
    const opts = (failure: Failure): ReconcileErrorOptions => ({ cause: err, failure })
    if (err.isLocked()) return new WaitingError('GuestLocked', `cannot ${what}: guest is locked (${err.lock ?? 'unknown'}); waiting for the lock holder`, LOCKED_REQUEUE_MS, opts('locked'))
    if (err.isLockTimeout()) return new TransientError(`cannot ${what}: ${err.message}`, opts('lock-timeout'))
    if (err.isNetwork()) return new TransientError(`cannot ${what}: ${err.message}`, opts('network'))
    if (err.isTransient()) return new TransientError(`cannot ${what}: ${err.message}`, opts('other'))
    if (err.isAuth()) return new StalledError('PermissionDenied', `cannot ${what}: ${err.message}; check the api token's permissions`, opts('permission'))
    if (err.isTlsMismatch()) return new StalledError('TlsMismatch', `cannot ${what}: ${err.message}`, opts('identity-mismatch'))
    const failure = err.isNotFound() ? 'not-found' : err.isAlreadyExists() ? 'already-exists' : err.isValidation() ? 'invalid' : 'other'
    if (err.isValidation()) return new StalledError('InvalidConfig', `cannot ${what}: ${err.message}`, opts(failure))
    return new StalledError('ProxmoxError', `cannot ${what}: ${err.message}`, opts(failure))
  }
  if (err instanceof PveTaskError) {
    if (err.isLocked()) return new WaitingError('GuestLocked', `cannot ${what}: guest is locked (${err.lock ?? 'unknown'}); waiting for the lock holder`, LOCKED_REQUEUE_MS, { cause: err, failure: 'locked' })
    if (err.isTransient()) return new TransientError(`cannot ${what}: ${err.message}`, { cause: err, failure: 'lock-timeout' })
    return new StalledError('TaskFailed', `cannot ${what}: ${err.message}`, { cause: err, failure: err.isNotFound() ? 'not-found' : 'task-failed' })
  }
  if (err instanceof SshError) return mapSshError(err, what)
  const msg = err instanceof Error ? err.message : String(err)
  return new TransientError(`cannot ${what}: ${msg}`, { cause: err })
}

export interface CallInfo {
  /** Audit action, e.g. `POST /nodes/{node}/lxc` or `ssh pct exec`. */
  action: string
  /** e.g. `lxc/101` */
  target?: string
  /** Why (the plan step). */
  reason?: string
  /** Used in error messages: `create guest for App web`. */
  what: string
}

/** Runs a mutating call, audits it and maps its failure. */
export async function audited<T>(ctx: Pick<ControllerContext, 'audit' | 'redact'>, info: CallInfo, fn: () => Promise<T>): Promise<T> {
  try {
    const out = await fn()
    ctx.audit({ action: info.action, target: info.target, reason: info.reason, result: 'ok', ...(typeof out === 'string' && out.startsWith('UPID:') ? { upid: out } : {}) })
    return out
  } catch (err) {
    const mapped = await withoutSecrets(ctx, mapProviderError(err, info.what))
    ctx.audit({ action: info.action, target: info.target, reason: info.reason, result: 'error', error: mapped.message })
    throw mapped
  }
}

/**
 * A provider error (SSH failure, Proxmox error, task log) loses the reconciled object's secret
 * values here, before it is audited, wrapped or shown.
 */
async function withoutSecrets(ctx: Pick<ControllerContext, 'redact'>, err: Error): Promise<Error> {
  if (!ctx.redact) return err
  err.message = await ctx.redact(err.message)
  return err
}

/** Runs a read-only call and maps its failure (no audit entry); with `ctx`, secrets are redacted. */
export async function read<T>(what: string, fn: () => Promise<T>, ctx?: Pick<ControllerContext, 'redact'>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw ctx ? await withoutSecrets(ctx, mapProviderError(err, what)) : mapProviderError(err, what)
  }
}

/** Task status poll interval: short, since creates and starts usually finish in seconds. */
export const TASK_POLL_MS = 100

/** Waits for a task and maps its failure. */
export async function waitTask(ctx: Pick<ControllerContext, 'pve' | 'redact'>, node: string, upid: string, what: string): Promise<void> {
  try {
    await ctx.pve.waitTask(node, upid, { pollMs: TASK_POLL_MS })
  } catch (err) {
    // Task failure messages carry the task log's last lines: redact them.
    throw await withoutSecrets(ctx, mapProviderError(err, what))
  }
}

/** True when `err` (a provider error, or a typed error mapped from one) says "does not exist". */
export const isNotFound = (err: unknown): boolean =>
  (err instanceof PveApiError && err.isNotFound()) || (err instanceof PveTaskError && err.isNotFound()) || failureOf(err) === 'not-found'

/** True when `err` (a provider error, or a typed error mapped from one) says "already exists". */
export const isAlreadyExists = (err: unknown): boolean => (err instanceof PveApiError && err.isAlreadyExists()) || failureOf(err) === 'already-exists'

/** True when `err` says a Proxmox task ran and failed (Proxmox rolls back what it did). */
export const isTaskFailed = (err: unknown): boolean =>
  (err instanceof PveTaskError && !err.isNotFound() && !err.isLocked() && !err.isTransient()) || failureOf(err) === 'task-failed'
