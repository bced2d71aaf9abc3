import { describe, expect, it } from 'vitest'
import { createWorkQueue, runWorkers } from '../../src/runtime/queue.js'
import { createBackoff } from '../../src/runtime/backoff.js'
import { createManualClock } from '../../src/runtime/manual-clock.js'

const noJitter = { baseMs: 1000, maxMs: 300_000, jitter: 0 }

describe('work queue', () => {
  it('hands keys out in FIFO order and dedupes adds before they run', async () => {
    const q = createWorkQueue({ clock: createManualClock() })
    for (const k of ['App/a', 'App/b', 'App/a', 'App/c', 'App/b']) q.add(k)
    expect(q.metrics().depth).toBe(3)
    const got = [await q.get(), await q.get(), await q.get()]
    expect(got).toEqual(['App/a', 'App/b', 'App/c'])
    expect(q.metrics()).toMatchObject({ depth: 0, inFlight: 3, adds: 3 })
  })

  it('re-runs a key added while in flight, after done, never on two workers at once', async () => {
    const q = createWorkQueue({ clock: createManualClock() })
    q.add('App/a')
    const first = await q.get()
    q.add('App/a')
    q.add('App/a')
    // The key is dirty but in flight: nobody else may get it.
    const other = q.get()
    let otherGot: string | undefined = 'none'
    void other.then((k) => (otherGot = k))
    await new Promise((r) => setImmediate(r))
    expect(otherGot).toBe('none')
    q.done(first as string)
    expect(await other).toBe('App/a')
    q.done('App/a')
    expect(q.metrics()).toMatchObject({ depth: 0, inFlight: 0 })
  })

  it('runs concurrent workers without ever overlapping one key', async () => {
    const q = createWorkQueue({ clock: createManualClock() })
    const running = new Set<string>()
    let overlaps = 0
    const runs: Record<string, number> = {}
    const workers = runWorkers(q, 4, async (key) => {
      if (running.has(key)) overlaps++
      running.add(key)
      runs[key] = (runs[key] ?? 0) + 1
      await new Promise((r) => setImmediate(r))
      if (runs[key] === 1) q.add(key) // added while in flight: runs once more
      running.delete(key)
    })
    for (let i = 0; i < 20; i++) q.add(`App/k${i % 5}`)
    while (Object.values(runs).reduce((a, b) => a + b, 0) < 10) await new Promise((r) => setImmediate(r))
    await q.shutDownWithDrain()
    await workers
    expect(overlaps).toBe(0)
    expect(Object.values(runs)).toEqual([2, 2, 2, 2, 2])
  })

  it('backs off exponentially per key and resets on forget', async () => {
    const clock = createManualClock()
    const q = createWorkQueue({ clock, backoff: noJitter })
    q.addRateLimited('App/a')
    await clock.advance(999)
    expect(q.metrics().depth).toBe(0)
    await clock.advance(1)
    expect(q.metrics().depth).toBe(1)
    expect(await q.get()).toBe('App/a')
    q.done('App/a')
    q.addRateLimited('App/a')
    await clock.advance(1999)
    expect(q.metrics().depth).toBe(0)
    await clock.advance(1)
    expect(q.metrics().depth).toBe(1)
    expect(q.numRequeues('App/a')).toBe(2)
    expect(q.metrics().retries).toBe(2)
    q.forget('App/a')
    expect(q.numRequeues('App/a')).toBe(0)
  })

  it('addAfter bypasses the limiter and keeps the earliest pending delay', async () => {
    const clock = createManualClock()
    const q = createWorkQueue({ clock, backoff: noJitter })
    for (let i = 0; i < 4; i++) q.addRateLimited('App/b') // 4 failures: the limiter would now say 16 s
    await clock.advance(1000)
    expect(await q.get()).toBe('App/b')
    q.done('App/b')
    q.addAfter('App/b', 200)
    await clock.advance(200)
    expect(q.metrics().depth).toBe(1)
    expect(q.numRequeues('App/b')).toBe(4)
    q.addAfter('App/c', 5000)
    q.addAfter('App/c', 2000)
    q.addAfter('App/c', 9000)
    expect(q.metrics().delayed).toBe(1)
    await clock.advance(2000)
    expect(q.metrics().depth).toBe(2)
    expect(clock.pending()).toBe(0)
  })

  it('drops delayed keys and releases waiting workers on shutdown', async () => {
    const clock = createManualClock()
    const q = createWorkQueue({ clock })
    const waiting = q.get()
    q.addAfter('App/a', 1000)
    q.shutDown()
    expect(await waiting).toBeUndefined()
    await clock.advance(5000)
    expect(q.metrics()).toMatchObject({ depth: 0, delayed: 0 })
    q.add('App/x')
    expect(q.metrics().depth).toBe(0)
  })
})

describe('backoff', () => {
  const cases = [
    { name: 'first failure', reason: 'the first retry waits the base delay', failures: 0, want: 1000 },
    { name: 'fourth failure', reason: 'delays double per failure', failures: 3, want: 8000 },
    { name: 'capped', reason: 'a long outage never waits more than the cap', failures: 20, want: 300_000 },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const b = createBackoff({ jitter: 0 })
      for (let i = 0; i < c.failures; i++) b.when('k')
      expect(b.when('k')).toBe(c.want)
    })
  }

  it('spreads delays within ±jitter and never above the cap', () => {
    const lo = createBackoff({ jitter: 0.1, random: () => 0 })
    const hi = createBackoff({ jitter: 0.1, random: () => 0.999999 })
    expect(lo.when('k')).toBe(900)
    expect(hi.when('k')).toBe(1100)
    const capped = createBackoff({ jitter: 0.1, random: () => 0.999999, maxMs: 2000 })
    for (let i = 0; i < 5; i++) expect(capped.when('k')).toBeLessThanOrEqual(2000)
  })

  it('rejects nonsense options', () => {
    expect(() => createBackoff({ baseMs: 10, maxMs: 5 })).toThrow(/baseMs <= maxMs/)
    expect(() => createBackoff({ jitter: 1.5 })).toThrow(/jitter/)
  })
})
