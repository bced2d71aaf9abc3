/**
 * Typed failures of the Proxmox provider. Controllers branch on the predicates, never on the
 * message text (REFERENCE §2.4, §6, §10). Messages never carry secrets: no Authorization values,
 * tickets, passwords, token secrets or query strings.
 */
import { TransientError } from '../../runtime/errors.js'

/** What went wrong at the transport level. `http` means the server answered with an error. */
export type PveErrorKind = 'http' | 'network' | 'timeout' | 'tls' | 'protocol' | 'aborted'

export interface PveApiErrorInit {
  kind: PveErrorKind
  /** HTTP status; 0 when no response arrived (network, timeout, tls, aborted). */
  status: number
  /** HTTP reason phrase, or the first line of the PVE error message. */
  reason: string
  message: string
  /** The 400 per-parameter map (`{vmid: "VM 104 already exists"}`). */
  errors?: Record<string, string>
  method: string
  /** `/nodes/{node}/lxc/{vmid}/config` (no `/api2/json` prefix). */
  pathTemplate: string
  cause?: unknown
}

// 500 forms that are answers, not outages: retrying the same request gives the same answer.
const NOT_FOUND_RE = /does not exist|no such |not found|unable to find /i
const EXISTS_RE = /already exists|already defined|is already a pool member/i
const LOCKED_RE = /\b(?:CT|VM) is locked(?: \(([^)]*)\))?/
const LOCK_TIMEOUT_RE = /got timeout|can't lock file/i
const CONFLICT_RE = /detected modified configuration|digest mismatch/i
const DETERMINISTIC_500_RE =
  /already running|not running|protection mode|no options specified|unable to (?:shrink|destroy|remove|modify|delete|use|create)|already at specified size|permission|wrong content type|not implemented|invalid|can't (?:use|remove|overwrite)|does not support|is a template|used in HA/i

/**
 * An HTTP-level failure of a Proxmox API call (or no answer at all: status 0).
 * `message` is short, lower-case and safe to show; `reason` is the server's first line.
 */
export class PveApiError extends Error {
  override readonly name = 'PveApiError'
  readonly kind: PveErrorKind
  readonly status: number
  readonly reason: string
  readonly errors?: Record<string, string>
  readonly method: string
  readonly pathTemplate: string

  constructor(init: PveApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.kind = init.kind
    this.status = init.status
    this.reason = init.reason
    if (init.errors) this.errors = init.errors
    this.method = init.method
    this.pathTemplate = init.pathTemplate
  }

  /** The reason plus every per-parameter error, for matching. */
  private get text(): string {
    const params = this.errors ? Object.values(this.errors).join('\n') : ''
    return `${this.reason}\n${params}`
  }

  /** No response arrived (connection refused/reset/dropped, DNS, TLS handshake failure). */
  isNetwork(): boolean {
    return this.kind === 'network' || this.kind === 'timeout'
  }

  /** The per-request timeout elapsed. For writes the outcome is unknown: re-observe. */
  isTimeout(): boolean {
    return this.kind === 'timeout'
  }

  /** The server certificate did not match the pinned fingerprint/CA: needs a person. */
  isTlsMismatch(): boolean {
    return this.kind === 'tls'
  }

  /** 500 `… does not exist` / `no such …` (PVE has no 404), or 400 `no such task`. */
  isNotFound(): boolean {
    if (this.kind !== 'http') return false
    if (this.status === 500) return NOT_FOUND_RE.test(this.reason)
    if (this.status === 400) return /no such /i.test(this.text)
    return this.status === 404
  }

  /** `CT 101 already exists on node 'pve'`, `VM 104 already exists` (400 from nextid), … */
  isAlreadyExists(): boolean {
    return this.kind === 'http' && (this.status === 500 || this.status === 400) && EXISTS_RE.test(this.text)
  }

  /** `CT is locked (backup)` / `VM is locked (…)`: wait for the lock holder. */
  isLocked(): boolean {
    return this.kind === 'http' && LOCKED_RE.test(this.reason)
  }

