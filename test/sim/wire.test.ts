import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createCt, raw, startSim } from './helpers.js'

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startSim()
  await createCt(sim, 100)
})
afterAll(() => sim.stop())

describe('envelope and headers', () => {
  it('sends {data} with the exact content type and PVE headers', async () => {
    const r = await raw(sim, 'GET', '/version')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json;charset=UTF-8')
    expect(r.headers.server).toBe('pve-api-daemon/3.0')
    expect(r.headers['cache-control']).toBe('max-age=0')
    expect(r.json.data.release).toBe('9.1')
  })

  it('returns nextid as a JSON string and 400 for a taken vmid', async () => {
    expect((await raw(sim, 'GET', '/cluster/nextid')).json).toEqual({ data: '101' })
    const r = await raw(sim, 'GET', '/cluster/nextid?vmid=100')
    expect(r.status).toBe(400)
    expect(r.json.errors).toEqual({ vmid: 'VM 100 already exists' })
  })

  it('answers errors with reason = first message line and a {data:null,message} body', async () => {
    const r = await raw(sim, 'GET', '/nodes/pve/lxc/999/config')
    expect(r.status).toBe(500)
    expect(r.reason).toBe("Configuration file 'nodes/pve/lxc/999.conf' does not exist")
    expect(r.json).toEqual({ data: null, message: "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n" })
    expect(r.headers.connection).toBe('close')
  })

  it('answers unknown routes and bodies on GET with 501', async () => {
    const a = await raw(sim, 'GET', '/nodes/pve/nothing')
    expect(a.status).toBe(501)
    expect(a.reason).toBe("Method 'GET /nodes/pve/nothing' not implemented")
    const b = await raw(sim, 'DELETE', '/nodes/pve/lxc/100', { form: 'x=1' })
    expect(b.status).toBe(501)
    expect(b.reason).toBe("Unexpected content for method 'DELETE'")
  })

  it('answers an unknown node with the hostname lookup error', async () => {
    const r = await raw(sim, 'GET', '/nodes/nope/lxc')
    expect(r.status).toBe(500)
    expect(r.json.message).toMatch(/^hostname lookup 'nope' failed/)
  })
})

describe('parameter validation', () => {
  const cases = [
    { name: 'unknown parameter', reason: 'every method has additionalProperties: 0 (qemu-only full=1 on lxc list)', path: '/nodes/pve/lxc?full=1', key: 'full', msg: 'property is not defined in schema and the schema does not allow additional properties' },
    { name: 'boolean true', reason: "booleans accept only 0/1; 'true' is a type error", path: '/nodes/pve/lxc/100/config?current=true', key: 'current', msg: "type check ('boolean') failed - got 'true'" },
    { name: 'enum', reason: 'enum values are enforced with the PVE text', path: '/cluster/resources?type=foo', key: 'type', msg: "value 'foo' does not have a value in the enumeration 'vm, storage, node, sdn'" },
    { name: 'integer', reason: 'integers are checked by regex', path: '/nodes/pve/tasks?limit=abc', key: 'limit', msg: "type check ('integer') failed - got 'abc'" },
    { name: 'minimum', reason: 'limit has a minimum of 0', path: '/nodes/pve/tasks?limit=-1', key: 'limit', msg: 'value must have a minimum value of 0' },
    { name: 'format before minimum', reason: 'check_prop verifies the format (pve-vmid) before the range, so vmid=5 fails its format', path: '/cluster/nextid?vmid=5', key: 'vmid', msg: 'invalid format - value does not look like a valid VM ID\n' },
  ]
  for (const c of cases) {
    it(`rejects ${c.name} with 400 and an errors map (${c.reason})`, async () => {
      const r = await raw(sim, 'GET', c.path)
      expect(r.status).toBe(400)
      expect(r.reason).toBe('Parameter verification failed.')
      expect(r.json.message).toBe('Parameter verification failed.\n')
      expect(r.json.errors[c.key]).toBe(c.msg)
    })
  }

  it('reports a missing required parameter', async () => {
    const r = await raw(sim, 'POST', '/nodes/pve/lxc', { form: 'vmid=150' })
    expect(r.status).toBe(400)
    expect(r.json.errors).toEqual({ ostemplate: 'property is missing and it is not optional' })
  })

  it('checks formats such as dns-name and property strings', async () => {
    const r = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { form: `hostname=bad_name&net1=${encodeURIComponent('bridge=vmbr0')}` })
    expect(r.status).toBe(400)
    expect(r.json.errors.hostname).toBe('invalid format - value does not look like a valid DNS name\n')
    expect(r.json.errors.net1).toMatch(/name: property is missing and it is not optional/)
  })

  it('splits urlencoded bodies on ; as well as &, so a raw tags=a;b loses b', async () => {
    const r = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { form: 'tags=zeta;b' })
    expect(r.status).toBe(400)
    expect(r.json.errors.b).toMatch(/not defined in schema/)
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { form: 'tags=Zeta%3Bb%3Bzeta' })).status).toBe(200)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/100/config')).json.data.tags).toBe('b;zeta')
  })

  it('accepts JSON bodies and merges the query over the body', async () => {
    const r = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config?cores=3', { json: { cores: 2, onboot: true } })
    expect(r.text).toBe('{"data":null}')
    const cfg = (await raw(sim, 'GET', '/nodes/pve/lxc/100/config')).json.data
    expect(cfg.cores).toBe(3)
    expect(cfg.onboot).toBe(1)
  })

  it('rejects a path parameter repeated with another value', async () => {
    const r = await raw(sim, 'GET', '/nodes/pve/lxc/100/config?vmid=101')
    expect(r.status).toBe(400)
    expect(r.json.errors.vmid).toBe('duplicate parameter (already defined in URI) with conflicting values!')
  })

  it('decodes %2F in volids after splitting the path', async () => {
    const r = await raw(sim, 'GET', `/nodes/pve/storage/local/content/${encodeURIComponent('local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz')}`)
    expect(r.status).toBe(200)
    expect(r.json.data.format).toBe('txz')
    const mismatch = await raw(sim, 'GET', `/nodes/pve/storage/local/content/${encodeURIComponent('other:vztmpl/x.tar.xz')}`)
    expect(mismatch.status).toBe(400)
    expect(mismatch.json.errors.volume).toBe('storage ID mismatch (other != local)')
  })
})

