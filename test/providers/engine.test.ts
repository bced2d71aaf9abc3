import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { proxmoxApi } from 'proxmox-api'
import { PveEngine, type PveEngineOptions, type PveRequestEvent } from '../../src/providers/proxmox/engine.js'
import { PveApiError } from '../../src/providers/proxmox/errors.js'
import { fail, ok, startFakePve, type FakePve } from './fake-pve.js'

const TOKEN = { tokenId: 'root@pam!proximity', tokenSecret: '0b7f3a2e-1111-4c2d-9e8f-123456789abc' }

let pve: FakePve
const engines: PveEngine[] = []

beforeAll(async () => {
  pve = await startFakePve()
})
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()))
  await pve.close()
})
beforeEach(() => {
  pve.requests.length = 0
})

function engine(extra: Partial<PveEngineOptions> = {}): PveEngine {
  const e = new PveEngine({
    endpoint: pve.endpoint,
    tls: { fingerprint: pve.fingerprint },
    auth: TOKEN,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    timeoutMs: 2000,
    ...extra,
  })
  engines.push(e)
  return e
}

async function caught(p: Promise<unknown>): Promise<PveApiError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(PveApiError)
    return err as PveApiError
  }
  throw new Error('expected a rejection')
}

describe('wire format through the real proxmox-api proxy', () => {
  it('sends the token header and unwraps the envelope', async () => {
    pve.route('GET', '/version', (_req, res) => ok(res, { version: '9.1.2', release: '9.1', repoid: 'abc' }))
    const api = proxmoxApi(engine())
    await expect(api.version.$get()).resolves.toEqual({ version: '9.1.2', release: '9.1', repoid: 'abc' })
    expect(pve.requests[0]!.headers['authorization']).toBe(`PVEAPIToken=${TOKEN.tokenId}=${TOKEN.tokenSecret}`)
  })

  it('encodes GET params in the query: booleans 1/0, arrays as repeated keys, nulls dropped', async () => {
    pve.route('GET', '/nodes/pve/lxc/101/config', (_req, res) => ok(res, { digest: 'd' }))
    const e = engine()
    await e.doRequest('get', '/api2/json/nodes/pve/lxc/101/config', '/api2/json/nodes/*/lxc/*/config', { current: true, snapshot: null, x: ['a', 'b'], off: false })
    const q = pve.requests[0]!.query
    expect(q.get('current')).toBe('1')
    expect(q.get('off')).toBe('0')
    expect(q.getAll('x')).toEqual(['a', 'b'])
    expect(q.has('snapshot')).toBe(false)
    expect(pve.requests[0]!.body).toBe('')
  })

  it('sends POST params urlencoded so ; = , survive PVE splitting (trap 13)', async () => {
    pve.route('POST', '/nodes/pve/lxc', (_req, res) => ok(res, 'UPID:pve:00000001:00000002:65B8F2A1:vzcreate:101:root@pam!proximity:'))
    const api = proxmoxApi(engine())
    await api.nodes.$('pve').lxc.$post({ vmid: 101, ostemplate: 'local:vztmpl/x.tar.zst', tags: 'a;b', net0: 'name=eth0,ip=dhcp', unprivileged: true })
    const req = pve.requests[0]!
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(req.body).toContain('tags=a%3Bb')
    expect(req.body).toContain('net0=name%3Deth0%2Cip%3Ddhcp')
    expect(req.body).toContain('unprivileged=1')
    expect(req.query.toString()).toBe('')
  })

  it('percent-encodes the / of a volid in the path (trap 14)', async () => {
    pve.route('DELETE', '/nodes/pve/storage/local/content/local:backup%2Fvzdump-lxc-101.tar.zst', (_req, res) => ok(res, 'UPID:pve:00000001:00000002:65B8F2A1:imgdel:101@local:root@pam:'))
    const api = proxmoxApi(engine())
    await expect(api.nodes.$('pve').storage.$('local').content.$('local:backup/vzdump-lxc-101.tar.zst').$delete()).resolves.toMatch(/^UPID:/)
  })

  it('returns total and changes through requestRaw', async () => {
    pve.route('GET', '/nodes/pve/network', (_req, res) => ok(res, [{ iface: 'vmbr1' }], { changes: '--- a\n+++ b\n' }))
    pve.route('GET', '/nodes/pve/tasks/U/log', (_req, res) => ok(res, [{ n: 1, t: 'x' }], { total: 42 }))
    const e = engine()
    await expect(e.requestRaw('GET', '/nodes/pve/network')).resolves.toEqual({ data: [{ iface: 'vmbr1' }], changes: '--- a\n+++ b\n' })
    await expect(e.requestRaw('GET', '/nodes/pve/tasks/U/log')).resolves.toMatchObject({ total: 42 })
  })

  it.each([
    { name: 'lower-case utf-8 with space', contentType: 'application/json; charset=utf-8', reason: 'proxmox-api and real PVE agree on the exact form; anything else is not PVE' },
    { name: 'html', contentType: 'text/html', reason: 'a reverse proxy login page must not be parsed as data' },
  ])('rejects a 200 with content type $name', async ({ contentType }) => {
    pve.route('GET', '/nodes', (_req, res) => {
      res.writeHead(200, { 'content-type': contentType })
      res.end('{"data":[]}')
    })
    const err = await caught(engine().requestRaw('GET', '/nodes'))
    expect(err.kind).toBe('protocol')
    expect(err.reason).toBe('unexpected content type')
    expect(err.isTransient()).toBe(false)
  })
})

