/**
 * Our request engine for proxmox-api (`ApiRequestable`): undici fetch through a pinned-TLS Agent,
 * token or ticket auth, PVE parameter encoding, per-request timeouts, bounded retries of reads
 * only, exact content-type checks and typed `PveApiError`s (REFERENCE §1.5, §2, trap 3).
 */
import type { ApiRequestable } from 'proxmox-api'
import { fetch, type Agent, type Dispatcher } from 'undici'
import { PveApiError } from './errors.js'
import { apiRelativePath, namedPathTemplate } from './path-template.js'
import { createPveAgent, TlsPinMismatchError, type PveTlsOptions } from './tls.js'
import {
  encodeParams, firstLine, parseEndpoint, parseErrorBody, PVE_CONTENT_TYPE, redact, redactErrors,
  type ParsedEndpoint, type PveEnvelope,
} from './wire.js'

/** API token (preferred for daemons) or username/password ticket auth. */
export type PveAuth =
  | { tokenId: string; tokenSecret: string }
  | { username: string; password: string }

/** One HTTP attempt, for metrics and audit. Never carries parameters. */
export interface PveRequestEvent {
  method: string
  pathTemplate: string
  /** HTTP status, or 0 when no response arrived. */
  status: number
  durationMs: number
  /** 1 for the first try, 2+ for retries of reads. */
  attempt: number
}

export interface PveRetryOptions {
  /** Extra tries for GETs on transient failures. Writes are never retried. @default 3 */
  retries?: number
  /** @default 250 */
  baseDelayMs?: number
  /** @default 4000 */
  maxDelayMs?: number
}

export interface PveEngineOptions {
  /** `https://host:8006`; a missing port means 8006. */
  endpoint: string
  tls?: PveTlsOptions
  auth: PveAuth
  /** Per-request timeout, from the call to the whole answer (queueing for a connection included). @default 30_000 */
  timeoutMs?: number
  /** Connections kept open to the endpoint; more requests queue. @default 8 */
  maxConnections?: number
  /** Timeout of the ticket call. @default 10_000 */
  authTimeoutMs?: number
  retry?: PveRetryOptions
  /** Renew a ticket older than this (PVE tickets live 2 h). @default 5_400_000 (90 min) */
  ticketRefreshMs?: number
  onRequest?: (event: PveRequestEvent) => void
  /** @default Date.now */
  now?: () => number
  /** Jitter source. @default Math.random */
  random?: () => number
  /** Send through this dispatcher instead of building one from `tls` (the caller owns it). */
  dispatcher?: Dispatcher
}

export interface PveRequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

interface Ticket {
  ticket: string
  csrf: string
  at: number
}

const TOKEN_ID_RE = /^[^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9.\-_]+$/
const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE'])

/**
 * The engine. `doRequest` returns the unwrapped `data` (what proxmox-api expects);
 * `requestRaw` returns the whole envelope (`total`, `changes`). Every failure is a `PveApiError`.
 * Safe to share between concurrent callers. Call `close()` to release its connections.
 */
export class PveEngine implements ApiRequestable {
  readonly endpoint: ParsedEndpoint
  private readonly auth: PveAuth
  private readonly dispatcher: Dispatcher
  private readonly ownsDispatcher: boolean
  private readonly timeoutMs: number
  private readonly authTimeoutMs: number
  private readonly retries: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly ticketRefreshMs: number
  private readonly onRequest?: (event: PveRequestEvent) => void
  private readonly now: () => number
  private readonly random: () => number
  private readonly credential: string
  private ticket?: Ticket
  private login?: Promise<Ticket>
  private closed = false

