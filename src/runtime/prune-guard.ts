/**
 * The deletion guard (DESIGN §4, CONVENTIONS "pruning something that should have stayed"): a
 * prune that would destroy more guests than the threshold, or every managed guest of a kind, is
 * refused before anything is done, unless the user explicitly allows a mass delete.
 */
import type { OrphanRecord } from './controller.js'

/** Default for `Cluster.spec.deleteThreshold`: more than 5 destroyed guests in one run needs a flag. */
export const DEFAULT_DELETE_THRESHOLD = 5

/** Thrown before any deletion when the guard refuses a prune. */
export class MassDeleteRefusedError extends Error {
  override readonly name = 'MassDeleteRefusedError'
  constructor(message: string, readonly keys: string[], readonly threshold: number) {
    super(message)
  }
}

export interface PruneGuardOptions {
  /** @default DEFAULT_DELETE_THRESHOLD */
  threshold?: number
  allowMassDelete?: boolean
}

const list = (keys: string[]): string => (keys.length <= 5 ? keys.join(', ') : `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more`)

/**
 * Throws MassDeleteRefusedError when the orphans that would be destroyed (deletionPolicy other
 * than Retain) number more than `threshold`, or when they are every managed object of their
 * kinds (`desiredByKind[kind]` is 0: the manifests define none, e.g. an empty or wrong folder).
 * Pure; does nothing with `allowMassDelete`.
 */
export function checkPruneGuard(
  orphans: readonly OrphanRecord[],
  desiredByKind: Readonly<Record<string, number>>,
  opts: PruneGuardOptions = {},
): void {
  if (opts.allowMassDelete) return
  const threshold = opts.threshold ?? DEFAULT_DELETE_THRESHOLD
  const doomed = orphans.filter((o) => o.deletionPolicy !== 'Retain').map((o) => o.key).sort()
  if (doomed.length === 0) return
  const kinds = [...new Set(orphans.filter((o) => o.deletionPolicy !== 'Retain').map((o) => o.kind))]
  const wiped = kinds.filter((k) => (desiredByKind[k] ?? 0) === 0)
  if (doomed.length > threshold) {
    throw new MassDeleteRefusedError(
      `refusing to delete ${doomed.length} guests (${list(doomed)}): more than the limit of ${threshold} (Cluster.spec.deleteThreshold); re-run with --allow-mass-delete if this is intended`,
      doomed,
      threshold,
    )
  }
  if (wiped.length > 0) {
    throw new MassDeleteRefusedError(
      `refusing to delete every managed ${wiped.join('/')} (${list(doomed)}): the manifests define none; check the -f path, or re-run with --allow-mass-delete if this is intended`,
      doomed,
      threshold,
    )
  }
}
