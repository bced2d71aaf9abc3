/**
 * A work queue keyed by string (`Kind/name`) with client-go semantics (CONVENTIONS "Work-queue
 * semantics"): FIFO; a key added several times before it runs runs once; a key is never handed
 * to two workers at once (adding it while in flight marks it dirty and it runs again after
 * `done`); `addRateLimited` backs off per key, `forget` resets that; `addAfter` delays without
 * touching the backoff.
 */
import { createBackoff, type Backoff, type BackoffOptions } from './backoff.js'
import { systemClock, type Clock, type TimerHandle } from './clock.js'

export interface WorkQueueOptions {
  clock?: Clock
  /** Per-key backoff for `addRateLimited`. @default 1 s → 5 min, ±10 % jitter */
  backoff?: BackoffOptions
}

export interface WorkQueueMetrics {
  /** Keys waiting to be handed out (workqueue_depth). */
  depth: number
  /** Accepted adds, counting dedupes (workqueue_adds_total). */
  adds: number
  /** `addRateLimited` calls (workqueue_retries_total). */
  retries: number
  /** Keys currently handed to a worker. */
  inFlight: number
  /** Keys waiting on an `addAfter`/`addRateLimited` timer. */
  delayed: number
}

export interface WorkQueue {
  /** Queues `key` now. No-op after shutdown or if it is already queued. */
  add(key: string): void
  /** Queues `key` after `ms` (bypasses the backoff). An earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void
  /** Queues `key` after its next backoff delay and counts a retry. */
  addRateLimited(key: string): void
  /** Resets the backoff of `key` (call after a successful reconcile). */
  forget(key: string): void
  /** Failures counted for `key` since the last `forget`. */
  numRequeues(key: string): number
  /**
   * Resolves with the next key, marking it in flight; the worker must call `done(key)`.
   * Resolves `undefined` once the queue is shut down.
   */
  get(): Promise<string | undefined>
  /** Marks `key` finished; if it was added meanwhile it is queued again. */
  done(key: string): void
  /** Stops handing out keys: pending and delayed keys are dropped, waiting `get`s resolve `undefined`. */
  shutDown(): void
  /** `shutDown` and then wait until every in-flight key is `done`. */
  shutDownWithDrain(): Promise<void>
  readonly shuttingDown: boolean
  metrics(): WorkQueueMetrics
}

/** Creates a work queue. */
export function createWorkQueue(opts: WorkQueueOptions = {}): WorkQueue {
  const clock = opts.clock ?? systemClock
  const backoff: Backoff = createBackoff(opts.backoff)
  const queue: string[] = []
  const dirty = new Set<string>()
  const processing = new Set<string>()
  const delayed = new Map<string, { at: number; handle: TimerHandle }>()
  const waiters: ((key: string | undefined) => void)[] = []
  let drainWaiters: (() => void)[] = []
  let shuttingDown = false
  let adds = 0
  let retries = 0

  const handOut = (): void => {
    while (waiters.length > 0 && queue.length > 0) {
      const key = queue.shift() as string
      dirty.delete(key)
      processing.add(key)
      waiters.shift()?.(key)
    }
  }

  const add = (key: string): void => {
    if (shuttingDown || dirty.has(key)) return
    adds++
    dirty.add(key)
    if (processing.has(key)) return
    queue.push(key)
    handOut()
  }

  const addAfter = (key: string, ms: number): void => {
    if (shuttingDown) return
    if (!(ms > 0)) return add(key)
    const at = clock.now() + ms
    const existing = delayed.get(key)
    if (existing && existing.at <= at) return
    if (existing) clock.clearTimeout(existing.handle)
    const handle = clock.setTimeout(() => {
      delayed.delete(key)
      add(key)
    }, ms)
    delayed.set(key, { at, handle })
  }

  const shutDown = (): void => {
    if (shuttingDown) return
    shuttingDown = true
    for (const d of delayed.values()) clock.clearTimeout(d.handle)
    delayed.clear()
    queue.length = 0
    dirty.clear()
    for (const w of waiters.splice(0)) w(undefined)
    if (processing.size === 0) for (const d of drainWaiters.splice(0)) d()
  }

  return {
    add,
    addAfter,
    addRateLimited(key) {
      if (shuttingDown) return
      retries++
      addAfter(key, backoff.when(key))
    },
    forget: (key) => backoff.forget(key),
    numRequeues: (key) => backoff.failures(key),
    get() {
      if (shuttingDown) return Promise.resolve(undefined)
      return new Promise((resolve) => {
        waiters.push(resolve)
        handOut()
      })
    },
    done(key) {
      if (!processing.delete(key)) return
      if (shuttingDown) {
        if (processing.size === 0) {
          const ds = drainWaiters
          drainWaiters = []
          for (const d of ds) d()
        }
        return
      }
      if (dirty.has(key)) {
        queue.push(key)
        handOut()
      }
    },
    shutDown,
    shutDownWithDrain() {
      shutDown()
      if (processing.size === 0) return Promise.resolve()
      return new Promise<void>((resolve) => drainWaiters.push(resolve))
    },
    get shuttingDown() {
      return shuttingDown
    },
    metrics: () => ({ depth: queue.length, adds, retries, inFlight: processing.size, delayed: delayed.size }),
  }
}

/**
 * Runs `n` workers that take keys from `queue` and call `handler(key)`, always calling
 * `done(key)` afterwards. A handler that throws does not stop its worker; the error goes to
 * `onError` (the handler is expected to requeue itself). Resolves when the queue is shut down
 * and every worker has finished its current key.
 */
export async function runWorkers(
  queue: WorkQueue,
  n: number,
  handler: (key: string) => Promise<void>,
  onError: (key: string, err: unknown) => void = () => {},
): Promise<void> {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError('runWorkers: n must be a positive integer')
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get()
      if (key === undefined) return
      try {
        await handler(key)
      } catch (err) {
        onError(key, err)
      } finally {
        queue.done(key)
      }
    }
  }
  await Promise.all(Array.from({ length: n }, worker))
}
