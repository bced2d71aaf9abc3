/**
 * The daemon records when each resync started (on the source's status), so `get` can tell a
 * status the last complete resync renewed from one it did not.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SOURCE_KEY } from '../../src/engine/source-status.js'
import { liveStateOf, staleReason } from '../../src/cli/app-status.js'
import { startSim, tempDir, writeApps, writeClusterManifest } from '../e2e/helpers.js'
import { idle, openTestEngine } from './helpers.js'

describe('resync record', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('keeps the last two resync times across reloads; every status the resync renewed is not stale', async () => {
    const sim = await startSim()
    cleanups.push(() => sim.stop())
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const cluster = await writeClusterManifest(t.dir, sim)
    const apps = await writeApps(t.dir, 2)
    const engine = await openTestEngine(t.dir, [cluster, apps])
    cleanups.push(() => engine.close())
    const stop = new AbortController()
    const running = engine.run(stop.signal, { resyncMs: 3_600_000 })
    cleanups.push(async () => {
      stop.abort()
      await running
    })
    await idle(engine)
    const first = engine.store.getStatus(SOURCE_KEY)?.extra?.lastResyncAt
    expect(typeof first).toBe('string')
    await engine.resyncNow()
    await idle(engine)
    await engine.reload() // a reload rewrites the source's status: the resync times stay
    const extra = engine.store.getStatus(SOURCE_KEY)?.extra ?? {}
    expect(extra.previousResyncAt).toBe(first)
    expect(Date.parse(String(extra.lastResyncAt))).toBeGreaterThanOrEqual(Date.parse(String(first)))
    const guests = await engine.pve.clusterGuests()
    for (const s of engine.store.listStatus('App')) {
      expect(staleReason(s, liveStateOf(s, guests, new Date().toISOString()), String(extra.previousResyncAt))).toBeUndefined()
    }
    // a status older than that resync (one no pass renewed) is stale
    const old = { ...engine.store.listStatus('App')[0], updatedAt: '2000-01-01T00:00:00.000Z' }
    expect(staleReason(old, { observed: false }, String(extra.previousResyncAt))).toBe(`not observed since the resync of ${String(extra.previousResyncAt)}`)
  })
})
