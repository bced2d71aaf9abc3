/**
 * Inbound webhooks (DESIGN §6): `POST /hooks/{github,gitea,gitlab,generic}`. A delivery is a
 * nudge to look at the git source now, never desired state: nothing in the payload is trusted
 * beyond its ref, which only filters. Checks run in this order, and each delivery is recorded with
 * its verdict (the delivery log): rate limit per client → body size (capped before it is read
 * whole) → signature (HMAC-SHA256 over the raw body, or GitLab's token, compared in constant time;
 * SHA-1 refused) → event type (push; ping answered) → duplicate delivery id → ref. Accepted
 * deliveries are answered 202 at once and the fetch + reconcile is queued.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { Hono, type Context } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'
import { createFailureLimiter, type FailureLimiter } from './auth.js'
import type { DeliveryLog, DeliveryVerdict } from './delivery-log.js'

export type WebhookProvider = 'github' | 'gitea' | 'gitlab' | 'generic'
export const WEBHOOK_PROVIDERS: readonly WebhookProvider[] = ['github', 'gitea', 'gitlab', 'generic']

/** What a push said, after it was verified. */
export interface Nudge {
  provider: WebhookProvider
  deliveryId?: string
  ref?: string
  /** The pushed commit as the payload claims it; only logged, the fetch decides. */
  after?: string
}

export interface WebhookOptions {
  /** The shared secret; undefined disables the hooks (404). */
  secret: Buffer | undefined
  /** The ref the source follows (`main`, a tag, or a sha); pushes to other refs are ignored. */
  sourceRef: () => string | undefined
  /** Queues a fetch and reconcile; `done` is called with the revision it led to. Must not block. */
  nudge: (n: Nudge, done: (revision: string | undefined, error?: string) => void) => void
  log: DeliveryLog
  /** @default 3 MiB (Flux's cap) */
  maxBodyBytes?: number
  /** Deliveries per client per minute. @default 60 */
  perClientPerMinute?: number
  limiter?: FailureLimiter
  now?: () => number
}

const DEFAULT_MAX_BODY = 3 * 1024 * 1024

function hex(buf: Buffer): string {
  return buf.toString('hex')
}

/** Constant-time comparison of two strings of possibly different length. */
export function safeEqual(a: string, b: string): boolean {
  // Compare digests so the comparison takes the same time whatever the lengths.
  const ha = createHmac('sha256', 'proximity-compare').update(a).digest()
  const hb = createHmac('sha256', 'proximity-compare').update(b).digest()
  return timingSafeEqual(ha, hb) && a.length === b.length
}

/** Verifies a delivery's signature for its provider. `reason` explains a refusal (never a secret). */
export function verifySignature(provider: WebhookProvider, headers: (name: string) => string | undefined, body: Buffer, secret: Buffer): { ok: boolean; reason?: string } {
  const mac = () => hex(createHmac('sha256', secret).update(body).digest())
  const prefixed = (value: string | undefined, header: string): { ok: boolean; reason?: string } => {
    if (!value) return { ok: false, reason: `missing ${header}` }
    const m = /^sha256=([0-9a-fA-F]+)$/.exec(value.trim())
    if (!m) return { ok: false, reason: `${header} is not sha256=<hex>` }
    return safeEqual(m[1]!.toLowerCase(), mac()) ? { ok: true } : { ok: false, reason: 'signature does not match' }
  }
  switch (provider) {
    case 'github': {
      const v = headers('x-hub-signature-256')
      if (!v && headers('x-hub-signature')) return { ok: false, reason: 'SHA-1 signatures (X-Hub-Signature) are refused; configure SHA-256' }
      return prefixed(v, 'X-Hub-Signature-256')
    }
    case 'gitea': {
      const v = headers('x-gitea-signature') ?? headers('x-forgejo-signature')
      if (!v) return { ok: false, reason: 'missing X-Gitea-Signature' }
      if (!/^[0-9a-fA-F]{64}$/.test(v.trim())) return { ok: false, reason: 'X-Gitea-Signature is not a hex SHA-256 HMAC' }
      return safeEqual(v.trim().toLowerCase(), mac()) ? { ok: true } : { ok: false, reason: 'signature does not match' }
    }
    case 'gitlab': {
      const v = headers('x-gitlab-token')
      if (v === undefined) return { ok: false, reason: 'missing X-Gitlab-Token' }
      return safeEqual(v, secret.toString('utf8')) ? { ok: true } : { ok: false, reason: 'token does not match' }
    }
    case 'generic':
      return prefixed(headers('x-signature'), 'X-Signature')
  }
}

function eventOf(provider: WebhookProvider, h: (n: string) => string | undefined): { kind: 'push' | 'ping' | 'other'; name: string } {
  const name =
    provider === 'github' ? h('x-github-event') : provider === 'gitea' ? (h('x-gitea-event') ?? h('x-forgejo-event') ?? h('x-github-event')) : provider === 'gitlab' ? h('x-gitlab-event') : (h('x-event') ?? 'push')
  const n = (name ?? '').trim()
  if (provider === 'gitlab') return { kind: n === 'Push Hook' || n === 'Tag Push Hook' ? 'push' : n === 'System Hook' ? 'other' : 'other', name: n || '(none)' }
  if (n === 'push') return { kind: 'push', name: n }
  if (n === 'ping') return { kind: 'ping', name: n }
  return { kind: 'other', name: n || '(none)' }
}

