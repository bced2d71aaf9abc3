import { describe, expect, it } from 'vitest'
import { createSemaphore, createSemaphores } from '../../src/runtime/semaphore.js'

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('semaphore', () => {
  it('never lets more than limit run and hands slots over in FIFO order', async () => {
    const s = createSemaphore(2)
    const order: number[] = []
    let running = 0
    let peak = 0
    const gates: (() => void)[] = []
    const jobs = Array.from({ length: 6 }, (_, i) =>
      s.run(async () => {
        running++
        peak = Math.max(peak, running)
        order.push(i)
        await new Promise<void>((r) => gates.push(r))
        running--
      }),
    )
    await tick()
    expect(order).toEqual([0, 1])
    expect(s.waiting).toBe(4)
    while (gates.length || order.length < 6) {
      gates.shift()?.()
      await tick()
    }
    await Promise.all(jobs)
    expect(peak).toBe(2)
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(s.inUse).toBe(0)
  })

  it('releases the slot when the job throws', async () => {
    const s = createSemaphore(1)
    await expect(s.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(s.inUse).toBe(0)
    expect(await s.run(async () => 7)).toBe(7)
  })

  it('does not let a late caller overtake a waiter', async () => {
    const s = createSemaphore(1)
    const rel = await s.acquire()
    const seen: string[] = []
    const waiter = s.acquire().then((r) => (seen.push('waiter'), r))
    rel()
    rel() // idempotent: must not free a second slot
    const late = s.acquire().then((r) => (seen.push('late'), r))
    ;(await waiter)()
    ;(await late)()
    expect(seen).toEqual(['waiter', 'late'])
  })

  it('rejects a non-positive limit', () => {
    expect(() => createSemaphore(0)).toThrow(/positive integer/)
  })
})

describe('semaphores per node and storage', () => {
  it('limits each (node, op) and each storage independently', async () => {
    const sems = createSemaphores({ perNode: 2, perStorage: 1 })
    const gates: (() => void)[] = []
    const hold = (): Promise<void> => new Promise<void>((r) => gates.push(r))
    const jobs = [
      ...Array.from({ length: 3 }, () => sems.node('pve1', 'create', hold)),
      sems.node('pve1', 'start', hold),
      sems.node('pve2', 'create', hold),
      ...Array.from({ length: 2 }, () => sems.storage('backup', hold)),
    ]
    await tick()
    expect(sems.stats()).toEqual({
      'node:pve1/create': { inUse: 2, waiting: 1 },
      'node:pve1/start': { inUse: 1, waiting: 0 },
      'node:pve2/create': { inUse: 1, waiting: 0 },
      'storage:backup': { inUse: 1, waiting: 1 },
    })
    while (gates.length) {
      gates.shift()?.()
      await tick()
    }
    await Promise.all(jobs)
    expect(Object.values(sems.stats()).every((s) => s.inUse === 0 && s.waiting === 0)).toBe(true)
  })
})
