import { err, type CliContext } from './context.js'

/**
 * The refusal `validate`, `plan` and `apply` share when no `-f` was given: one located line on
 * stderr; the caller exits 1 having read and changed nothing. Resolves true when paths were given.
 */
export function requireManifests(ctx: CliContext, filenames: readonly string[] | undefined): filenames is string[] {
  if (filenames && filenames.length > 0) return true
  err(ctx, 'error: no manifests given; pass -f FILE or -f FOLDER')
  return false
}
