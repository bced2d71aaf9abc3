/**
 * Errors a simulated PVE handler raises. The server turns them into the exact wire shape of
 * pveproxy (REFERENCE §2.3): reason phrase = first message line, body `{data:null, message}`.
 */

/** An API error with an HTTP status; `errors` is the per-parameter map of a 400. */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
    /** Auth-layer errors are sent without body and content type. */
    readonly bare = false,
  ) {
    super(message)
  }
}

/** A handler `die "…\n"`: 500 with the given text. */
export const fail = (message: string): PveError => new PveError(500, message)

/** 400 `Parameter verification failed.` with a per-parameter map. */
export const paramError = (errors: Record<string, string>): PveError =>
  new PveError(400, 'Parameter verification failed.', errors)

/** 403 permission error. */
export const permError = (what: string): PveError => new PveError(403, `Permission check failed (${what})`)

/** 401 without body (auth layer). */
export const authError = (reason: string): PveError => new PveError(401, reason, undefined, true)

/** Thrown inside tasks; the task ends with `TASK ERROR: <message>`. */
export class TaskFailure extends Error {}
