/**
 * One audited provider call: runs it, writes an audit entry (ok or error, never secrets), and maps
 * provider failures to the runtime's typed errors so no raw PveApiError escapes a controller.
 */
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { StalledError, TransientError, WaitingError } from '../../src/runtime/errors.js'

/** How long to wait before looking again at a guest locked by someone else (e.g. a backup). */
export const LOCKED_REQUEUE_MS = 15_000

/**
 * Maps anything a provider throws to Transient/Waiting/Stalled. `what` names the step for the
 * message (`create guest for App web`). Typed runtime errors pass through unchanged.
 */
export function mapProviderError(err: unknown, what: string): Error {
  if (err instanceof TransientError || err instanceof WaitingError || err instanceof StalledError) return err
  if (err instanceof PveApiError) {
    if (err.isLocked()) return new WaitingError('GuestLocked', `cannot ${what}: guest is locked (${err.lock ?? 'unknown'}); waiting for the lock holder`, LOCKED_REQUEUE_MS)
    if (err.isTransient() || err.isLockTimeout() || err.isNetwork()) return new TransientError(`cannot ${what}: ${err.message}`, { cause: err })
    if (err.isAuth()) return new StalledError('PermissionDenied', `cannot ${what}: ${err.message}; check the api token's permissions`, { cause: err })
    if (err.isTlsMismatch()) return new StalledError('TlsMismatch', `cannot ${what}: ${err.message}`, { cause: err })
    if (err.isValidation()) return new StalledError('InvalidConfig', `cannot ${what}: ${err.message}`, { cause: err })
    return new StalledError('ProxmoxError', `cannot ${what}: ${err.message}`, { cause: err })
  }
  if (err instanceof PveTaskError) {
    if (err.isLocked()) return new WaitingError('GuestLocked', `cannot ${what}: guest is locked (${err.lock ?? 'unknown'}); waiting for the lock holder`, LOCKED_REQUEUE_MS)
    if (err.isTransient()) return new TransientError(`cannot ${what}: ${err.message}`, { cause: err })
    return new StalledError('TaskFailed', `cannot ${what}: ${err.message}`, { cause: err })
  }
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
export async function audited<T>(ctx: ControllerContext, info: CallInfo, fn: () => Promise<T>): Promise<T> {
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
 * issue 7: a provider error (SSH failure, Proxmox error, task log) loses the reconciled
 * object's secret values here, before it is audited, wrapped or shown.
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
export async function waitTask(ctx: ControllerContext, node: string, upid: string, what: string): Promise<void> {
  try {
    await ctx.pve.waitTask(node, upid, { pollMs: TASK_POLL_MS })
  } catch (err) {
    // Task failure messages carry the task log's last lines: redact them (issue 7).
    throw await withoutSecrets(ctx, mapProviderError(err, what))
  }
}

/** True for a PveApiError that says "does not exist". */
export const isNotFound = (err: unknown): boolean =>
  (err instanceof PveApiError && err.isNotFound()) || (err instanceof PveTaskError && err.isNotFound()) || (err instanceof Error && (err.cause instanceof PveApiError) && err.cause.isNotFound())

/** True for a PveApiError that says "already exists". */
export const isAlreadyExists = (err: unknown): boolean =>
  (err instanceof PveApiError && err.isAlreadyExists()) || (err instanceof Error && err.cause instanceof PveApiError && err.cause.isAlreadyExists())
