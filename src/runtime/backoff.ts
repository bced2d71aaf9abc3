/**
 * Per-key exponential backoff with jitter (DESIGN §5: 1 s → 5 min). `when(key)` counts a failure
 * and returns the delay before the next try; `forget(key)` resets it after a success.
 */

export interface BackoffOptions {
  /** First delay. @default 1000 */
  baseMs?: number
  /** Cap. @default 300000 */
  maxMs?: number
  /** Growth per failure. @default 2 */
  factor?: number
  /** Relative jitter: the delay is spread uniformly over ±jitter of its value. @default 0.1 */
  jitter?: number
  /** Random source in [0, 1). @default Math.random */
  random?: () => number
}

export interface Backoff {
  /** Records a failure of `key` and returns the delay before its next try (ms, ≥ 0, ≤ maxMs). */
  when(key: string): number
  /** Resets the failure count of `key` (call on success). Idempotent. */
  forget(key: string): void
  /** Failures recorded for `key` since the last `forget`. */
  failures(key: string): number
}

/** Creates a backoff limiter; validates the options once. */
export function createBackoff(opts: BackoffOptions = {}): Backoff {
  const baseMs = opts.baseMs ?? 1000
  const maxMs = opts.maxMs ?? 300_000
  const factor = opts.factor ?? 2
  const jitter = opts.jitter ?? 0.1
  const random = opts.random ?? Math.random
  if (!(baseMs >= 0) || !(maxMs >= baseMs)) throw new RangeError('backoff: need 0 <= baseMs <= maxMs')
  if (!(factor >= 1)) throw new RangeError('backoff: factor must be >= 1')
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError('backoff: jitter must be in [0, 1)')
  const counts = new Map<string, number>()
  return {
    when(key) {
      const n = counts.get(key) ?? 0
      counts.set(key, n + 1)
      const raw = Math.min(maxMs, baseMs * Math.pow(factor, n))
      const spread = raw * jitter * (2 * random() - 1)
      return Math.max(0, Math.min(maxMs, Math.round(raw + spread)))
    },
    forget(key) {
      counts.delete(key)
    },
    failures: (key) => counts.get(key) ?? 0,
  }
}
