/**
 * Typed errors of the SSH node-shell adapter. Messages and fields never contain command
 * arguments, file contents or stdin (they may hold secrets): only the command NAME
 * (`pct exec`, `pct push` …) and a short stderr tail.
 */

/** Why an SSH operation failed. */
export type SshErrorCode =
  /** TCP connect failed or the handshake timed out */
  | 'connect'
  /** the server refused our credentials */
  | 'auth'
  /** the host key does not match the pinned fingerprint */
  | 'host-key'
  /** the connection dropped while a command ran */
  | 'closed'
  /** the command did not finish within its timeout */
  | 'timeout'
  /** the command ran and failed (non-zero exit where success was required) */
  | 'command'
  /** an argument failed validation before anything was sent */
  | 'invalid-argument'

const TRANSIENT: ReadonlySet<SshErrorCode> = new Set(['connect', 'closed', 'timeout'])

/** A failed SSH operation. */
export class SshError extends Error {
  override readonly name: string = 'SshError'
  readonly code: SshErrorCode
  /** command name without arguments, e.g. `pct push` */
  readonly command: string
  /** last lines of stderr (at most 1,000 characters), '' if none */
  readonly stderr: string
  readonly exitCode?: number
  constructor(code: SshErrorCode, message: string, opts: { command?: string; stderr?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    this.command = opts.command ?? ''
    this.stderr = tail(opts.stderr ?? '')
    this.exitCode = opts.exitCode
  }

  /** True for failures worth retrying with backoff (network, timeouts). */
  get transient(): boolean {
    return TRANSIENT.has(this.code)
  }
}

/** The node presented a host key other than the pinned one; nothing was sent. */
export class SshHostKeyMismatchError extends SshError {
  override readonly name = 'SshHostKeyMismatchError'
  constructor(readonly expected: string, readonly actual: string, host: string) {
    super('host-key', `ssh host key mismatch for ${host}: expected ${expected}, got ${actual}; check cluster.ssh.hostKey`)
  }
}

/** True when `err` is an SshError that is worth retrying. */
export function isTransientSshError(err: unknown): boolean {
  return err instanceof SshError && err.transient
}

/** Last lines of `text`, at most `max` characters. */
export function tail(text: string, max = 1000): string {
  const t = text.trimEnd()
  return t.length <= max ? t : '…' + t.slice(t.length - max + 1)
}
