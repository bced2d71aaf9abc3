/**
 * Auth, TLS and every fault kind of the simulator's FaultApi, through the real proxmox-api
 * proxy and our engine over HTTPS. Asserts on typed error fields and on the simulator's log.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { startHarness, TEMPLATE, type Harness } from './sim-harness.js'

let h: Harness
let pve: PveHttpClient
let n1: string
let n2: string
/** Added to the simulator's clock (ticket expiry). */
let skewMs = 0

beforeAll(async () => {
  h = await startHarness({ nodes: 2, now: () => Date.now() + skewMs })
  pve = h.client()
  ;[n1, n2] = h.sim.nodes as [string, string]
  h.sim.seedGuest({ vmid: 200, node: n1, config: { hostname: 'one', memory: 512, ostype: 'alpine', rootfs: 'local-lvm:vm-200-disk-0,size=4G' }, status: 'stopped' })
  h.sim.seedGuest({ vmid: 201, node: n2, config: { hostname: 'two', memory: 512, ostype: 'alpine', rootfs: 'local-lvm:vm-201-disk-0,size=4G' }, status: 'stopped' })
})
afterAll(async () => {
  await h.close()
})
beforeEach(() => {
  h.sim.faults.clear()
  h.sim.log.clear()
})

async function rejection<T extends Error>(p: Promise<unknown>, type: new (...a: never[]) => T): Promise<T> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(type)
  return err as T
}

const logged = (method: string, route: string) => h.sim.log.entries().filter((e) => e.method === method && e.route === route)

describe('auth', () => {
  it('authenticates with a ticket: CSRF on writes, root@pam may set keyctl (unlike a token)', async () => {
    const ticket = h.client({ auth: { username: 'root@pam', password: h.sim.password } })
    await expect(ticket.version()).resolves.toMatchObject({ version: expect.any(String) })
    await ticket.updateLxcConfig(n1, 200, { features: 'nesting=1,keyctl=1' })
    expect(String((await ticket.lxcConfig(n1, 200)).features)).toContain('keyctl=1')
    expect(logged('POST', '/access/ticket')).toHaveLength(1)
    expect(logged('PUT', '/nodes/{node}/lxc/{vmid}/config')[0]).toMatchObject({ status: 200, user: 'root@pam' })
  })

  it('re-logs in when the server says the ticket expired, and resends the write once', async () => {
    const ticket = h.client({ auth: { username: 'root@pam', password: h.sim.password } })
    await ticket.version()
    skewMs = 2 * 3600_000 + 60_000
    try {
      await ticket.updateLxcConfig(n1, 200, { description: 'after expiry' })
    } finally {
      skewMs = 0
    }
    expect(logged('POST', '/access/ticket')).toHaveLength(2)
    expect(logged('PUT', '/nodes/{node}/lxc/{vmid}/config').map((e) => e.status)).toEqual([401, 200])
  })

  it('reports a wrong password as isAuth and never echoes it', async () => {
    const bad = h.client({ auth: { username: 'root@pam', password: 'not-the-password' } })
    const err = await rejection(bad.nodes(), PveApiError)
    expect(err.isAuth()).toBe(true)
    expect(err.status).toBe(401)
    expect(err.message).not.toContain('not-the-password')
  })

  it('reports a wrong token secret as 401 without retrying', async () => {
    const bad = h.client({ auth: { tokenId: h.sim.tokenId, tokenSecret: '00000000-0000-0000-0000-000000000000' } })
    const err = await rejection(bad.nodes(), PveApiError)
    expect(err).toMatchObject({ status: 401, method: 'GET', pathTemplate: '/nodes' })
    expect(logged('GET', '/nodes')).toHaveLength(1)
  })
})

describe('tls', () => {
  it('refuses a wrong fingerprint; no request reaches the simulator', async () => {
    const fp = h.sim.fingerprint
    const wrong = (fp.startsWith('00') ? '11' : '00') + fp.slice(2)
    const err = await rejection(h.client({ tls: { fingerprint: wrong } }).version(), PveApiError)
    expect(err.kind).toBe('tls')
    expect(err.isTlsMismatch()).toBe(true)
    expect(err.isTransient()).toBe(false)
    expect(h.sim.log.entries()).toHaveLength(0)
  })

  it('trusts the simulator through its CA PEM', async () => {
    await expect(h.client({ tls: { ca: h.sim.caPem } }).version()).resolves.toMatchObject({ version: expect.any(String) })
  })
})

