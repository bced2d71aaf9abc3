/**
 * Which apps a Restore is acting on right now, in this process. The App controller waits while
 * its app is listed, so it never starts (or re-deploys) a guest that a restore has just stopped
 * or is restoring. Process-local is enough: one process applies at a time (the apply lease).
 */
const restoring = new Map<string, number>()

/** Runs `fn` with `app` listed as being restored (nesting-safe; always unlisted afterwards). */
export async function whileRestoring<T>(app: string, fn: () => Promise<T>): Promise<T> {
  restoring.set(app, (restoring.get(app) ?? 0) + 1)
  try {
    return await fn()
  } finally {
    const n = (restoring.get(app) ?? 1) - 1
    if (n <= 0) restoring.delete(app)
    else restoring.set(app, n)
  }
}

/** True while a Restore acts on `app` in this process. */
export const isBeingRestored = (app: string): boolean => restoring.has(app)