describe('typed errors', () => {
  it('turns a 500 not-found into isNotFound with a named path template (trap 1)', async () => {
    pve.route('GET', '/nodes/pve/lxc/999/config', (_req, res) => fail(res, 500, "Configuration file 'nodes/pve/lxc/999.conf' does not exist"))
    const api = proxmoxApi(engine())
    const err = await caught(api.nodes.$('pve').lxc.$(999).config.$get())
    expect(err).toMatchObject({ kind: 'http', status: 500, method: 'GET', pathTemplate: '/nodes/{node}/lxc/{vmid}/config' })
    expect(err.reason).toBe("Configuration file 'nodes/pve/lxc/999.conf' does not exist")
    expect(err.isNotFound()).toBe(true)
    expect(err.isTransient()).toBe(false)
    expect(pve.requests).toHaveLength(1)
  })

  it('carries the 400 per-parameter map', async () => {
    pve.route('GET', '/cluster/nextid', (_req, res) => fail(res, 400, 'Parameter verification failed.', { vmid: 'VM 104 already exists' }))
    const err = await caught(engine().requestRaw('GET', '/cluster/nextid', '/cluster/nextid', { vmid: 104 }))
    expect(err.status).toBe(400)
    expect(err.errors).toEqual({ vmid: 'VM 104 already exists' })
    expect(err.isAlreadyExists()).toBe(true)
    expect(err.isValidation()).toBe(false)
  })

  it('uses the reason phrase when an auth error has no body', async () => {
    pve.route('GET', '/nodes', (_req, res) => {
      res.writeHead(401, 'No ticket')
      res.end()
    })
    const err = await caught(engine().requestRaw('GET', '/nodes'))
    expect(err).toMatchObject({ status: 401, reason: 'No ticket' })
    expect(err.isAuth()).toBe(true)
    expect(pve.requests).toHaveLength(1)
  })

  it('never puts the token secret into an error', async () => {
    pve.route('GET', '/nodes', (_req, res) => fail(res, 500, `weird echo ${TOKEN.tokenSecret}`))
    const err = await caught(engine({ retry: { retries: 0 } }).requestRaw('GET', '/nodes'))
    expect(err.message).not.toContain(TOKEN.tokenSecret)
    expect(err.reason).not.toContain(TOKEN.tokenSecret)
    expect(JSON.stringify(err)).not.toContain(TOKEN.tokenSecret)
  })

  it('hides what a 400 echoes about a secret parameter', async () => {
    pve.route('POST', '/nodes/pve/lxc', (_req, res) => fail(res, 400, 'Parameter verification failed.', { password: "value 'hunter2-root' is too short", hostname: 'invalid format - value does not look like a valid DNS name' }))
    const err = await caught(engine().requestRaw('POST', '/nodes/pve/lxc', '/nodes/*/lxc', { password: 'hunter2-root', hostname: 'bad_name' }))
    expect(err.isValidation()).toBe(true)
    expect(err.errors).toEqual({ password: 'invalid value', hostname: 'invalid format - value does not look like a valid DNS name' })
    expect(err.message).not.toContain('hunter2-root')
    expect(err.message).toContain('hostname')
  })

  it('maps the 501 of an unknown route as not transient', async () => {
    const err = await caught(engine().requestRaw('GET', '/nope'))
    expect(err.status).toBe(501)
    expect(err.isTransient()).toBe(false)
    expect(pve.requests).toHaveLength(1)
  })
})

