/**
 * Webhook receivers over real HTTP: signatures per provider (GitHub's documented example
 * included), size cap, events, duplicates, refs and rate limits, each with its verdict in the
 * delivery log; only accepted pushes nudge the source.
 */
import { createHmac } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDeliveryLog, type DeliveryLog } from '../../src/api/delivery-log.js'
import { startApiServer, type RunningServer } from '../../src/api/server.js'
import { verifySignature, webhookRoutes, type Nudge } from '../../src/api/webhooks.js'

const SECRET = 'webhook-secret-R4nd0m'
let dir: string
let server: RunningServer
let log: DeliveryLog
const nudges: Nudge[] = []
let limitServer: RunningServer

function sign(body: string, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}

async function start(perClientPerMinute = 1000): Promise<RunningServer> {
  const app = new Hono()
  app.route(
    '/hooks',
    webhookRoutes({
      secret: Buffer.from(SECRET),
      sourceRef: () => 'main',
      nudge: (n, done) => {
        nudges.push(n)
        setTimeout(() => done(`main@sha1:${'a'.repeat(40)}`), 5)
      },
      log,
      maxBodyBytes: 64 * 1024,
      perClientPerMinute,
    }),
  )
  return startApiServer({ app, listen: { host: '127.0.0.1', port: 0 } })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-hooks-'))
  log = createDeliveryLog({ file: join(dir, 'deliveries.json') })
  server = await start()
})
afterAll(async () => {
  await server.close()
  await limitServer?.close()
  await rm(dir, { recursive: true, force: true })
})
afterEach(() => {
  nudges.length = 0
})

const push = (ref = 'refs/heads/main') => JSON.stringify({ ref, after: 'b'.repeat(40), repository: { full_name: 'me/homelab' } })
let seq = 0
const id = () => `d-${++seq}-${Date.now()}`