describe('faults', () => {
  it('5xx on a GET: retried and succeeding', async () => {
    h.sim.faults.add({ method: 'GET', route: '/nodes', action: { type: 'error', status: 503, message: 'Service Unavailable' }, count: 2 })
    await expect(pve.nodes()).resolves.toHaveLength(2)
    expect(logged('GET', '/nodes').map((e) => e.status)).toEqual([503, 503, 200])
  })

  it('5xx on a POST: a transient PveApiError, sent exactly once', async () => {
    h.sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc/{vmid}/status/start', action: { type: 'error', status: 500, message: 'Internal Server Error' } })
    const err = await rejection(pve.startLxc(n1, 200), PveApiError)
    expect(err).toMatchObject({ status: 500, method: 'POST', pathTemplate: '/nodes/{node}/lxc/{vmid}/status/start' })
    expect(err.isTransient()).toBe(true)
    expect(logged('POST', '/nodes/{node}/lxc/{vmid}/status/start')).toHaveLength(1)
  })

  it('dropped connection: GET retried; a lost create answer is not resent and shows as exists', async () => {
    h.sim.faults.add({ method: 'GET', route: '/version', action: { type: 'drop' }, count: 1 })
    await expect(pve.version()).resolves.toBeDefined()
    expect(logged('GET', '/version')).toHaveLength(2)

    h.sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc', action: { type: 'drop' }, count: 1, afterHandler: true })
    const params = { vmid: 300, ostemplate: TEMPLATE, hostname: 'lost', rootfs: 'local-lvm:4' }
    const lost = await rejection(pve.createLxc(n1, params), PveApiError)
    expect(lost.isNetwork()).toBe(true)
    expect(lost.status).toBe(0)
    expect(logged('POST', '/nodes/{node}/lxc')).toHaveLength(1)
    const again = await rejection(pve.createLxc(n1, params), PveApiError)
    expect(again.isAlreadyExists()).toBe(true)
  })

  it('lock timeout on PUT config: isLockTimeout, transient, sent once', async () => {
    h.sim.faults.add({ method: 'PUT', route: '/nodes/{node}/lxc/{vmid}/config', action: { type: 'lockTimeout' }, count: 1 })
    const err = await rejection(pve.updateLxcConfig(n1, 200, { cores: 2 }), PveApiError)
    expect(err.isLockTimeout()).toBe(true)
    expect(err.isTransient()).toBe(true)
    expect(logged('PUT', '/nodes/{node}/lxc/{vmid}/config')).toHaveLength(1)
  })

  it('failing task: PveTaskError with the log tail', async () => {
    h.sim.faults.failTask('vzstart', 'startup for container 200 failed')
    const upid = await pve.startLxc(n1, 200)
    const err = await rejection(pve.waitTask(n1, upid, { pollMs: 10 }), PveTaskError)
    expect(err).toMatchObject({ upid, node: n1, type: 'vzstart', exitstatus: 'startup for container 200 failed' })
    expect(err.isLocked()).toBe(false)
    expect(err.logTail.at(-1)).toBe('TASK ERROR: startup for container 200 failed')
  })

  it('offline node: 595, transient, GETs retried within bounds', async () => {
    h.sim.faults.setNodeOffline(n2, true)
    try {
      const err = await rejection(pve.lxcStatus(n2, 201), PveApiError)
      expect(err.status).toBe(595)
      expect(err.isTransient()).toBe(true)
      expect(logged('GET', '/nodes/{node}/lxc/{vmid}/status/current')).toHaveLength(3)
      await expect(pve.lxcStatus(n1, 200)).resolves.toMatchObject({ status: expect.any(String) })
    } finally {
      h.sim.faults.setNodeOffline(n2, false)
    }
  })

  it('latency beyond the timeout: GET times out then succeeds on retry; POST times out once', async () => {
    const fast = h.client({ timeoutMs: 150 })
    h.sim.faults.add({ method: 'GET', route: '/cluster/resources', action: { type: 'latency', ms: 600 }, count: 1 })
    await expect(fast.clusterGuests()).resolves.toEqual(expect.arrayContaining([expect.objectContaining({ vmid: 201, node: n2 })]))
    h.sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc/{vmid}/snapshot', action: { type: 'latency', ms: 600 } })
    const err = await rejection(fast.createSnapshot(n1, 200, 'slow'), PveApiError)
    expect(err.kind).toBe('timeout')
    expect(err.isTransient()).toBe(true)
    await new Promise((r) => setTimeout(r, 700))
    expect(logged('POST', '/nodes/{node}/lxc/{vmid}/snapshot')).toHaveLength(1)
  })

  it('vzdump of a guest on another node answers OK instead of a UPID (trap 16)', async () => {
    await expect(pve.vzdump(n1, { vmid: '201', storage: 'local' })).resolves.toBe('OK')
  })
})