  constructor(opts: PveEngineOptions) {
    this.endpoint = parseEndpoint(opts.endpoint)
    this.auth = validateAuth(opts.auth)
    this.credential = 'tokenSecret' in this.auth ? this.auth.tokenSecret : this.auth.password
    if (opts.dispatcher) {
      this.dispatcher = opts.dispatcher
      this.ownsDispatcher = false
    } else {
      this.dispatcher = createPveAgent({ tls: opts.tls ?? {}, ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}) })
      this.ownsDispatcher = true
    }
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.authTimeoutMs = opts.authTimeoutMs ?? 10_000
    this.retries = opts.retry?.retries ?? 3
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 250
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 4000
    this.ticketRefreshMs = opts.ticketRefreshMs ?? 90 * 60_000
    if (opts.onRequest) this.onRequest = opts.onRequest
    this.now = opts.now ?? Date.now
    this.random = opts.random ?? Math.random
  }

  /** proxmox-api entry point: returns `data` of the envelope or throws `PveApiError`. */
  async doRequest(httpMethod: string, path: string, pathTemplate: string, params?: Record<string, unknown>): Promise<unknown> {
    return (await this.requestRaw(httpMethod, path, pathTemplate, params)).data
  }

  /**
   * Sends one API call and returns the whole envelope. `path` is `/api2/json/…` or relative to
   * it; `pathTemplate` is proxmox-api's `*` form or the named form. GETs are retried on transient
   * failures with jittered backoff; POST/PUT/DELETE are sent exactly once (a 401 on a ticket
   * session re-logs in and resends, since PVE rejects it before running the handler).
   */
  async requestRaw<T = unknown>(
    httpMethod: string,
    path: string,
    pathTemplate: string = path,
    params?: Record<string, unknown>,
    opts: PveRequestOptions = {},
  ): Promise<PveEnvelope<T>> {
    const method = httpMethod.toUpperCase()
    const fullPath = path.startsWith('/api2/') ? path : `/api2/json${path.startsWith('/') ? '' : '/'}${path}`
    const template = namedPathTemplate(pathTemplate.includes('{') ? pathTemplate : pathTemplate.startsWith('/api2/') ? pathTemplate : `/api2/json${pathTemplate}`)
    let encoded: URLSearchParams
    try {
      encoded = encodeParams(params)
    } catch (err) {
      throw new PveApiError({ kind: 'protocol', status: 0, reason: 'bad parameter', message: `${method} ${template}: ${(err as Error).message}`, method, pathTemplate: template })
    }
    const maxAttempts = method === 'GET' ? this.retries + 1 : 1
    let reauthed = false
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send<T>(method, fullPath, template, encoded, opts, attempt)
      } catch (err) {
        if (!(err instanceof PveApiError)) throw err
        if (err.status === 401 && err.kind === 'http' && 'username' in this.auth && !reauthed && err.pathTemplate !== '/access/ticket') {
          reauthed = true
          this.ticket = undefined
          attempt--
          continue
        }
        if (attempt >= maxAttempts || !err.isTransient() || opts.signal?.aborted) throw err
        await sleep(this.backoff(attempt), opts.signal)
      }
    }
  }

  /** Forces a fresh login on the next ticket-authenticated request. */
  dropTicket(): void {
    this.ticket = undefined
  }

  /** Releases the connections (only when the engine built its own dispatcher). Idempotent. */
  async close(): Promise<void> {
    if (!this.ownsDispatcher || this.closed) return
    this.closed = true
    await (this.dispatcher as Agent).close()
  }

  /** Everything that must never appear in an error: the credential and the current ticket. */
  private get secrets(): string[] {
    return this.ticket ? [this.credential, this.ticket.ticket, this.ticket.csrf] : [this.credential]
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1))
    return Math.round(cap * (0.5 + this.random() * 0.5))
  }

  private async authHeaders(method: string): Promise<Record<string, string>> {
    if ('tokenId' in this.auth) return { authorization: `PVEAPIToken=${this.auth.tokenId}=${this.auth.tokenSecret}` }
    const t = await this.currentTicket()
    const headers: Record<string, string> = { cookie: `PVEAuthCookie=${encodeURIComponent(t.ticket)}` }
    if (WRITE_METHODS.has(method)) headers['csrfpreventiontoken'] = t.csrf
    return headers
  }

  private async currentTicket(): Promise<Ticket> {
    if (this.ticket && this.now() - this.ticket.at < this.ticketRefreshMs) return this.ticket
    if (!this.login) {
      this.login = this.doLogin().finally(() => {
        this.login = undefined
      })
    }
    return this.login
  }

  private async doLogin(): Promise<Ticket> {
    const auth = this.auth as { username: string; password: string }
    const body = encodeParams({ username: auth.username, password: auth.password })
    const template = '/access/ticket'
    try {
      const env = await this.exchange<{ ticket?: unknown; CSRFPreventionToken?: unknown }>(
        'POST', '/api2/json/access/ticket', template, body, {}, {}, 1, this.authTimeoutMs,
      )
      const { ticket, CSRFPreventionToken } = env.data ?? {}
      if (typeof ticket !== 'string' || typeof CSRFPreventionToken !== 'string') {
        throw new PveApiError({ kind: 'protocol', status: 200, reason: 'no ticket in response', message: 'login answer carried no ticket; is this a proxmox ve api?', method: 'POST', pathTemplate: template })
      }
      this.ticket = { ticket, csrf: CSRFPreventionToken, at: this.now() }
      return this.ticket
    } catch (err) {
      if (err instanceof PveApiError && err.kind === 'http' && (err.status === 401 || err.status === 403)) {
        throw new PveApiError({
          kind: 'http', status: err.status, reason: err.reason, method: 'POST', pathTemplate: template,
          message: `login as ${auth.username} failed: ${err.status} ${err.reason}; check auth.username and auth.password`,
        })
      }
      throw err
    }
  }

  private async send<T>(method: string, fullPath: string, template: string, encoded: URLSearchParams, opts: PveRequestOptions, attempt: number): Promise<PveEnvelope<T>> {
    const headers = await this.authHeaders(method)
    return this.exchange<T>(method, fullPath, template, encoded, headers, opts, attempt, opts.timeoutMs ?? this.timeoutMs)
  }

  /** One HTTP round trip → envelope or PveApiError. */
  private async exchange<T>(
    method: string, fullPath: string, template: string, encoded: URLSearchParams,
    authHeaders: Record<string, string>, opts: PveRequestOptions, attempt: number, timeoutMs: number,
  ): Promise<PveEnvelope<T>> {
    const inBody = method === 'POST' || method === 'PUT'
    const query = !inBody && [...encoded.keys()].length > 0 ? `?${encoded.toString()}` : ''
    const url = `${this.endpoint.origin}${fullPath}${query}`
    const headers: Record<string, string> = { accept: 'application/json', ...authHeaders }
    let body: string | undefined
    if (inBody && [...encoded.keys()].length > 0) {
      body = encoded.toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
    }
    const where = `${method} ${apiRelativePath(fullPath)}`
    const ctrl = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      ctrl.abort()
    }, timeoutMs)
    const onAbort = () => ctrl.abort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const started = performance.now()
    let status = 0
    const fail = (init: Omit<ConstructorParameters<typeof PveApiError>[0], 'method' | 'pathTemplate'>): PveApiError =>
      new PveApiError({ ...init, message: redact(init.message, this.secrets), reason: redact(init.reason, this.secrets), method, pathTemplate: template })
    try {
      if (opts.signal?.aborted) throw fail({ kind: 'aborted', status: 0, reason: 'aborted', message: `${where}: aborted` })
      let res
      try {
        res = await fetch(url, { method, headers, body: body ?? null, dispatcher: this.dispatcher, signal: ctrl.signal, redirect: 'manual' })
      } catch (err) {
        throw this.networkError(err, where, timedOut, timeoutMs, opts.signal?.aborted === true, fail)
      }
      status = res.status
      let text: string
      try {
        text = await res.text()
      } catch (err) {
        status = 0
        throw this.networkError(err, where, timedOut, timeoutMs, opts.signal?.aborted === true, fail)
      }
      const contentType = res.headers.get('content-type')
      if (res.status === 200) return parseSuccess<T>(text, contentType, where, fail)
      const parsed = parseErrorBody(text)
      const reason = firstLine(res.statusText || parsed.message || '') || `http ${res.status}`
      const errors = parsed.errors ? redactErrors(parsed.errors, this.secrets) : undefined
      const detail = errors ? ` (${Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''
      throw fail({ kind: 'http', status: res.status, reason, message: `${where}: ${res.status} ${reason}${detail}`, ...(errors ? { errors } : {}) })
    } finally {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      this.onRequest?.({ method, pathTemplate: template, status, durationMs: performance.now() - started, attempt })
    }
  }

  private networkError(
    err: unknown, where: string, timedOut: boolean, timeoutMs: number, aborted: boolean,
    fail: (init: Omit<ConstructorParameters<typeof PveApiError>[0], 'method' | 'pathTemplate'>) => PveApiError,
  ): PveApiError {
    if (err instanceof PveApiError) return err
    if (timedOut) return fail({ kind: 'timeout', status: 0, reason: 'timeout', message: `${where}: no answer within ${timeoutMs} ms`, cause: err })
    if (aborted) return fail({ kind: 'aborted', status: 0, reason: 'aborted', message: `${where}: aborted` })
    const cause = causeChain(err)
    const pin = cause.find((c): c is TlsPinMismatchError => c instanceof TlsPinMismatchError)
    if (pin) return fail({ kind: 'tls', status: 0, reason: 'certificate fingerprint mismatch', message: `${where}: refused: ${pin.message}`, cause: pin })
    const tlsCode = cause.map((c) => (c as { code?: string }).code).find((c) => typeof c === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(c))
    if (tlsCode) return fail({ kind: 'tls', status: 0, reason: tlsCode, message: `${where}: tls verification failed (${tlsCode}); check tls.ca or tls.fingerprint`, cause: err })
    const last = cause[cause.length - 1] as { code?: string; message?: string } | undefined
    const why = last?.code ?? last?.message ?? 'network error'
    return fail({ kind: 'network', status: 0, reason: String(why), message: `${where}: no answer from ${this.endpoint.host}:${this.endpoint.port} (${String(why).toLowerCase()})`, cause: err })
  }
}

function parseSuccess<T>(
  text: string, contentType: string | null, where: string,
  fail: (init: Omit<ConstructorParameters<typeof PveApiError>[0], 'method' | 'pathTemplate'>) => PveApiError,
): PveEnvelope<T> {
  if (contentType !== PVE_CONTENT_TYPE) {
    throw fail({ kind: 'protocol', status: 200, reason: 'unexpected content type', message: `${where}: unexpected content type ${JSON.stringify(contentType ?? '')}; is this a proxmox ve api?` })
  }
  let body: { data?: unknown; total?: unknown; changes?: unknown }
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    throw fail({ kind: 'protocol', status: 200, reason: 'invalid json', message: `${where}: answer is not valid json` })
  }
  if (body === null || typeof body !== 'object' || !('data' in body)) {
    throw fail({ kind: 'protocol', status: 200, reason: 'no data envelope', message: `${where}: answer has no data envelope` })
  }
  const env: PveEnvelope<T> = { data: body.data as T }
  if (typeof body.total === 'number') env.total = body.total
  else if (typeof body.total === 'string' && /^\d+$/.test(body.total)) env.total = Number(body.total)
  if (typeof body.changes === 'string') env.changes = body.changes
  return env
}

function validateAuth(auth: PveAuth): PveAuth {
  if (auth && 'tokenId' in auth && auth.tokenId !== undefined) {
    if (!TOKEN_ID_RE.test(auth.tokenId)) throw new Error('auth.tokenId must look like user@realm!name, e.g. root@pam!proximity')
    if (!auth.tokenSecret) throw new Error('auth.tokenSecret is required with auth.tokenId')
    return { tokenId: auth.tokenId, tokenSecret: auth.tokenSecret }
  }
  if (auth && 'username' in auth && auth.username !== undefined) {
    if (!/^[^\s@]+@[^\s@]+$/.test(auth.username)) throw new Error('auth.username must look like user@realm, e.g. root@pam')
    if (!auth.password) throw new Error('auth.password is required with auth.username')
    return { username: auth.username, password: auth.password }
  }
  throw new Error('proxmox auth needs tokenId + tokenSecret or username + password')
}

function causeChain(err: unknown): unknown[] {
  const out: unknown[] = []
  let cur: unknown = err
  for (let i = 0; cur && i < 6; i++) {
    out.push(cur)
    cur = (cur as { cause?: unknown }).cause
  }
  return out
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
