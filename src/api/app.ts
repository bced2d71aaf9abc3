/**
 * The read-only status API (DESIGN §6) as a Hono app: JSON objects in the Kubernetes shape,
 * health and readiness, Prometheus metrics, a server-sent event stream and the dashboard.
 * Every error has one body shape, `{error: {code, message}}`; unknown routes are 404, known routes
 * with another method 405, and no stack trace ever reaches a client.
 */
import { Hono, type Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { TokenAuthority } from './tokens.js'
import { authenticate, createFailureLimiter, SESSION_COOKIE, type FailureLimiter } from './auth.js'
import { API_KINDS, matchFields, matchLabels, parseFieldSelector, parseLabelSelector, SelectorError, type ApiObject } from './objects.js'
import { continueToken, createObjectCache, parseContinueToken, render, type PageRequest, type Rendered } from './object-cache.js'
import type { ChangeFeed, FeedEntry, StatusSource } from './status-source.js'
import { dashboardRoutes } from './dashboard/routes.js'
import { webhookRoutes, type WebhookOptions } from './webhooks.js'

export interface MetricsPort {
  contentType: string
  text(): Promise<string>
}

export interface ApiAppOptions {
  source: StatusSource
  feed: ChangeFeed
  tokens: TokenAuthority
  metrics?: MetricsPort
  /** Serve `/metrics` without a token. @default false */
  metricsPublic?: boolean
  /** Set `Secure` on the session cookie (TLS). @default false */
  secureCookies?: boolean
  /** Heartbeat interval of the stream. @default 15_000 */
  heartbeatMs?: number
  limiter?: FailureLimiter
  /** Inbound webhooks (GitOps); without them `/hooks/*` answers 404. */
  webhooks?: WebhookOptions
  log?: { warn(message: string): void; error(message: string, err?: unknown): void }
}

/** Routes and the methods they accept, for 405 answers. */
const KNOWN_ROUTES: { pattern: RegExp; methods: string[] }[] = [
  { pattern: /^\/$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/(healthz|readyz|metrics)$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/api\/v1\/session$/, methods: ['POST', 'DELETE'] },
  { pattern: /^\/api\/v1\/(apps|appliances|backuppolicies|restores)(\/[^/]+)?$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/api\/v1\/(events|revision|deliveries|backups|stream|summary)$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/assets\/[^/]+$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/hooks\/[^/]+$/, methods: ['POST'] },
]

const SECURITY_HEADERS = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
] as const

export function apiError(c: Context, status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ error: { code, message } }, status as 400, headers)
}

/**
 * The content coding to send for an `Accept-Encoding` header: brotli or gzip when the client
 * accepts it (q > 0; `*` counts), brotli first at equal weight; undefined for the plain body.
 */
export function pickEncoding(header: string | undefined): 'br' | 'gzip' | undefined {
  if (!header) return undefined
  const q: Record<string, number> = {}
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (!name) continue
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const weight = qp === undefined ? 1 : Number(qp.slice(2))
    q[name] = Number.isFinite(weight) ? weight : 0
  }
  const weightOf = (coding: string) => q[coding] ?? q['*'] ?? 0
  const br = weightOf('br')
  const gzip = weightOf('gzip')
  if (br > 0 && br >= gzip) return 'br'
  if (gzip > 0) return 'gzip'
  return undefined
}