function deliveryIdOf(provider: WebhookProvider, h: (n: string) => string | undefined): string | undefined {
  const v =
    provider === 'github'
      ? h('x-github-delivery')
      : provider === 'gitea'
        ? (h('x-gitea-delivery') ?? h('x-forgejo-delivery') ?? h('x-github-delivery'))
        : provider === 'gitlab'
          ? (h('x-gitlab-event-uuid') ?? h('idempotency-key'))
          : h('x-delivery-id')
  if (v === undefined) return undefined
  // Shown in the log and the API: keep it short and printable.
  return /^[A-Za-z0-9._:-]{1,128}$/.test(v.trim()) ? v.trim() : undefined
}

/** The refs a push must name to concern a source following `ref`. */
export function refMatches(sourceRef: string | undefined, pushed: string | undefined): boolean {
  if (pushed === undefined) return true
  if (sourceRef === undefined) return pushed.startsWith('refs/heads/')
  if (/^[0-9a-f]{40}$/.test(sourceRef)) return false
  return pushed === `refs/heads/${sourceRef}` || pushed === `refs/tags/${sourceRef}`
}

/** Reads the body up to `max` bytes; undefined when it is larger. */
async function readCapped(c: Context, max: number): Promise<Buffer | undefined> {
  const declared = c.req.header('content-length')
  if (declared !== undefined && Number(declared) > max) return undefined
  const stream = c.req.raw.body
  if (!stream) return Buffer.alloc(0)
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

/** The webhook routes, mounted at `/hooks`. */
export function webhookRoutes(opts: WebhookOptions): Hono {
  const app = new Hono()
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY
  const limiter = opts.limiter ?? createFailureLimiter({ max: opts.perClientPerMinute ?? 60, windowMs: 60_000, ...(opts.now ? { now: opts.now } : {}) })

  app.post('/:provider', async (c) => {
    const provider = c.req.param('provider') as WebhookProvider
    if (!WEBHOOK_PROVIDERS.includes(provider)) return c.json({ error: { code: 'NotFound', message: `no webhook receiver "${provider}"; use github, gitea, gitlab or generic` } }, 404)
    if (!opts.secret) return c.json({ error: { code: 'NotFound', message: 'webhooks are not enabled: start serve with --webhook-secret-file' } }, 404)
    const h = (n: string) => c.req.header(n)
    let client = 'unknown'
    try {
      client = getConnInfo(c).remote.address ?? 'unknown'
    } catch {
      // not behind node-server (tests through app.request)
    }
    const event = eventOf(provider, h)
    const base = { source: provider, event: event.name, client }
    const record = (verdict: DeliveryVerdict, extra: { deliveryId?: string; ref?: string; message?: string } = {}) => opts.log.record({ ...base, verdict, ...extra })

    if (limiter.blocked(client)) {
      record('rate limited')
      return c.json({ error: { code: 'TooManyRequests', message: 'too many deliveries; polling still runs' } }, 429, { 'Retry-After': String(limiter.retryAfter(client)) })
    }
    limiter.fail(client) // counts every delivery, not only failures
    const body = await readCapped(c, max)
    if (!body) {
      record('too large')
      return c.json({ error: { code: 'PayloadTooLarge', message: `bodies over ${max} bytes are refused` } }, 413)
    }
    const sig = verifySignature(provider, h, body, opts.secret)
    if (!sig.ok) {
      record('wrong signature', { message: sig.reason })
      return c.json({ error: { code: 'Unauthorized', message: `delivery refused: ${sig.reason}` } }, 401)
    }
    const deliveryId = deliveryIdOf(provider, h)
    if (event.kind === 'ping') {
      record('ping', { ...(deliveryId ? { deliveryId } : {}) })
      return c.json({ pong: true }, 200)
    }
    if (event.kind !== 'push') {
      record('ignored event', { ...(deliveryId ? { deliveryId } : {}) })
      return c.json({ ignored: `event ${event.name}` }, 200)
    }
    if (deliveryId && opts.log.seen(provider, deliveryId)) {
      record('duplicate', { deliveryId })
      return c.json({ ignored: 'duplicate delivery' }, 200)
    }
    let payload: { ref?: unknown; after?: unknown } = {}
    if (body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'))
        if (parsed && typeof parsed === 'object') payload = parsed as typeof payload
      } catch {
        record('invalid payload', { ...(deliveryId ? { deliveryId } : {}) })
        return c.json({ error: { code: 'BadRequest', message: 'the body is not JSON' } }, 400)
      }
    }
    const ref = typeof payload.ref === 'string' && payload.ref.length <= 256 ? payload.ref : undefined
    const after = typeof payload.after === 'string' && /^[0-9a-f]{40}$/.test(payload.after) ? payload.after : undefined
    if (!refMatches(opts.sourceRef(), ref)) {
      record('ignored ref', { ...(deliveryId ? { deliveryId } : {}), ...(ref ? { ref } : {}) })
      return c.json({ ignored: `ref ${ref ?? '(none)'} is not followed` }, 200)
    }
    const entry = record('accepted', { ...(deliveryId ? { deliveryId } : {}), ...(ref ? { ref } : {}) })
    opts.nudge({ provider, ...(deliveryId ? { deliveryId } : {}), ...(ref ? { ref } : {}), ...(after ? { after } : {}) }, (revision, error) => opts.log.resolve(entry.id, revision, error))
    return c.json({ accepted: true, ...(deliveryId ? { deliveryId } : {}) }, 202)
  })
  return app
}