  /** The lock name from `CT is locked (backup)`, or undefined. */
  get lock(): string | undefined {
    if (this.kind !== 'http') return undefined
    return LOCKED_RE.exec(this.reason)?.[1]
  }

  /** Config flock contention (`can't lock file … - got timeout`): retry. */
  isLockTimeout(): boolean {
    return this.kind === 'http' && LOCK_TIMEOUT_RE.test(this.reason)
  }

  /** Stale `digest` (`detected modified configuration`): re-read and retry. */
  isConflict(): boolean {
    return this.kind === 'http' && CONFLICT_RE.test(this.reason)
  }

  /** 400 parameter verification failure (see `errors`). */
  isValidation(): boolean {
    return this.kind === 'http' && this.status === 400 && !this.isNotFound() && !this.isAlreadyExists()
  }

  /** 401/403: bad credentials or missing permission (e.g. keyctl via an API token). */
  isAuth(): boolean {
    return this.kind === 'http' && (this.status === 401 || this.status === 403)
  }

  /**
   * Worth retrying later: no answer, 502-504, 595/596, lock timeouts, digest conflicts and any
   * other 5xx that is not one of the deterministic answers (not found, exists, locked, state or
   * validation errors, 501).
   */
  isTransient(): boolean {
    if (this.kind === 'network' || this.kind === 'timeout') return true
    if (this.kind !== 'http') return false
    if (this.isLockTimeout() || this.isConflict()) return true
    if (this.status < 500 || this.status === 501) return false
    if (this.status !== 500) return true
    if (this.isNotFound() || this.isAlreadyExists() || this.isLocked()) return false
    return !DETERMINISTIC_500_RE.test(this.reason)
  }
}

export interface PveTaskErrorInit {
  upid: string
  node: string
  type: string
  exitstatus: string
  logTail: string[]
}

/** A Proxmox task stopped with an exit status other than `OK` / `WARNINGS: n`. */
export class PveTaskError extends Error {
  override readonly name = 'PveTaskError'
  readonly upid: string
  readonly node: string
  /** Worker type (`vzcreate`, `vzstart`, …). */
  readonly type: string
  /** The error text from the last log line (`CT is locked (backup)`). */
  readonly exitstatus: string
  /** The last log lines (at most ~20). */
  readonly logTail: string[]

  constructor(init: PveTaskErrorInit) {
    super(`task ${init.type} on ${init.node} failed: ${firstLine(init.exitstatus)}`)
    this.upid = init.upid
    this.node = init.node
    this.type = init.type
    this.exitstatus = init.exitstatus
    this.logTail = init.logTail
  }

  /** The task failed because the guest was locked (`CT is locked (backup)`). */
  isLocked(): boolean {
    return LOCKED_RE.test(this.exitstatus)
  }

  /** The lock name from the exit status, or undefined. */
  get lock(): string | undefined {
    return LOCKED_RE.exec(this.exitstatus)?.[1]
  }

  /** The task failed on config flock contention: retry. */
  isLockTimeout(): boolean {
    return LOCK_TIMEOUT_RE.test(this.exitstatus)
  }

  /** The task referenced something missing (template, volume, guest). */
  isNotFound(): boolean {
    return NOT_FOUND_RE.test(this.exitstatus)
  }

  /** Lock timeouts are the only task failures a plain retry can fix. */
  isTransient(): boolean {
    return this.isLockTimeout()
  }
}

/** `waitTask` gave up after `timeoutMs`; the task may still be running. Retry with backoff. */
export class PveTaskTimeoutError extends TransientError {
  readonly upid: string
  readonly node: string
  readonly timeoutMs: number
  constructor(node: string, upid: string, timeoutMs: number) {
    super(`task on ${node} still running after ${timeoutMs} ms; check it in the proxmox task list`)
    this.upid = upid
    this.node = node
    this.timeoutMs = timeoutMs
  }
}

/** Task polling was aborted through the caller's AbortSignal. */
export class PveAbortError extends Error {
  override readonly name = 'PveAbortError'
  constructor(message = 'proxmox call aborted') {
    super(message)
  }
}

const firstLine = (s: string): string => s.split('\n', 1)[0] ?? s
