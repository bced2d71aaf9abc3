/**
 * Coalesces calls of an idempotent read whose answer must be fresh: a caller always gets the
 * result of a call that STARTED after it asked, but callers that ask while one call runs share
 * the single next call instead of each starting their own. Used for the snapshot refresh after
 * creates: with many creates finishing together, one `GET /cluster/resources` serves them all
 * (its cost grows with the number of guests, so one per create made converging N apps O(N²)).
 */
export function coalesceCalls<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined
  let next: Promise<T> | undefined
  const start = (): Promise<T> => {
    const p = fn().finally(() => {
      if (running === p) running = undefined
    })
    running = p
    return p
  }
  return () => {
    if (!running) return start()
    // The running call may predate the caller's change: join (or queue) the one after it.
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = undefined
        return start()
      })
    return next
  }
}
