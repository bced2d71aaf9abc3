import { describe, expect, it } from 'vitest'
import { coalesceCalls } from '../../src/runtime/coalesce.js'

/** A read whose calls we release by hand; each result is the number of the call. */
function gatedRead() {
  const gates: (() => void)[] = []
  let calls = 0
  const fn = (): Promise<number> => {
    const n = ++calls
    return new Promise((resolve) => gates.push(() => resolve(n)))
  }
  return { fn, calls: () => calls, release: async () => {
    gates.shift()?.()
    await new Promise((r) => setImmediate(r))
  } }
}

describe('coalesceCalls', () => {
  it('gives callers that ask during a call one shared later call, never the running one', async () => {
    const g = gatedRead()
    const read = coalesceCalls(g.fn)
    const first = read()
    const second = read() // asked while call 1 runs: must not get call 1's (possibly stale) answer
    const third = read()
    expect(g.calls()).toBe(1)
    await g.release()
    expect(await first).toBe(1)
    expect(g.calls()).toBe(2)
    await g.release()
    expect(await second).toBe(2)
    expect(await third).toBe(2)
    expect(g.calls()).toBe(2)
  })

  it('starts a fresh call when none runs, and recovers after a failure', async () => {
    let n = 0
    const read = coalesceCalls(async () => {
      if (++n === 1) throw new Error('dropped')
      return n
    })
    await expect(read()).rejects.toThrow('dropped')
    await expect(read()).resolves.toBe(2)
    await expect(read()).resolves.toBe(3)
  })
})
