/**
 * The cluster lease held in Proxmox (a pool), against the real simulator through the real
 * proxmox-api client. Only the clock is manual where expiry matters.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  acquireClusterLease,
  ClusterLeaseHeldError,
  ClusterLeaseLostError,
  ForeignLeasePoolError,
  leasePoolId,
  readClusterLease,
  type ClusterLeaseOptions,
} from '../../src/runtime/cluster-lease.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { startHarness, TEMPLATE, type Harness } from '../providers/sim-harness.js'

let h: Harness
let pve: PveHttpClient
let owner = 'lease-0'
let seq = 0

beforeAll(async () => {
  h = await startHarness({ taskLatencyMs: 400 })
  pve = h.client()
})
afterAll(async () => {
  await h?.close()
})
beforeEach(() => {
  owner = `lease-${++seq}` // every test gets its own lease pool
})

const opts = (holder: string, extra: Partial<ClusterLeaseOptions> = {}): ClusterLeaseOptions => ({ pve, owner, holder, settleMs: 10_000, ...extra })
const poolComment = async (): Promise<string | undefined> => (await pve.pools(leasePoolId(owner)))[0]?.comment

describe('cluster lease', () => {
  it('is a pool in Proxmox naming the holder, and release removes it', async () => {
    const held = await acquireClusterLease(opts('apply by alice@laptop', { host: 'laptop', pid: 4242 }))
    const seen = await readClusterLease(pve, owner)
    expect(seen).toMatchObject({ owner: 'apply by alice@laptop', host: 'laptop', pid: 4242, nonce: held.lease.nonce })
    expect(Date.parse(seen!.expiresAt) - Date.parse(seen!.acquiredAt)).toBe(30_000)
    expect(await poolComment()).toMatch(/^proximity lease \{/)
    await held.release()
    await held.release() // idempotent
    expect(await readClusterLease(pve, owner)).toBeUndefined()
    expect((await pve.pools()).map((p) => p.poolid)).not.toContain(leasePoolId(owner))
  })

  it('refuses a second holder, naming who holds it, since when and until when', async () => {
    const first = await acquireClusterLease(opts('apply by alice@laptop', { host: 'laptop' }))
    const err = await acquireClusterLease(opts('apply by bob@ci', { host: 'ci' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClusterLeaseHeldError)
    expect((err as ClusterLeaseHeldError).holder).toMatchObject({ owner: 'apply by alice@laptop', host: 'laptop', nonce: first.lease.nonce })
    expect((err as Error).message).toBe(
      `another apply is running (owner apply by alice@laptop, pid ${process.pid} on host laptop, since ${first.lease.acquiredAt}; ` +
        `expires at ${first.lease.expiresAt} unless renewed); it holds the cluster lease, pool proximity-lease-${owner}: remove that pool only if the run is gone`,
    )
    await first.release()
  })

  it('lets exactly one of several racing clients take it', async () => {
    const clients = Array.from({ length: 6 }, () => h.client())
    const results = await Promise.allSettled(clients.map((c, i) => acquireClusterLease({ pve: c, owner, holder: `racer${i}`, host: `host${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ClusterLeaseHeldError)
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireClusterLease>>>).value
    expect((await readClusterLease(pve, owner))?.nonce).toBe(winner.lease.nonce)
    await winner.release()
  })

  it('waits for a holder that releases, telling who it waits for', async () => {
    const first = await acquireClusterLease(opts('first'))
    const waitedFor: string[] = []
    const second = acquireClusterLease(opts('second', { pollMs: 20 }), { waitMs: 10_000, onWait: (l) => waitedFor.push(l.owner) })
    await new Promise((r) => setTimeout(r, 100))
    await first.release()
    const held = await second
    expect(waitedFor).toEqual(['first'])
    expect((await readClusterLease(pve, owner))?.owner).toBe('second')
    await held.release()
  })

  it('expires by itself when its holder crashed: taken over only past expiry plus the skew allowance', async () => {
    let t = Date.UTC(2026, 0, 1)
    const now = (): number => t
    const crashed = await acquireClusterLease(opts('crashed', { now, ttlMs: 1000, skewMs: 500, host: 'gone-host' }))
    t += 1400 // expired on the holder's clock, but within the skew allowance
    await expect(acquireClusterLease(opts('next', { now, ttlMs: 1000, skewMs: 500 }))).rejects.toBeInstanceOf(ClusterLeaseHeldError)
    t += 200
    const next = await acquireClusterLease(opts('next', { now, ttlMs: 1000, skewMs: 500 }))
    expect((await readClusterLease(pve, owner))?.owner).toBe('next')
    // The old holder, should it wake up, learns it lost the lease and must stop.
    await expect(crashed.renew()).rejects.toBeInstanceOf(ClusterLeaseLostError)
    expect(crashed.signal.aborted).toBe(true)
    await crashed.release() // not ours any more: a no-op
    expect((await readClusterLease(pve, owner))?.nonce).toBe(next.lease.nonce)
    await next.release()
  })

  it('lets exactly one of several waiters take over an expired lease (the takeover guard)', async () => {
    let t = Date.UTC(2026, 0, 1)
    const now = (): number => t
    await acquireClusterLease(opts('crashed', { now, ttlMs: 1000, skewMs: 0, host: 'gone-host' }))
    t += 5000
    const clients = Array.from({ length: 6 }, () => h.client())
    const results = await Promise.allSettled(clients.map((c, i) => acquireClusterLease({ pve: c, owner, holder: `taker${i}`, now, ttlMs: 60_000, skewMs: 0, host: `h${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireClusterLease>>>).value
    expect((await readClusterLease(pve, owner))?.nonce).toBe(winner.lease.nonce)
    expect((await pve.pools()).map((p) => p.poolid)).not.toContain(`${leasePoolId(owner)}-takeover`)
    await winner.release()
  })

  it('takes over at once from a holder on this host whose process is gone', async () => {
    await acquireClusterLease(opts('killed', { host: 'this-host', pid: 999_999 }))
    const held = await acquireClusterLease(opts('me', { host: 'this-host', isAlive: (pid) => pid !== 999_999 }))
    expect((await readClusterLease(pve, owner))?.owner).toBe('me')
    await held.release()
  })

  it('renews in Proxmox, and refuses to renew once expired on its own clock', async () => {
    let t = Date.UTC(2026, 0, 1)
    const now = (): number => t
    const held = await acquireClusterLease(opts('daemon', { now, ttlMs: 3000 }))
    t += 2000
    await held.renew()
    expect((await readClusterLease(pve, owner))?.expiresAt).toBe(new Date(t + 3000).toISOString())
    t += 3001
    await expect(held.renew()).rejects.toThrow(/expired before it could be renewed/)
    expect(held.signal.aborted).toBe(true)
  })

  it('keepAlive renews in the background for a long-lived holder, and stops at release', async () => {
    const held = await acquireClusterLease(opts('daemon', { ttlMs: 1500 }))
    const first = held.lease.expiresAt
    held.keepAlive()
    let renewed: string | undefined
    for (let i = 0; i < 100 && !renewed; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const cur = await readClusterLease(pve, owner)
      if (cur && cur.expiresAt !== first) renewed = cur.expiresAt
    }
    expect(Date.parse(renewed ?? first)).toBeGreaterThan(Date.parse(first))
    expect(held.signal.aborted).toBe(false)
    await held.release()
    expect(await readClusterLease(pve, owner)).toBeUndefined()
  })

  it('refuses a pool of the same name that is not a lease, and leaves it alone', async () => {
    await pve.createPool(leasePoolId(owner), 'made by hand')
    await expect(acquireClusterLease(opts('me'))).rejects.toBeInstanceOf(ForeignLeasePoolError)
    expect(await poolComment()).toBe('made by hand')
  })

  it('says which privilege the api token lacks when Proxmox refuses the pool', async () => {
    const id = h.sim.faults.add({ method: 'POST', route: '/pools', action: { type: 'error', status: 403, message: `Permission check failed (/pool/${leasePoolId(owner)}, Pool.Allocate)` } })
    try {
      await expect(acquireClusterLease(opts('me'))).rejects.toThrow(`the api token needs Pool.Allocate on /pool/${leasePoolId(owner)}`)
    } finally {
      h.sim.faults.remove(id)
    }
  })

  it('after taking the lease, waits for a create a previous holder left running', async () => {
    const node = h.sim.nodes[0]
    const vmid = 900 + seq
    await pve.createLxc(node, { vmid, ostemplate: TEMPLATE, hostname: 'left-running', rootfs: 'local-lvm:1', memory: 128 })
    expect((await pve.lxcConfig(node, vmid)).lock).toBe('create')
    const held = await acquireClusterLease(opts('next', { vmidRange: { min: 900, max: 999 } }))
    // The guest is complete (marker readable) before the new holder may look for it.
    expect((await pve.lxcConfig(node, vmid)).lock).toBeUndefined()
    await held.release()
  })
})
