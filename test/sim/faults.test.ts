import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createCt, raw, startSim, waitTask } from './helpers.js'

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startSim({ nodes: 2, faultsEndpoint: true })
  await createCt(sim, 400, '', 'pve1')
})
afterAll(() => sim.stop())

describe('faults', () => {
  it('injects errors by method and route template, for a count', async () => {
    sim.faults.add({ method: 'GET', route: '/nodes/{node}/lxc/{vmid}/config', action: { type: 'error', status: 500, message: 'boom' }, count: 1 })
    const a = await raw(sim, 'GET', '/nodes/pve1/lxc/400/config')
    expect([a.status, a.reason]).toEqual([500, 'boom'])
    expect((await raw(sim, 'GET', '/nodes/pve1/lxc/400/config')).status).toBe(200)
  })

  it('drops connections before or after the handler', async () => {
    sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc/{vmid}/status/start', action: { type: 'drop' }, count: 1, afterHandler: true })
    await expect(raw(sim, 'POST', '/nodes/pve1/lxc/400/status/start')).rejects.toThrow()
    const status = sim.guests().find((g) => g.vmid === 400)
    expect(status).toBeDefined()
    const tasks = (await raw(sim, 'GET', '/nodes/pve1/tasks?source=all&typefilter=vzstart')).json.data
    expect(tasks).toHaveLength(1)
    sim.faults.add({ method: '*', route: '^/version$', action: { type: 'drop' }, count: 1 })
    await expect(raw(sim, 'GET', '/version')).rejects.toThrow()
    expect((await raw(sim, 'GET', '/version')).status).toBe(200)
  })

  it('answers lock timeouts and probability 0 never fires', async () => {
    const id = sim.faults.add({ method: 'PUT', route: '/nodes/{node}/lxc/{vmid}/config', action: { type: 'lockTimeout' } })
    const r = await raw(sim, 'PUT', '/nodes/pve1/lxc/400/config', { form: 'cores=2' })
    expect([r.status, r.reason]).toEqual([500, "can't lock file '/run/lock/lxc/pve-config-400.lock' - got timeout"])
    sim.faults.remove(id)
    sim.faults.add({ method: 'PUT', route: '/nodes/{node}/lxc/{vmid}/config', action: { type: 'error', status: 500, message: 'never' }, probability: 0 })
    expect((await raw(sim, 'PUT', '/nodes/pve1/lxc/400/config', { form: 'cores=2' })).status).toBe(200)
    sim.faults.clear()
  })

  it('applies latency without changing the answer', async () => {
    sim.faults.add({ method: 'GET', route: '/version', action: { type: 'latency', ms: 20 }, count: 1 })
    expect((await raw(sim, 'GET', '/version')).status).toBe(200)
    expect(sim.log.entries().at(-1)!.durationMs).toBeGreaterThan(0)
  })

  it('answers 595 for an offline node and shows it offline', async () => {
    sim.faults.setNodeOffline('pve2', true)
    const r = await raw(sim, 'GET', '/nodes/pve2/lxc')
    expect([r.status, r.reason]).toEqual([595, 'Errors during connection establishment, proxy handshake: Connection refused'])
    expect((await raw(sim, 'GET', '/nodes')).json.data.find((n: any) => n.node === 'pve2').status).toBe('offline')
    expect((await raw(sim, 'GET', '/nodes/pve1/lxc')).status).toBe(200)
    sim.faults.setNodeOffline('pve2', false)
    expect((await raw(sim, 'GET', '/nodes/pve2/lxc')).status).toBe(200)
  })

  it('edits, powers, migrates and locks guests behind the client', async () => {
    sim.faults.editGuest(400, { memory: 2048, tags: 'B;a' })
    sim.faults.setGuestStatus(400, 'stopped')
    sim.faults.migrateGuest(400, 'pve2')
    expect((await raw(sim, 'GET', '/nodes/pve1/lxc/400/config')).status).toBe(500)
    const cfg = (await raw(sim, 'GET', '/nodes/pve2/lxc/400/config')).json.data
    expect(cfg).toMatchObject({ memory: 2048, tags: 'a;b' })
    sim.faults.lockGuest(400, 'backup')
    expect((await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data[0]).toMatchObject({ node: 'pve2', lock: 'backup', status: 'stopped' })
    sim.faults.lockGuest(400, undefined)
    sim.faults.setServiceHealth(400, 'app', 'web', 'unhealthy')
    const st = await waitTask(sim, 'pve2', (await raw(sim, 'POST', '/nodes/pve2/lxc/400/status/start')).json.data)
    expect(st.exitstatus).toBe('OK')
  })

  it('serves the control endpoint on loopback when enabled', async () => {
    const add = await raw(sim, 'POST', '/_sim/faults', { auth: 'none', json: { method: 'GET', route: '/nodes', action: { type: 'error', status: 503, message: 'down' } } })
    expect(typeof add.json.data).toBe('string')
    expect((await raw(sim, 'GET', '/_sim/faults', { auth: 'none' })).json.data).toHaveLength(1)
    expect((await raw(sim, 'GET', '/nodes')).status).toBe(503)
    await raw(sim, 'DELETE', '/_sim/faults', { auth: 'none' })
    expect((await raw(sim, 'GET', '/nodes')).status).toBe(200)
    expect((await raw(sim, 'POST', '/_sim/faults', { auth: 'none', json: { nope: 1 } })).status).toBe(400)
    const log = (await raw(sim, 'GET', '/_sim/log', { auth: 'none' })).json.data
    expect(log.at(-1)).toMatchObject({ method: 'GET', route: '/nodes', path: '/nodes', status: 200, user: 'root@pam!proximity' })
  })

  it('is not served without faultsEndpoint', async () => {
    const other = await startSim()
    try {
      expect((await raw(other, 'GET', '/_sim/faults', { auth: 'none' })).status).toBe(501)
    } finally {
      await other.stop()
    }
  })
})

describe('request log', () => {
  it('records route templates and separates mutating requests', async () => {
    sim.log.clear()
    await raw(sim, 'GET', '/nodes/pve2/lxc/400/config')
    await raw(sim, 'PUT', '/nodes/pve2/lxc/400/config', { form: 'cores=3' })
    await raw(sim, 'GET', '/nope')
    const entries = sim.log.entries()
    expect(entries.map((e) => [e.method, e.route, e.status])).toEqual([
      ['GET', '/nodes/{node}/lxc/{vmid}/config', 200],
      ['PUT', '/nodes/{node}/lxc/{vmid}/config', 200],
      ['GET', '/nope', 501],
    ])
    expect(sim.log.mutating().map((e) => e.route)).toEqual(['/nodes/{node}/lxc/{vmid}/config'])
    expect(sim.log.mutating()[0]!.path).toBe('/nodes/pve2/lxc/400/config')
  })
})
