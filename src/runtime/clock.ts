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
 * The real clock. Timers keep the process alive (a CLI apply waiting on a requeue must not exit
 * early); whoever sets them clears them on shutdown.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

/** An ISO-8601 timestamp for `ms` since the epoch. */
export const isoTime = (ms: number): string => new Date(ms).toISOString()