async function post(provider: string, body: string, headers: Record<string, string>, url = server.url) {
  const r = await fetch(`${url}/hooks/${provider}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } })
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }
}

describe('signatures', () => {
  it("verifies GitHub's documented example", () => {
    const headers = (n: string) => (n === 'x-hub-signature-256' ? 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' : undefined)
    expect(verifySignature('github', headers, Buffer.from('Hello, World!'), Buffer.from("It's a Secret to Everybody"))).toEqual({ ok: true })
    const wrong = (n: string) => (n === 'x-hub-signature-256' ? 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18' : undefined)
    expect(verifySignature('github', wrong, Buffer.from('Hello, World!'), Buffer.from("It's a Secret to Everybody")).ok).toBe(false)
  })

  const accepted: { provider: string; headers: (body: string) => Record<string, string>; reason: string }[] = [
    { provider: 'github', reason: 'X-Hub-Signature-256', headers: (b) => ({ 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': id(), 'X-Hub-Signature-256': `sha256=${sign(b)}` }) },
    { provider: 'gitea', reason: 'X-Gitea-Signature without prefix', headers: (b) => ({ 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': id(), 'X-Gitea-Signature': sign(b) }) },
    { provider: 'gitlab', reason: 'X-Gitlab-Token', headers: () => ({ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Event-UUID': id(), 'X-Gitlab-Token': SECRET }) },
    { provider: 'generic', reason: 'X-Signature: sha256=', headers: (b) => ({ 'X-Signature': `sha256=${sign(b)}`, 'X-Delivery-Id': id() }) },
  ]
  for (const a of accepted) {
    it(`accepts a signed ${a.provider} push (${a.reason}) with 202 and nudges the source`, async () => {
      const body = push()
      const r = await post(a.provider, body, a.headers(body))
      expect(r.status).toBe(202)
      expect(nudges).toHaveLength(1)
      expect(nudges[0]).toMatchObject({ provider: a.provider, ref: 'refs/heads/main' })
      await new Promise((res) => setTimeout(res, 30))
      expect(log.list()[0]).toMatchObject({ source: a.provider, verdict: 'accepted', revision: `main@sha1:${'a'.repeat(40)}` })
    })
  }

  const refused: { name: string; provider: string; headers: (body: string) => Record<string, string> }[] = [
    { name: 'wrong signature', provider: 'github', headers: (b) => ({ 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': `sha256=${sign(b, 'other')}` }) },
    { name: 'missing signature', provider: 'github', headers: () => ({ 'X-GitHub-Event': 'push' }) },
    { name: 'truncated signature', provider: 'github', headers: (b) => ({ 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': `sha256=${sign(b).slice(0, 40)}` }) },
    { name: 'SHA-1 signature only', provider: 'github', headers: (b) => ({ 'X-GitHub-Event': 'push', 'X-Hub-Signature': `sha1=${createHmac('sha1', SECRET).update(b).digest('hex')}` }) },
    { name: 'wrong GitLab token', provider: 'gitlab', headers: () => ({ 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': `${SECRET}x` }) },
    { name: 'Gitea signature with a prefix it never sends', provider: 'gitea', headers: (b) => ({ 'X-Gitea-Event': 'push', 'X-Gitea-Signature': `sha256=${sign(b)}` }) },
  ]
  for (const r of refused) {
    it(`refuses a ${r.name} with 401, records it, and nudges nothing`, async () => {
      const body = push()
      const res = await post(r.provider, body, r.headers(body))
      expect(res.status).toBe(401)
      expect(nudges).toHaveLength(0)
      const entry = log.list()[0]!
      expect(entry.verdict).toBe('wrong signature')
      expect(JSON.stringify(entry)).not.toContain(sign(body))
      expect(JSON.stringify(entry)).not.toContain(SECRET)
    })
  }
})

describe('filters', () => {
  it('drops a replayed delivery id', async () => {
    const body = push()
    const d = id()
    const h = { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': d, 'X-Hub-Signature-256': `sha256=${sign(body)}` }
    expect((await post('github', body, h)).status).toBe(202)
    const again = await post('github', body, h)
    expect(again.status).toBe(200)
    expect(nudges).toHaveLength(1)
    expect(log.list()[0]).toMatchObject({ verdict: 'duplicate', deliveryId: d })
  })

  it('ignores a push to another branch', async () => {
    const body = push('refs/heads/feature')
    const r = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': id(), 'X-Hub-Signature-256': `sha256=${sign(body)}` })
    expect(r.status).toBe(200)
    expect(nudges).toHaveLength(0)
    expect(log.list()[0]).toMatchObject({ verdict: 'ignored ref', ref: 'refs/heads/feature' })
  })

  it('answers ping and ignores other events', async () => {
    const body = '{"zen":"Design for failure."}'
    expect((await post('github', body, { 'X-GitHub-Event': 'ping', 'X-Hub-Signature-256': `sha256=${sign(body)}` })).body).toEqual({ pong: true })
    expect(log.list()[0]!.verdict).toBe('ping')
    const r = await post('github', body, { 'X-GitHub-Event': 'issues', 'X-Hub-Signature-256': `sha256=${sign(body)}` })
    expect(r.status).toBe(200)
    expect(log.list()[0]!.verdict).toBe('ignored event')
    expect(nudges).toHaveLength(0)
  })

  it('refuses an oversized body with 413 before reading it whole', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(100 * 1024) })
    const r = await post('github', body, { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': `sha256=${sign(body)}` })
    expect(r.status).toBe(413)
    expect(log.list()[0]!.verdict).toBe('too large')
    expect(nudges).toHaveLength(0)
  })

  it('refuses a signed body that is not JSON', async () => {
    const body = 'not json'
    const r = await post('generic', body, { 'X-Signature': `sha256=${sign(body)}` })
    expect(r.status).toBe(400)
    expect(log.list()[0]!.verdict).toBe('invalid payload')
  })

  it('404s an unknown provider', async () => {
    const r = await post('bitbucket', push(), {})
    expect(r.status).toBe(404)
  })

  it('rate-limits one client, recording the verdict', async () => {
    limitServer = await start(3)
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const body = push()
      statuses.push((await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': id(), 'X-Hub-Signature-256': `sha256=${sign(body)}` }, limitServer.url)).status)
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429])
    expect(log.list()[0]!.verdict).toBe('rate limited')
  })
})

describe('delivery log', () => {
  it('keeps at most 200 deliveries, newest first, and survives a restart', () => {
    const file = join(dir, 'cap.json')
    const l = createDeliveryLog({ file })
    for (let i = 0; i < 210; i++) l.record({ source: 'generic', event: 'push', verdict: 'accepted', deliveryId: `id-${i}` })
    expect(l.list()).toHaveLength(200)
    expect(l.list()[0]!.deliveryId).toBe('id-209')
    const again = createDeliveryLog({ file })
    expect(again.list()).toHaveLength(200)
    expect(again.seen('generic', 'id-209')).toBe(true)
  })
})
