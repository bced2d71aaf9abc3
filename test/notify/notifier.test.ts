/**
 * Notifications against a local HTTP server that records them and verifies their signatures:
 * a signed JSON webhook retried with backoff, and commit statuses in the Gitea/GitHub API shape.
 */
import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNotifier, type RevisionOutcome } from '../../src/providers/notify/notifier.js'

interface Received {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: string
}
let server: Server
let base: string
let dir: string
const received: Received[] = []
let failNext = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-notify-'))
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      if (failNext > 0) {
        failNext--
        res.writeHead(503).end()
        return
      }
      if (req.url!.startsWith('/reject/')) {
        res.writeHead(422).end()
        return
      }
      res.writeHead(req.url!.startsWith('/api/v1/repos') ? 201 : 204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address() as { port: number }
  base = `http://127.0.0.1:${addr.port}`
})
afterAll(async () => {
  await new Promise((r) => server.close(r))
  await rm(dir, { recursive: true, force: true })
})

const outcome: RevisionOutcome = {
  revision: `main@sha1:${'c'.repeat(40)}`,
  sha: 'c'.repeat(40),
  result: 'failed',
  objects: [{ key: 'App/web', reason: 'HealthCheckFailed', message: 'http :80/ answered 500' }],
  summary: '1 of 3 objects failed',
  time: '2026-11-30T10:00:00.000Z',
}

describe('notifier', () => {
  it('sends a signed JSON webhook that verifies, retrying 5xx with backoff', async () => {
    received.length = 0
    failNext = 2
    await writeFile(join(dir, 'hook.secret'), 'notify-secret\n')
    const sleeps: number[] = []
    const n = createNotifier({ receivers: [{ type: 'webhook', url: `${base}/hook`, secretFile: join(dir, 'hook.secret') }], sleep: async (ms) => void sleeps.push(ms), baseDelayMs: 100 })
    const res = await n.notify(outcome)
    expect(res).toEqual([{ receiver: expect.stringContaining('/hook'), ok: true, attempts: 3 }])
    expect(sleeps).toEqual([100, 200])
    const last = received.at(-1)!
    const expected = `sha256=${createHmac('sha256', 'notify-secret').update(last.body).digest('hex')}`
    expect(last.headers['x-signature']).toBe(expected)
    expect(JSON.parse(last.body)).toMatchObject({ kind: 'RevisionOutcome', result: 'failed', objects: [{ key: 'App/web' }] })
    expect(last.body).not.toContain('notify-secret')
  })

  it('posts a commit status to the forge API with the token from a file', async () => {
    received.length = 0
    await writeFile(join(dir, 'forge.token'), 'forge-token-123\n')
    const n = createNotifier({ receivers: [{ type: 'commit-status', api: `${base}/api/v1`, repo: 'me/homelab', tokenFile: join(dir, 'forge.token') }] })
    const res = await n.notify({ ...outcome, result: 'applied', objects: [], summary: 'all 3 objects ready' })
    expect(res[0]!.ok).toBe(true)
    const r = received[0]!
    expect(r.url).toBe(`/api/v1/repos/me/homelab/statuses/${'c'.repeat(40)}`)
    expect(r.headers.authorization).toBe('Bearer forge-token-123')
    expect(JSON.parse(r.body)).toEqual({ state: 'success', context: 'proximity', description: 'applied: all 3 objects ready' })
  })

  it('gives up on a 4xx at once and reports it without the token', async () => {
    received.length = 0
    const errors: string[] = []
    const n = createNotifier({ receivers: [{ type: 'commit-status', api: `${base}/reject`, repo: 'me/homelab', tokenFile: join(dir, 'forge.token') }], onError: (_r, m) => errors.push(m), sleep: async () => {} })
    const res = await n.notify(outcome)
    expect(res[0]).toMatchObject({ ok: false, attempts: 1 })
    expect(received).toHaveLength(1)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('HTTP 422')
    expect(errors.join('\n')).not.toContain('forge-token-123')
  })
})