describe('authentication', () => {
  it('answers a missing ticket with a bare 401 No ticket', async () => {
    const r = await raw(sim, 'GET', '/version', { auth: 'none' })
    expect(r.status).toBe(401)
    expect(r.reason).toBe('No ticket')
    expect(r.text).toBe('')
    expect(r.headers['content-type']).toBeUndefined()
  })

  it('accepts the token with a space separator and rejects a wrong secret', async () => {
    expect((await raw(sim, 'GET', '/version', { headers: { authorization: `PVEAPIToken ${sim.tokenId}=${sim.tokenSecret}` } })).status).toBe(200)
    const bad = await raw(sim, 'GET', '/version', { headers: { authorization: `PVEAPIToken=${sim.tokenId}=00000000-0000-0000-0000-000000000000` } })
    expect(bad.status).toBe(401)
    expect(bad.reason).toBe('Authentication failed!')
  })

  it('issues tickets, requires CSRF on non-GET and lets root@pam set keyctl', async () => {
    const bad = await raw(sim, 'POST', '/access/ticket', { auth: 'none', form: 'username=root@pam&password=wrong' })
    expect(bad.status).toBe(401)
    expect(bad.json.message).toBe('authentication failure\n')
    const login = await raw(sim, 'POST', '/access/ticket', { auth: 'none', form: `username=root%40pam&password=${encodeURIComponent(sim.password)}` })
    expect(login.status).toBe(200)
    const { ticket, CSRFPreventionToken, username } = login.json.data
    expect(username).toBe('root@pam')
    expect(ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::/)
    const cookie = `PVEAuthCookie=${encodeURIComponent(ticket)}`
    expect((await raw(sim, 'GET', '/nodes', { headers: { cookie } })).status).toBe(200)
    expect((await raw(sim, 'GET', '/nodes', { headers: { authorization: `PVEAuthCookie=${ticket}` } })).status).toBe(200)
    const noCsrf = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { headers: { cookie }, form: 'features=nesting%3D1%2Ckeyctl%3D1' })
    expect(noCsrf.status).toBe(401)
    expect(noCsrf.reason).toBe('Permission denied - invalid csrf token')
    const ok = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { headers: { cookie, csrfpreventiontoken: CSRFPreventionToken }, form: 'features=nesting%3D1%2Ckeyctl%3D1' })
    expect(ok.status).toBe(200)
    const perms = await raw(sim, 'GET', '/access/permissions', { headers: { cookie } })
    expect(perms.json.data['/']['VM.Allocate']).toBe(1)
  })

  it('forbids a token (not root@pam) to change features other than nesting', async () => {
    const r = await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=160&ostemplate=${encodeURIComponent('local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz')}&rootfs=local-lvm%3A4&features=${encodeURIComponent('nesting=1,keyctl=1')}` })
    expect(r.status).toBe(403)
    expect(r.reason).toBe('Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)')
    const nesting = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { form: 'features=nesting%3D0%2Ckeyctl%3D1' })
    expect(nesting.status).toBe(200)
    const keyctl = await raw(sim, 'PUT', '/nodes/pve/lxc/100/config', { form: 'features=nesting%3D0' })
    expect(keyctl.status).toBe(403)
  })
})

describe('https', () => {
  it('serves TLS with the persisted self-signed certificate and reports its fingerprint', async () => {
    const tls = await startSim({ http: false })
    try {
      expect(tls.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
      const r = await raw(tls, 'GET', '/version')
      expect(r.status).toBe(200)
    } finally {
      await tls.stop()
    }
  })
})