describe('retries: reads only', () => {
  it('retries a GET on 503 and succeeds', async () => {
    let n = 0
    pve.route('GET', '/nodes', (_req, res) => (++n < 3 ? fail(res, 503, 'Service Unavailable') : ok(res, [{ node: 'pve', status: 'online' }])))
    const events: PveRequestEvent[] = []
    await expect(engine({ onRequest: (ev) => events.push(ev) }).requestRaw('GET', '/nodes')).resolves.toEqual({ data: [{ node: 'pve', status: 'online' }] })
    expect(pve.requests).toHaveLength(3)
    expect(events.map((e) => [e.status, e.attempt, e.pathTemplate])).toEqual([[503, 1, '/nodes'], [503, 2, '/nodes'], [200, 3, '/nodes']])
  })

  it('gives up after the bounded number of GET retries', async () => {
    pve.route('GET', '/nodes', (_req, res) => fail(res, 596, 'Broken pipe'))
    const err = await caught(engine({ retry: { retries: 2, baseDelayMs: 1 } }).requestRaw('GET', '/nodes'))
    expect(err.status).toBe(596)
    expect(err.isTransient()).toBe(true)
    expect(pve.requests).toHaveLength(3)
  })

  it('never retries a POST, even on 503', async () => {
    pve.route('POST', '/nodes/pve/lxc', (_req, res) => fail(res, 503, 'Service Unavailable'))
    const err = await caught(proxmoxApi(engine()).nodes.$('pve').lxc.$post({ vmid: 101, ostemplate: 'local:vztmpl/x.tar.zst' }))
    expect(err.isTransient()).toBe(true)
    expect(pve.requests).toHaveLength(1)
  })

  it('reports a dropped connection as a network error; GET retried, PUT not', async () => {
    let n = 0
    pve.route('GET', '/nodes', (_req, res) => (++n === 1 ? res.socket?.destroy() : ok(res, [])))
    pve.route('PUT', '/nodes/pve/lxc/101/config', (_req, res) => res.socket?.destroy())
    await expect(engine().requestRaw('GET', '/nodes')).resolves.toEqual({ data: [] })
    expect(n).toBe(2)
    pve.requests.length = 0
    const err = await caught(engine().requestRaw('PUT', '/nodes/pve/lxc/101/config', '/nodes/*/lxc/*/config', { memory: 512 }))
    expect(err).toMatchObject({ kind: 'network', status: 0, method: 'PUT', pathTemplate: '/nodes/{node}/lxc/{vmid}/config' })
    expect(err.isNetwork()).toBe(true)
    expect(err.isTransient()).toBe(true)
    expect(pve.requests).toHaveLength(1)
  })

  it('times out a slow request (kind timeout, not retried for POST)', async () => {
    pve.route('POST', '/nodes/pve/lxc/101/status/start', (_req, res) => {
      setTimeout(() => ok(res, 'late'), 500)
    })
    const err = await caught(engine({ timeoutMs: 100 }).requestRaw('POST', '/nodes/pve/lxc/101/status/start'))
    expect(err.kind).toBe('timeout')
    expect(err.isTimeout()).toBe(true)
    expect(err.isNetwork()).toBe(true)
    expect(pve.requests).toHaveLength(1)
  })
})

