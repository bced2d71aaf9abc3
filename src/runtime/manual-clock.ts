import type { Clock, TimerHandle } from './clock.js'

/** A clock that only moves when told to; for tests, simulations and benchmarks. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order (and letting their promise chains run). */
  advance(ms: number): Promise<void>
  /** Moves time to the next pending timer and fires it; false when none is pending. */
  next(): Promise<boolean>
  /** Number of timers not yet fired. */
  pending(): number
}

interface Timer {
  id: number
  at: number
  fn: () => void
}

/** Lets pending promise callbacks and I/O-free continuations run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
}

/**
 * Creates a manual clock starting at `startMs` (default 2026-01-01T00:00:00Z). Timers due at the
 * same instant fire in the order they were set.
 */
export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startMs
  let seq = 0
  const timers: Timer[] = []
  const fireDue = async (until: number): Promise<void> => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const t = timers[0]
      if (!t || t.at > until) break
      timers.shift()
      now = Math.max(now, t.at)
      t.fn()
      await settle()
    }
    now = Math.max(now, until)
  }
  return {
    now: () => now,
    setTimeout(fn: () => void, ms: number): TimerHandle {
      const t = { id: ++seq, at: now + Math.max(0, ms), fn }
      timers.push(t)
      return t.id
    },
    clearTimeout(h: TimerHandle): void {
      const i = timers.findIndex((t) => t.id === h)
      if (i >= 0) timers.splice(i, 1)
    },
    async advance(ms: number): Promise<void> {
      await settle()
      await fireDue(now + ms)
    },
    async next(): Promise<boolean> {
      await settle()
      if (timers.length === 0) return false
      const at = Math.min(...timers.map((t) => t.at))
      await fireDue(at)
      return true
    },
    pending: () => timers.length,
  }
}
