import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { desiredGuest } from '../../controllers/app/desired.js'
import { app, startHarness, type Harness } from './helpers.js'

const N = 60

describe('App steady-state budget (DESIGN §8): one API read per pass, no SSH, for many converged apps', () => {
  let h: Harness
  const apps = Array.from({ length: N }, (_, i) => app(`svc-${String(i).padStart(3, '0')}`))
  beforeAll(async () => {
    h = await startHarness()
    h.setApps(apps)
    // Converged guests as a previous apply would have left them (seeded directly for speed).
    apps.forEach((a, i) => {
      const vmid = 100 + i
      const cfg = { ...desiredGuest(a, h.ctx.cluster.spec, { markerSpecHash: a.specHash }).config, rootfs: `local-lvm:vm-${vmid}-disk-0,size=8G` }
      h.sim.seedGuest({ vmid, status: 'running', config: cfg })
    })
  })
  afterAll(async () => {
    await h?.close()
  })

  /** Statuses as a previous apply would have left them, every app just deep-checked (each test starts here). */
  const seedStatuses = (): void => {
    apps.forEach((a, i) => {
      const vmid = 100 + i
      const now = new Date(h.ctx.now()).toISOString()
      h.store.putStatus({
        key: `App/${a.metadata.name}`,
        kind: 'App',
        name: a.metadata.name,
        generation: 1,
        observedGeneration: 1,
        specHash: a.specHash,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: '', lastTransitionTime: now, observedGeneration: 1 }],
        inventory: { vmid, node: 'pve' },
        history: [],
        createdAt: now,
        updatedAt: now,
        // The address the guest reported when it was created (a deep check then reads no more than the config).
        extra: { appliedSpecHash: a.specHash, healthy: true, lastDeepCheckAt: h.ctx.now(), ip: `10.10.0.${i + 2}`, urls: [] },
      })
    })
  }

  /** One pass through the runtime's attempt machinery: one snapshot, every app, status written. */
  const pass = async (): Promise<string[]> => {
    const outcomes = await h.pass(apps)
    for (const o of outcomes) expect(o.result?.ready, o.error?.message).toBe(true)
    return outcomes.flatMap((o) => o.actions.map((x) => x.type))
  }

  it('a resync of every app costs the one snapshot read', async () => {
    seedStatuses()
    const sessions = h.shells.sessionsOpened()
    h.sim.log.clear()
    const types = await pass()
    expect(new Set(types)).toEqual(new Set(['noop']))
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources'])
    expect(h.shells.sessionsOpened()).toBe(sessions)
  })

  it('once the deep-check interval passes, exactly one app per pass gets a full config read', async () => {
    seedStatuses()
    h.advance(11 * 60_000)
    h.sim.log.clear()
    await pass()
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources', 'GET /nodes/{node}/lxc/{vmid}/config', 'GET /nodes/{node}/lxc/{vmid}/pending'])
    const checked = h.sim.log.entries()[1].path
    h.sim.log.clear()
    await pass()
    expect(h.sim.log.entries().length).toBe(3)
    expect(h.sim.log.entries()[1].path).not.toBe(checked) // the next-oldest app, not the same one
    expect(h.sim.log.mutating()).toEqual([])
  })
})
