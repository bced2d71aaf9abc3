/**
 * Request authentication for the status API: a bearer JWT in `Authorization`, or the same token
 * held in an `HttpOnly; SameSite=Strict` cookie set by `POST /api/v1/session` (so the dashboard
 * never puts a token in a URL). Failed attempts are counted per client address and answered 429
 * past a limit; they are logged without the token.
 */
import type { TokenAuthority, TokenClaims, TokenRole } from './tokens.js'

export const SESSION_COOKIE = 'proximity_session'

export interface FailureLimiterOptions {
  /** Failures allowed per client within `windowMs`. @default 20 */
  max?: number
  /** @default 60_000 */
  windowMs?: number
  now?: () => number
}

/** Counts failed authentications per client; `blocked` is true once a client passed the limit. */
export interface FailureLimiter {
  blocked(client: string): boolean
  fail(client: string): void
  /** Seconds until the client may try again (for `Retry-After`). */
  retryAfter(client: string): number
}

export function createFailureLimiter(opts: FailureLimiterOptions = {}): FailureLimiter {
  const max = opts.max ?? 20
  const windowMs = opts.windowMs ?? 60_000
  const now = opts.now ?? Date.now
  const seen = new Map<string, { start: number; count: number }>()
  const current = (client: string) => {
    const e = seen.get(client)
    if (!e || now() - e.start >= windowMs) return undefined
    return e
  }
  return {
    blocked: (client) => (current(client)?.count ?? 0) >= max,
    fail(client) {
      const e = current(client)
      if (e) e.count++
      else {
        // Bound memory under a flood of distinct addresses.
        if (seen.size > 10_000) seen.clear()
        seen.set(client, { start: now(), count: 1 })
      }
    },
    retryAfter(client) {
      const e = current(client)
      return e ? Math.max(1, Math.ceil((e.start + windowMs - now()) / 1000)) : 0
    },
  }
}

/** Pulls the token from `Authorization: Bearer …` (preferred) or the session cookie. */
export function extractToken(authorization: string | undefined, cookie: string | undefined): { token?: string; from?: 'header' | 'cookie'; malformedHeader?: boolean } {
  if (authorization !== undefined) {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization.trim())
    if (!m) return { malformedHeader: true }
    return { token: m[1], from: 'header' }
  }
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=')
      if (k === SESSION_COOKIE) return { token: v.join('='), from: 'cookie' }
    }
  }
  return {}
}

/** Which roles may read a route group. */
export const ROUTE_ROLES: Record<'api' | 'metrics', readonly TokenRole[]> = {
  api: ['viewer'],
  metrics: ['viewer', 'metrics'],
}

export type AuthOutcome =
  | { ok: true; claims: TokenClaims }
  | { ok: false; status: 401 | 403 | 429; code: string; message: string; retryAfter?: number }

/** Authenticates one request for a route group. */
export async function authenticate(
  tokens: TokenAuthority,
  limiter: FailureLimiter,
  client: string,
  group: 'api' | 'metrics',
  headers: { authorization?: string; cookie?: string },
  log: (message: string) => void,
): Promise<AuthOutcome> {
  if (limiter.blocked(client)) {
    return { ok: false, status: 429, code: 'TooManyRequests', message: 'too many failed authentications; try again later', retryAfter: limiter.retryAfter(client) }
  }
  const { token, malformedHeader } = extractToken(headers.authorization, headers.cookie)
  if (malformedHeader || !token) {
    limiter.fail(client)
    log(`authentication failed from ${client}: ${malformedHeader ? 'malformed Authorization header' : 'no token'}`)
    return { ok: false, status: 401, code: 'Unauthorized', message: 'a bearer token is required; create one with proximity token issue' }
  }
  const result = await tokens.verify(token)
  if (!result.ok) {
    limiter.fail(client)
    log(`authentication failed from ${client}: ${result.reason}`)
    return { ok: false, status: 401, code: 'Unauthorized', message: `invalid token: ${result.reason}` }
  }
  if (!ROUTE_ROLES[group].includes(result.claims.role)) {
    return { ok: false, status: 403, code: 'Forbidden', message: `a ${result.claims.role} token cannot read this; issue a viewer token` }
  }
  return { ok: true, claims: result.claims }
}