describe('connections', () => {
  it('keeps at most maxConnections sockets to the endpoint; further requests queue', async () => {
    pve.route('GET', '/version', (_req, res) => ok(res, { version: '9.1.2' }))
    const e = engine({ maxConnections: 3 })
    await e.requestRaw('GET', '/version')
    await Promise.all(engines.filter((x) => x !== e).map((x) => x.close()))
    pve.resetPeak()
    const base = pve.peakConnections()
    await Promise.all(Array.from({ length: 30 }, () => e.requestRaw('GET', '/version')))
    expect(pve.requests).toHaveLength(31)
    expect(pve.peakConnections() - base).toBeLessThanOrEqual(3)
  })
})

describe('tls', () => {
  it('refuses a wrong fingerprint before any request is sent', async () => {
    const wrong = pve.fingerprint.replace(/^../, pve.fingerprint.startsWith('AA') ? 'BB' : 'AA')
    const err = await caught(engine({ tls: { fingerprint: wrong } }).requestRaw('GET', '/version'))
    expect(err.kind).toBe('tls')
    expect(err.isTlsMismatch()).toBe(true)
    expect(err.isTransient()).toBe(false)
    expect(pve.requests).toHaveLength(0)
  })

  it('accepts the fingerprint in lower case without colons', async () => {
    pve.route('GET', '/version', (_req, res) => ok(res, { version: '9.1.2' }))
    const fp = pve.fingerprint.replace(/:/g, '').toLowerCase()
    await expect(engine({ tls: { fingerprint: fp } }).doRequest('GET', '/api2/json/version', '/api2/json/version')).resolves.toEqual({ version: '9.1.2' })
  })

  it('trusts a pinned CA and refuses without one', async () => {
    pve.route('GET', '/version', (_req, res) => ok(res, { version: '9.1.2' }))
    await expect(engine({ tls: { ca: pve.certPem } }).requestRaw('GET', '/version')).resolves.toEqual({ data: { version: '9.1.2' } })
    const err = await caught(engine({ tls: {} }).requestRaw('GET', '/version'))
    expect(err.kind).toBe('tls')
    expect(pve.requests).toHaveLength(1)
  })

  it('skips verification only when asked', async () => {
    pve.route('GET', '/version', (_req, res) => ok(res, { version: '9.1.2' }))
    await expect(engine({ tls: { insecureSkipVerify: true } }).requestRaw('GET', '/version')).resolves.toEqual({ data: { version: '9.1.2' } })
  })
})

