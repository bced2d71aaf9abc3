/**
 * The status API over real HTTP: shapes, masking, selectors, ETags, errors, the session cookie,
 * rate limiting and the live stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { get, PLANTED, startApiHarness, type ApiHarness } from './harness.js'
import { pickEncoding } from '../../src/api/app.js'

let h: ApiHarness
let viewer: string

beforeAll(async () => {
  h = await startApiHarness()
  viewer = await h.viewer()
  h.reconcile('App', 'whoami', 'success', { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
  h.reconcile('App', 'secretive', 'stalled')
})
afterAll(async () => h.close())

describe('open endpoints', () => {
  it('healthz and readyz answer without a token', async () => {
    expect((await get(`${h.url}/healthz`)).body).toEqual({ status: 'ok' })
    const r = await get(`${h.url}/readyz`)
    expect(r.status).toBe(200)
    expect(r.body.status).toBe('ready')
  })
})

describe('objects', () => {
  it('lists apps in the Kubernetes shape with status, inventory and addresses', async () => {
    const r = await get(`${h.url}/api/v1/apps`, viewer)
    expect(r.status).toBe(200)
    expect(r.body.kind).toBe('AppList')
    const names = r.body.items.map((o: any) => o.metadata.name)
    expect(names).toEqual([...h.set.apps.map((a) => a.metadata.name)].sort())
    const whoami = r.body.items.find((o: any) => o.metadata.name === 'whoami')
    expect(whoami).toMatchObject({ apiVersion: 'proximity/v1alpha1', kind: 'App', status: { ready: true, phase: 'Ready', inventory: { vmid: 101, node: 'pve1' }, addresses: { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] } } })
    expect(whoami.status.conditions.map((c: any) => c.type)).toContain('Ready')
    expect(whoami.status.history.length).toBe(1)
  })

  it('never shows a secret value: sealed, env and generated secrets are masked', async () => {
    const r = await get(`${h.url}/api/v1/apps/secretive`, viewer)
    expect(r.status).toBe(200)
    expect(r.body.spec.secrets).toEqual({
      DB_PASSWORD: '(sealed)',
      API_KEY: { env: 'PLANTED_ENV', value: '(sensitive)' },
      TOKEN: { generate: { length: 24 }, value: '(sensitive)' },
    })
    for (const path of ['/api/v1/apps', '/api/v1/apps/secretive', '/api/v1/events', '/api/v1/summary']) {
      const text = (await get(`${h.url}${path}`, viewer)).text
      expect(text).not.toContain(h.sealedText)
      expect(text).not.toContain(PLANTED.sealedPlain)
    }
  })

  it('keeps controller bookkeeping out of status: no deploy digests, no secret-like keys at any depth', async () => {
    h.reconcile('App', 'whoami', 'success', {
      ip: '10.44.0.10',
      urls: ['https://whoami.home.arpa'],
      deployed: { version: 1, services: {}, env: {}, secrets: { DB_PASSWORD: 'keyed-digest-of-the-value' } },
      deployStartedAt: 1,
      lastBackup: { volid: 'local:backup/x.tar.zst', notesDigest: 'd1', nested: [{ apiToken: 't1', size: 5 }] },
    })
    try {
      const r = await get(`${h.url}/api/v1/apps/whoami`, viewer)
      expect(r.status).toBe(200)
      expect(r.body.status.extra).toEqual({ lastBackup: { volid: 'local:backup/x.tar.zst', nested: [{ size: 5 }] } })
      expect(r.text).not.toContain('keyed-digest-of-the-value')
      expect(r.body.status.addresses).toEqual({ ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
    } finally {
      h.reconcile('App', 'whoami', 'success', { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
    }
  })

  it('shows kinds without a controller with a status that says so', async () => {
    const r = await get(`${h.url}/api/v1/backuppolicies`, viewer)
    expect(r.body.items.length).toBeGreaterThan(0)
    expect(r.body.items[0].status).toMatchObject({ ready: false, phase: 'NotManaged', reason: 'NoController' })
    const s = await get(`${h.url}/api/v1/summary`, viewer)
    expect(s.body.notManaged.map((n: any) => n.kind)).toContain('BackupPolicy')
  })

  it('filters with labelSelector and fieldSelector, and refuses a bad selector with 400', async () => {
    const byLabel = await get(`${h.url}/api/v1/apps?labelSelector=tier%3Ddb`, viewer)
    expect(byLabel.body.items.map((o: any) => o.metadata.name)).toEqual(['secretive'])
    const notReady = await get(`${h.url}/api/v1/apps?fieldSelector=status.ready%3Dfalse`, viewer)
    expect(notReady.body.items.map((o: any) => o.metadata.name)).not.toContain('whoami')
    expect(notReady.body.items.map((o: any) => o.metadata.name)).toContain('secretive')
    const bad = await get(`${h.url}/api/v1/apps?fieldSelector=spec.secrets%3Dx`, viewer)
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BadRequest')
    const badLabel = await get(`${h.url}/api/v1/apps?labelSelector=a%20in%20(b)`, viewer)
    expect(badLabel.status).toBe(400)
  })

  it('answers 304 to a matching If-None-Match and a new ETag after a change', async () => {
    const first = await get(`${h.url}/api/v1/apps/whoami`, viewer)
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^".+"$/)
    expect((await get(`${h.url}/api/v1/apps/whoami`, viewer, { 'If-None-Match': etag })).status).toBe(304)
    h.reconcile('App', 'whoami', 'waiting')
    const after = await get(`${h.url}/api/v1/apps/whoami`, viewer, { 'If-None-Match': etag })
    expect(after.status).toBe(200)
    expect(after.headers.get('etag')).not.toBe(etag)
    h.reconcile('App', 'whoami', 'success', { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
  })

  it('404s unknown objects and routes and 405s wrong methods, in one error shape, without a stack', async () => {
    const missing = await get(`${h.url}/api/v1/apps/nope`, viewer)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: { code: 'NotFound', message: 'App "nope" not found' } })
    const route = await get(`${h.url}/api/v1/widgets`, viewer)
    expect(route.status).toBe(404)
    expect(route.body.error.code).toBe('NotFound')
    const wrong = await fetch(`${h.url}/api/v1/apps`, { method: 'DELETE', headers: { Authorization: `Bearer ${viewer}` } })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, HEAD')
    const body = (await wrong.json()) as { error: { code: string } }
    expect(body.error.code).toBe('MethodNotAllowed')
    const post = await fetch(`${h.url}/healthz`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(await post.text()).not.toMatch(/at .*\.ts|Error:/)
  })

  it('validates the events limit', async () => {
    expect((await get(`${h.url}/api/v1/events?limit=0`, viewer)).status).toBe(400)
    expect((await get(`${h.url}/api/v1/events?limit=abc`, viewer)).status).toBe(400)
    const ok = await get(`${h.url}/api/v1/events?limit=5&key=App/whoami`, viewer)
    expect(ok.status).toBe(200)
    expect(ok.body.items.every((e: any) => e.key === 'App/whoami')).toBe(true)
  })
})

describe('session cookie', () => {
  it('trades a bearer token for an HttpOnly SameSite=Strict cookie that reads the API', async () => {
    const r = await fetch(`${h.url}/api/v1/session`, { method: 'POST', headers: { Authorization: `Bearer ${viewer}` } })
    expect(r.status).toBe(200)
    const cookie = r.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    const pair = cookie.split(';')[0]!
    const apps = await get(`${h.url}/api/v1/apps`, undefined, { Cookie: pair })
    expect(apps.status).toBe(200)
  })

  it('refuses to set a cookie from a cookie or a bad token', async () => {
    const r = await fetch(`${h.url}/api/v1/session`, { method: 'POST', headers: { Cookie: `proximity_session=${viewer}` } })
    expect(r.status).toBe(401)
    const bad = await fetch(`${h.url}/api/v1/session`, { method: 'POST', headers: { Authorization: 'Bearer a.b.c' } })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('set-cookie')).toBeNull()
  })
})

describe('live stream', () => {
  async function openStream(headers: Record<string, string>) {
    const ac = new AbortController()
    const r = await fetch(`${h.url}/api/v1/stream`, { headers: { Authorization: `Bearer ${viewer}`, ...headers }, signal: ac.signal })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = r.body!.getReader()
    const decoder = new TextDecoder()
    let buf = ''
    const next = async (pred: (ev: { event: string; id: string; data: any }) => boolean) => {
      for (;;) {
        let idx
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx)
          buf = buf.slice(idx + 2)
          const ev = { event: 'message', id: '', data: undefined as any }
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) ev.event = line.slice(6).trim()
            else if (line.startsWith('id:')) ev.id = line.slice(3).trim()
            else if (line.startsWith('data:')) ev.data = JSON.parse(line.slice(5))
          }
          if (ev.data !== undefined && pred(ev)) return ev
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buf += decoder.decode(value, { stream: true })
      }
    }
    return { next, close: () => ac.abort() }
  }

  it('pushes status changes as masked objects, and resumes from Last-Event-ID', async () => {
    const s = await openStream({})
    await s.next((e) => e.event === 'hello')
    h.reconcile('App', 'secretive', 'waiting')
    const ev = await s.next((e) => e.event === 'status' && e.data.key === 'App/secretive')
    expect(ev.data.data.status.phase).toBe('Progressing')
    expect(JSON.stringify(ev.data)).not.toContain(h.sealedText)
    s.close()
    // Changes made while disconnected arrive after a reconnect with Last-Event-ID.
    h.reconcile('App', 'secretive', 'stalled')
    const resumed = await openStream({ 'Last-Event-ID': ev.id })
    const missed = await resumed.next((e) => e.event === 'status' && e.data.key === 'App/secretive')
    expect(Number(missed.id)).toBeGreaterThan(Number(ev.id))
    expect(missed.data.data.status.phase).toBe('Stalled')
    resumed.close()
  })
})

describe('security headers', () => {
  it('every kind of answer carries nosniff, no-referrer and DENY (lists, 304, errors, stream, dashboard)', async () => {
    const auth = { Authorization: `Bearer ${viewer}` }
    const etag = (await get(`${h.url}/api/v1/apps`, viewer)).headers.get('etag')!
    const ac = new AbortController()
    const answers = [
      await fetch(`${h.url}/api/v1/apps`, { headers: auth }),
      await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': 'gzip' } }),
      await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'If-None-Match': etag } }),
      await fetch(`${h.url}/api/v1/apps/whoami`, { headers: auth }),
      await fetch(`${h.url}/api/v1/apps/nope`, { headers: auth }),
      await fetch(`${h.url}/api/v1/apps`),
      await fetch(`${h.url}/api/v1/apps`, { method: 'DELETE', headers: auth }),
      await fetch(`${h.url}/healthz`),
      await fetch(`${h.url}/`),
      await fetch(`${h.url}/api/v1/stream`, { headers: auth, signal: ac.signal }),
    ]
    expect(answers.map((r) => r.status)).toEqual([200, 200, 304, 200, 404, 401, 405, 200, 200, 200])
    for (const r of answers) {
      expect([r.url, r.headers.get('x-content-type-options'), r.headers.get('referrer-policy'), r.headers.get('x-frame-options')]).toEqual([r.url, 'nosniff', 'no-referrer', 'DENY'])
    }
    ac.abort()
    await Promise.all(answers.map((r) => r.body?.cancel().catch(() => {})))
  })
})

describe('compression', () => {
  it('sends large lists gzip-compressed to clients that ask, with the same ETag and content', async () => {
    const plain = await fetch(`${h.url}/api/v1/apps`, { headers: { Authorization: `Bearer ${viewer}`, 'Accept-Encoding': 'identity' } })
    const zipped = await fetch(`${h.url}/api/v1/apps`, { headers: { Authorization: `Bearer ${viewer}`, 'Accept-Encoding': 'gzip' } })
    expect(zipped.headers.get('content-encoding')).toBe('gzip')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(zipped.headers.get('etag')).toBe(plain.headers.get('etag'))
    expect(await zipped.json()).toEqual(await plain.json())
  })
})

describe('content coding', () => {
  const cases: { name: string; reason: string; given: string | undefined; want: 'br' | 'gzip' | undefined }[] = [
    { name: 'none', reason: 'a client that asks for nothing gets the plain body', given: undefined, want: undefined },
    { name: 'browser', reason: 'browsers send gzip, deflate, br: brotli is smaller', given: 'gzip, deflate, br, zstd', want: 'br' },
    { name: 'curl --compressed', reason: 'gzip alone', given: 'deflate, gzip', want: 'gzip' },
    { name: 'refused br', reason: 'q=0 means not acceptable', given: 'br;q=0, gzip', want: 'gzip' },
    { name: 'weights', reason: 'the higher weight wins', given: 'br;q=0.5, gzip;q=0.9', want: 'gzip' },
    { name: 'wildcard', reason: '* accepts every coding', given: '*', want: 'br' },
    { name: 'identity only', reason: 'identity is the plain body', given: 'identity', want: undefined },
    { name: 'garbage weight', reason: 'an unparsable q is not acceptance', given: 'gzip;q=abc', want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => expect(pickEncoding(c.given)).toBe(c.want))
  }

  it('sends brotli to clients that prefer it, with the same ETag and content as the plain list', async () => {
    const auth = { Authorization: `Bearer ${viewer}` }
    const plain = await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': 'identity' } })
    const br = await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': 'gzip, br' } })
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(br.headers.get('vary')).toBe('Accept-Encoding')
    expect(br.headers.get('etag')).toBe(plain.headers.get('etag'))
    expect(await br.json()).toEqual(await plain.json())
  })
})

describe('compression after a change', () => {
  it('clients asking at once right after a change all get the new list, compressed once, with one ETag', async () => {
    const auth = { Authorization: `Bearer ${viewer}` }
    const before = (await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': 'br' } })).headers.get('etag')
    h.reconcile('App', 'whoami', 'stalled')
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': i % 2 ? 'br' : 'gzip' } })),
    )
    const plain = await fetch(`${h.url}/api/v1/apps`, { headers: { ...auth, 'Accept-Encoding': 'identity' } })
    const want = (await plain.json()) as { items: any[] }
    expect(new Set(answers.map((r) => r.headers.get('etag')))).toEqual(new Set([plain.headers.get('etag')]))
    expect(plain.headers.get('etag')).not.toBe(before)
    expect(answers.map((r) => r.headers.get('content-encoding'))).toEqual(answers.map((_, i) => (i % 2 ? 'br' : 'gzip')))
    for (const r of answers) expect(await r.json()).toEqual(want)
    expect(want.items.find((o: any) => o.metadata.name === 'whoami').status.phase).toBe('Stalled')
    h.reconcile('App', 'whoami', 'success', { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
  })
})

describe('pages (limit and continue)', () => {
  type Page = { kind: string; metadata: { continue?: string; remainingItemCount?: number }; items: { metadata: { name: string } }[] }
  async function walk(query: string, limit: number): Promise<{ names: string[]; pages: Page[] }> {
    const pages: Page[] = []
    let token: string | undefined
    do {
      const r = await get(`${h.url}/api/v1/apps?limit=${limit}${query}${token ? `&continue=${token}` : ''}`, viewer)
      expect(r.status).toBe(200)
      pages.push(r.body)
      token = r.body.metadata.continue
    } while (token && pages.length < 100)
    return { names: pages.flatMap((p) => p.items.map((o) => o.metadata.name)), pages }
  }

  it('walks the whole list in name order, one page at a time, with the count still to come', async () => {
    const full = (await get(`${h.url}/api/v1/apps`, viewer)).body
    const { names, pages } = await walk('', 2)
    expect(names).toEqual(full.items.map((o: any) => o.metadata.name))
    expect(pages.length).toBe(Math.ceil(names.length / 2))
    expect(pages.map((p) => p.metadata.remainingItemCount ?? 0)).toEqual(pages.map((_, i) => Math.max(0, names.length - 2 * (i + 1))))
    expect(pages[0]!.kind).toBe('AppList')
    // A page is the same objects as the full list shows.
    expect(pages[0]!.items).toEqual(full.items.slice(0, 2))
  })

  it('pages a selected list too, and a page larger than the list is the whole list without continue', async () => {
    const selected = (await get(`${h.url}/api/v1/apps?fieldSelector=status.ready=false`, viewer)).body.items.map((o: any) => o.metadata.name)
    expect(selected.length).toBeGreaterThan(1)
    expect((await walk('&fieldSelector=status.ready=false', 1)).names).toEqual(selected)
    const all = await get(`${h.url}/api/v1/apps?limit=10000`, viewer)
    expect(all.body.metadata).toEqual({})
    expect(all.body.items.length).toBe(h.set.apps.length)
  })

  it('refuses a bad limit or a continue token it did not give, with 400 in the error shape', async () => {
    const bad = ['limit=0', 'limit=abc', 'limit=10001', 'limit=-1', 'continue=abc', 'limit=2&continue=not-ours', `limit=2&continue=${Buffer.from('{"v":2}').toString('base64url')}`]
    for (const q of bad) {
      const r = await get(`${h.url}/api/v1/apps?${q}`, viewer)
      expect([q, r.status, r.body.error?.code]).toEqual([q, 400, 'BadRequest'])
    }
  })

  it('a page has its own ETag and answers 304 until the list changes', async () => {
    const first = await get(`${h.url}/api/v1/apps?limit=2`, viewer)
    const etag = first.headers.get('etag')!
    expect(etag).not.toBe((await get(`${h.url}/api/v1/apps`, viewer)).headers.get('etag'))
    expect((await get(`${h.url}/api/v1/apps?limit=2`, viewer, { 'If-None-Match': etag })).status).toBe(304)
    const firstName = first.body.items[0].metadata.name
    h.reconcile('App', firstName, 'waiting')
    const after = await get(`${h.url}/api/v1/apps?limit=2`, viewer, { 'If-None-Match': etag })
    expect(after.status).toBe(200)
    expect(after.body.items[0].status.phase).toBe('Progressing')
  })
})
