/**
 * Time as a port: the runtime never reads `Date.now` or calls the global timers directly, so
 * tests can drive it with a manual clock (or vitest fake timers) and mock nothing else.
 */

/** An opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown

/** The clock and timers the runtime uses. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls `fn` once after `ms` milliseconds; the handle may be passed to `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * The real clock. Timers are `unref`'d so a pending requeue never keeps a finished CLI process
 * alive; long-running loops keep the process alive through their own I/O.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

/** An ISO-8601 timestamp for `ms` since the epoch. */
export const isoTime = (ms: number): string => new Date(ms).toISOString()