describe('ticket auth', () => {
  const PASSWORD = 'correct horse battery staple'

  function loginRoutes(counter: { logins: number }) {
    pve.route('POST', '/access/ticket', (req, res) => {
      const body = new URLSearchParams(req.body)
      if (body.get('username') !== 'root@pam' || body.get('password') !== PASSWORD) return fail(res, 401, 'authentication failure')
      counter.logins++
      ok(res, { username: 'root@pam', ticket: `PVE:root@pam:0000000${counter.logins}::sig`, CSRFPreventionToken: `csrf${counter.logins}` })
    })
  }

  it('logs in once, sends the cookie, and CSRF only on writes', async () => {
    const counter = { logins: 0 }
    loginRoutes(counter)
    pve.route('GET', '/nodes', (_req, res) => ok(res, []))
    pve.route('PUT', '/nodes/pve/lxc/101/config', (_req, res) => ok(res, null))
    const e = engine({ auth: { username: 'root@pam', password: PASSWORD } })
    await e.requestRaw('GET', '/nodes')
    await e.requestRaw('PUT', '/nodes/pve/lxc/101/config', undefined, { memory: 1024 })
    expect(counter.logins).toBe(1)
    const [, get, put] = pve.requests
    expect(get!.headers['cookie']).toBe(`PVEAuthCookie=${encodeURIComponent('PVE:root@pam:00000001::sig')}`)
    expect(get!.headers['csrfpreventiontoken']).toBeUndefined()
    expect(put!.headers['csrfpreventiontoken']).toBe('csrf1')
    expect(put!.headers['authorization']).toBeUndefined()
  })

  it('shares one login between concurrent first requests', async () => {
    const counter = { logins: 0 }
    loginRoutes(counter)
    pve.route('GET', '/nodes', (_req, res) => ok(res, []))
    const e = engine({ auth: { username: 'root@pam', password: PASSWORD } })
    await Promise.all(Array.from({ length: 10 }, () => e.requestRaw('GET', '/nodes')))
    expect(counter.logins).toBe(1)
  })

  it('re-logs in once on 401 and resends', async () => {
    const counter = { logins: 0 }
    loginRoutes(counter)
    pve.route('POST', '/nodes/pve/lxc/101/status/start', (req, res) =>
      req.headers['cookie']?.includes('00000001') ? (res.writeHead(401, 'Authentication failed!'), res.end()) : ok(res, 'UPID:x'),
    )
    const e = engine({ auth: { username: 'root@pam', password: PASSWORD } })
    await expect(e.doRequest('POST', '/api2/json/nodes/pve/lxc/101/status/start', '/api2/json/nodes/*/lxc/*/status/start')).resolves.toBe('UPID:x')
    expect(counter.logins).toBe(2)
    expect(pve.requests.filter((r) => r.path.endsWith('/start'))).toHaveLength(2)
  })

  it('renews the ticket before the 2 h expiry (clock injected)', async () => {
    const counter = { logins: 0 }
    loginRoutes(counter)
    pve.route('GET', '/nodes', (_req, res) => ok(res, []))
    let clock = 1_000_000
    const e = engine({ auth: { username: 'root@pam', password: PASSWORD }, now: () => clock })
    await e.requestRaw('GET', '/nodes')
    clock += 60 * 60_000
    await e.requestRaw('GET', '/nodes')
    expect(counter.logins).toBe(1)
    clock += 31 * 60_000
    await e.requestRaw('GET', '/nodes')
    expect(counter.logins).toBe(2)
  })

  it('reports a bad password as isAuth without echoing it', async () => {
    loginRoutes({ logins: 0 })
    const e = engine({ auth: { username: 'root@pam', password: 'wrong-password-123' } })
    const err = await caught(e.requestRaw('GET', '/nodes'))
    expect(err.isAuth()).toBe(true)
    expect(err.pathTemplate).toBe('/access/ticket')
    expect(err.message).not.toContain('wrong-password-123')
    expect(pve.requests).toHaveLength(1)
  })
})

describe('options', () => {
  it.each([
    { endpoint: 'https://pve.lan', want: 'https://pve.lan:8006', reason: 'no port means 8006, never 443 (trap 4)' },
    { endpoint: 'https://pve.lan:443/', want: 'https://pve.lan:443', reason: 'an explicit port is kept, even the scheme default' },
    { endpoint: 'https://10.0.0.2:8006/api2/json', want: 'https://10.0.0.2:8006', reason: 'users paste the API base; it is not doubled' },
    { endpoint: 'http://[::1]:18006', want: 'http://[::1]:18006', reason: 'IPv6 literals and plain http (a local simulator) work' },
  ])('parses $endpoint', ({ endpoint, want }) => {
    expect(new PveEngine({ endpoint, auth: TOKEN }).endpoint.origin).toBe(want)
  })

  it.each([
    { opts: { endpoint: 'ftp://pve', auth: TOKEN }, want: /endpoint/, reason: 'only http(s) is spoken' },
    { opts: { endpoint: 'https://root:pw@pve', auth: TOKEN }, want: /endpoint/, reason: 'credentials in the URL are refused (and not echoed)' },
    { opts: { endpoint: 'https://pve', auth: { tokenId: 'root@pam', tokenSecret: 'x' } }, want: /tokenId/, reason: 'a token id needs the !name part' },
    { opts: { endpoint: 'https://pve', auth: {} as never }, want: /auth/, reason: 'some auth is required' },
    { opts: { endpoint: 'https://pve', auth: TOKEN, tls: { fingerprint: 'abc' } }, want: /fingerprint/, reason: 'a short fingerprint is a typo, not a pin' },
    { opts: { endpoint: 'https://pve', auth: TOKEN, tls: { ca: 'x', insecureSkipVerify: true } }, want: /only one/, reason: 'contradicting trust settings are refused' },
  ])('refuses bad options: $reason', ({ opts, want }) => {
    expect(() => new PveEngine(opts as PveEngineOptions)).toThrow(want)
    try {
      new PveEngine(opts as PveEngineOptions)
    } catch (err) {
      expect((err as Error).message).not.toContain(':pw@')
    }
  })
})