/** Sends rendered JSON with its strong ETag; answers 304 to a matching If-None-Match. */
async function sendRendered(c: Context, r: Rendered<unknown>): Promise<Response> {
  const inm = c.req.header('if-none-match')
  if (inm && inm.split(',').some((t) => t.trim() === r.etag || t.trim() === `W/${r.etag}`)) {
    return c.body(null, 304, { ETag: r.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' })
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', ETag: r.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' }
  // Compressing pays only for larger bodies; each compressed copy is made once per change.
  const coding = r.body.length > 4096 ? pickEncoding(c.req.header('accept-encoding')) : undefined
  if (coding === 'br') return c.body((await r.brotli()) as unknown as ArrayBuffer, 200, { ...headers, 'Content-Encoding': 'br' })
  if (coding === 'gzip') return c.body((await r.gzip()) as unknown as ArrayBuffer, 200, { ...headers, 'Content-Encoding': 'gzip' })
  return c.body(r.body as unknown as ArrayBuffer, 200, headers)
}

/** `?limit=N` and `?continue=TOKEN` (Kubernetes list chunking), or an error message. */
function pageRequest(limitText: string | undefined, token: string | undefined): PageRequest | undefined | { error: string } {
  if (limitText === undefined) return token === undefined ? undefined : { error: 'continue needs limit (the page size)' }
  const limit = Number(limitText)
  if (!/^\d{1,6}$/.test(limitText) || limit < 1 || limit > MAX_PAGE) return { error: `limit must be an integer from 1 to ${MAX_PAGE}` }
  if (token === undefined) return { limit }
  const after = parseContinueToken(token)
  if (after === undefined) return { error: 'continue is not a token this server gave; start the list again without it' }
  return { limit, after }
}

/** The largest page a client may ask for. */
const MAX_PAGE = 10_000

const jsonWithEtag = (c: Context, body: unknown): Promise<Response> => sendRendered(c, render(body))

function clientOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** Builds the API. The caller owns the HTTP server (see server.ts). */
export function createApiApp(opts: ApiAppOptions): Hono {
  const app = new Hono()
  const limiter = opts.limiter ?? createFailureLimiter()
  const log = opts.log ?? { warn: () => {}, error: () => {} }
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  // Created before any stream subscribes, so a change invalidates it before clients read it.
  const cache = createObjectCache(opts.source, opts.feed)

  app.onError((e, c) => {
    log.error(`api: ${c.req.method} ${c.req.path} failed`, e)
    return apiError(c, 500, 'Internal', 'internal error; see the serve log')
  })

  app.notFound((c) => {
    const known = KNOWN_ROUTES.find((r) => r.pattern.test(c.req.path))
    if (known && !known.methods.includes(c.req.method)) {
      return apiError(c, 405, 'MethodNotAllowed', `${c.req.method} is not allowed on ${c.req.path}; use ${known.methods.join(' or ')}`, { Allow: known.methods.join(', ') })
    }
    return apiError(c, 404, 'NotFound', `no route ${c.req.path}`)
  })

  // Security headers on every answer: nothing is framed, sniffed or sent to other origins.
  // They are set before the handler runs, so the response it builds carries them: setting a
  // header on a finished response makes Hono copy the response through a stream (a large list
  // then costs a body copy per request). A handler's own Response gets them afterwards.
  app.use('*', async (c, next) => {
    for (const [k, v] of SECURITY_HEADERS) c.header(k, v)
    await next()
    if (!c.res.headers.has(SECURITY_HEADERS[0][0])) for (const [k, v] of SECURITY_HEADERS) c.header(k, v)
  })

  const guard = (group: 'api' | 'metrics') => async (c: Context, next: () => Promise<void>) => {
    if (group === 'metrics' && opts.metricsPublic) return next()
    const outcome = await authenticate(opts.tokens, limiter, clientOf(c), group, { authorization: c.req.header('authorization'), cookie: c.req.header('cookie') }, (m) => log.warn(m))
    if (!outcome.ok) {
      const headers: Record<string, string> = outcome.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="proximity"' } : {}
      if (outcome.retryAfter) headers['Retry-After'] = String(outcome.retryAfter)
      return apiError(c, outcome.status, outcome.code, outcome.message, headers)
    }
    await next()
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    const r = await opts.source.readiness()
    return c.json({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }, r.ready ? 200 : 503)
  })
  app.get('/metrics', guard('metrics'), async (c) => {
    if (!opts.metrics) return apiError(c, 404, 'NotFound', 'metrics are not enabled')
    return c.body(await opts.metrics.text(), 200, { 'Content-Type': opts.metrics.contentType })
  })

  // The dashboard trades a bearer token for an HttpOnly cookie, so the token never travels in a URL.
  app.post('/api/v1/session', async (c) => {
    if (!c.req.header('authorization')) return apiError(c, 401, 'Unauthorized', 'send the token as Authorization: Bearer …')
    const outcome = await authenticate(opts.tokens, limiter, clientOf(c), 'api', { authorization: c.req.header('authorization') }, (m) => log.warn(m))
    if (!outcome.ok) return apiError(c, outcome.status, outcome.code, outcome.message)
    const token = /^Bearer (\S+)$/i.exec(c.req.header('authorization')!.trim())![1]!
    const maxAge = Math.max(0, Math.floor((Date.parse(outcome.claims.expiresAt) - Date.now()) / 1000))
    const cookie = `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${opts.secureCookies ? '; Secure' : ''}`
    return c.json({ role: outcome.claims.role, expiresAt: outcome.claims.expiresAt }, 200, { 'Set-Cookie': cookie, 'Cache-Control': 'no-store' })
  })
  app.delete('/api/v1/session', (c) => c.json({ loggedOut: true }, 200, { 'Set-Cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` }))

  app.use('/api/v1/*', guard('api'))

  const listOf = (kind: (typeof API_KINDS)[number]['kind']): ApiObject[] => cache.list(kind).value

  for (const { kind, plural } of API_KINDS) {
    app.get(`/api/v1/${plural}`, (c) => {
      const paging = pageRequest(c.req.query('limit'), c.req.query('continue'))
      if (paging && 'error' in paging) return apiError(c, 400, 'BadRequest', paging.error)
      const ls = c.req.query('labelSelector')
      const fs = c.req.query('fieldSelector')
      if (ls === undefined && fs === undefined) return sendRendered(c, paging ? cache.page(kind, paging) : cache.list(kind))
      let items = listOf(kind)
      try {
        if (ls !== undefined) {
          const reqs = parseLabelSelector(ls)
          items = items.filter((o) => matchLabels(reqs, o.metadata.labels))
        }
        if (fs !== undefined) {
          const reqs = parseFieldSelector(fs)
          items = items.filter((o) => matchFields(reqs, o))
        }
      } catch (e) {
        if (e instanceof SelectorError) return apiError(c, 400, 'BadRequest', e.message)
        throw e
      }
      if (!paging) return jsonWithEtag(c, { apiVersion: 'proximity/v1alpha1', kind: `${kind}List`, items })
      // Lists are in name order, so a page starts after the name its continue token carries.
      const after = paging.after
      const rest = after === undefined ? items : items.filter((o) => o.metadata.name > after)
      const page = rest.slice(0, paging.limit)
      const remaining = rest.length - page.length
      const metadata = remaining > 0 ? { continue: continueToken(page[page.length - 1]!.metadata.name), remainingItemCount: remaining } : {}
      return jsonWithEtag(c, { apiVersion: 'proximity/v1alpha1', kind: `${kind}List`, metadata, items: page })
    })
    app.get(`/api/v1/${plural}/:name`, (c) => {
      const name = c.req.param('name')
      const r = cache.get(kind, name)
      if (!r) return apiError(c, 404, 'NotFound', `${kind} "${name}" not found`)
      return sendRendered(c, r)
    })
  }

  app.get('/api/v1/events', (c) => {
    const limitText = c.req.query('limit')
    const limit = limitText === undefined ? 100 : Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return apiError(c, 400, 'BadRequest', 'limit must be an integer from 1 to 1000')
    const key = c.req.query('key')
    return jsonWithEtag(c, { items: opts.source.events({ limit, ...(key ? { key } : {}) }) })
  })
  app.get('/api/v1/revision', (c) => jsonWithEtag(c, opts.source.revision()))
  app.get('/api/v1/deliveries', (c) => jsonWithEtag(c, { items: opts.source.deliveries() }))
  app.get('/api/v1/backups', (c) => jsonWithEtag(c, { items: opts.source.backups() }))
  app.get('/api/v1/summary', (c) => {
    const counts = { ready: 0, progressing: 0, stalled: 0, notManaged: 0, total: 0 }
    for (const { kind } of API_KINDS) {
      for (const o of listOf(kind)) {
        counts.total++
        if (o.status.phase === 'Ready') counts.ready++
        else if (o.status.phase === 'Stalled') counts.stalled++
        else if (o.status.phase === 'NotManaged') counts.notManaged++
        else counts.progressing++
      }
    }
    return jsonWithEtag(c, { counts, revision: opts.source.revision(), ...opts.source.summary() })
  })

  /**
   * The SSE data of an entry, rendered once however many clients stream it. A status change
   * carries the object as the API shows it now (masked), never raw data.
   */
  const payloads = new WeakMap<FeedEntry, string>()
  const streamPayload = (e: FeedEntry): string => {
    let text = payloads.get(e)
    if (text !== undefined) return text
    let data: unknown = e.data
    if (e.type === 'status' && e.key) {
      const slash = e.key.indexOf('/')
      const known = API_KINDS.find((k) => k.kind === e.key!.slice(0, slash))
      data = (known ? cache.get(known.kind, e.key.slice(slash + 1))?.value : undefined) ?? { deleted: true }
    }
    text = JSON.stringify({ key: e.key, time: e.time, data })
    payloads.set(e, text)
    return text
  }

  app.get('/api/v1/stream', (c) => {
    const header = c.req.header('last-event-id')
    const lastId = header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined
    return streamSSE(c, async (stream) => {
      const queue: FeedEntry[] = []
      let wake: (() => void) | undefined
      const unsubscribe = opts.feed.subscribe((e) => {
        queue.push(e)
        wake?.()
      })
      const { entries, gap } = opts.feed.since(lastId)
      if (gap) await stream.writeSSE({ event: 'reset', data: JSON.stringify({ reason: 'missed changes; reload the lists' }), id: String(opts.feed.lastId()) })
      else queue.unshift(...entries.filter((e) => !queue.some((q) => q.id === e.id)))
      if (lastId === undefined) await stream.writeSSE({ event: 'hello', data: JSON.stringify({ lastId: opts.feed.lastId() }), id: String(opts.feed.lastId()) })
      let open = true
      stream.onAbort(() => {
        open = false
        wake?.()
      })
      const beat = setInterval(() => {
        void stream.write(': heartbeat\n\n').catch(() => {
          open = false
          wake?.()
        })
      }, heartbeatMs)
      try {
        while (open) {
          while (queue.length > 0 && open) {
            const e = queue.shift()!
            await stream.writeSSE({ event: e.type, id: String(e.id), data: streamPayload(e) })
          }
          if (!open) break
          await new Promise<void>((r) => (wake = r))
          wake = undefined
        }
      } finally {
        clearInterval(beat)
        unsubscribe()
      }
    })
  })

  if (opts.webhooks) app.route('/hooks', webhookRoutes(opts.webhooks))
  app.route('/', dashboardRoutes())
  return app
}
