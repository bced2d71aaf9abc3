/**
 * Counting semaphores with fair FIFO hand-over, and the per-node / per-storage set the
 * controllers use (DESIGN §4: bounded concurrency per node for creates, starts and restores,
 * per storage for backups — the cure for `can't lock file … got timeout`).
 */
import type { Semaphores } from './controller.js'

export interface Semaphore {
  readonly limit: number
  /** Slots taken now. */
  readonly inUse: number
  /** Callers waiting for a slot. */
  readonly waiting: number
  /** Waits for a slot (first come, first served) and resolves with its release function (idempotent). */
  acquire(): Promise<() => void>
  /** Runs `fn` holding one slot; the slot is released however `fn` ends. */
  run<T>(fn: () => Promise<T>): Promise<T>
}

/** Creates a semaphore with `limit` slots (a positive integer). */
export function createSemaphore(limit: number): Semaphore {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`)
  let inUse = 0
  const waiters: (() => void)[] = []
  const release = (): void => {
    const next = waiters.shift()
    // Hand the slot straight to the next waiter so a late caller can never overtake it.
    if (next) next()
    else inUse--
  }
  const acquire = (): Promise<() => void> => {
    const once = (): (() => void) => {
      let released = false
      return () => {
        if (released) return
        released = true
        release()
      }
    }
    if (inUse < limit && waiters.length === 0) {
      inUse++
      return Promise.resolve(once())
    }
    return new Promise((resolve) => waiters.push(() => resolve(once())))
  }
  return {
    limit,
    get inUse() {
      return inUse
    },
    get waiting() {
      return waiters.length
    },
    acquire,
    async run(fn) {
      const rel = await acquire()
      try {
        return await fn()
      } finally {
        rel()
      }
    },
  }
}

export interface SemaphoresOptions {
  /** Slots per node and operation (Cluster.concurrency.perNode). */
  perNode: number
  /** Slots per storage (Cluster.concurrency.perStorage). */
  perStorage: number
}

/** `Semaphores` plus a view of the slots in use, for progress output and benchmarks. */
export interface SemaphoreSet extends Semaphores {
  /** In-use and waiting counts by `node:<node>/<op>` and `storage:<storage>`. */
  stats(): Record<string, { inUse: number; waiting: number }>
}

/**
 * Creates the semaphore set: one semaphore per (node, op) with `perNode` slots — creates on
 * `pve` do not wait for starts on `pve` — and one per storage with `perStorage` slots.
 */
export function createSemaphores(opts: SemaphoresOptions): SemaphoreSet {
  createSemaphore(opts.perNode)
  createSemaphore(opts.perStorage)
  const sems = new Map<string, Semaphore>()
  const get = (id: string, limit: number): Semaphore => {
    let s = sems.get(id)
    if (!s) {
      s = createSemaphore(limit)
      sems.set(id, s)
    }
    return s
  }
  return {
    node: (node, op, fn) => get(`node:${node}/${op}`, opts.perNode).run(fn),
    storage: (storage, fn) => get(`storage:${storage}`, opts.perStorage).run(fn),
    stats() {
      const out: Record<string, { inUse: number; waiting: number }> = {}
      for (const [id, s] of sems) out[id] = { inUse: s.inUse, waiting: s.waiting }
      return out
    },
  }
}
