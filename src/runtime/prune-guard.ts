/**
 * The deletion guard (DESIGN §4, CONVENTIONS "pruning something that should have stayed"): a
 * prune that would destroy more objects than the threshold, or every managed object of a kind, is
 * refused before anything is done, unless the user explicitly allows a mass delete. Objects are
 * named by key (`App/web`, `BackupPolicy/nightly`) and counted per kind, whatever the kind is.
 */
import type { OrphanRecord } from './controller.js'

/** Default for `Cluster.spec.deleteThreshold`: more than 5 destroyed objects in one run needs a flag. */
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

/** `3 Apps`, `1 App and 2 BackupPolicies`: what is about to be destroyed, counted by kind. */
export function countByKind(kinds: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1)
  const parts = [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${n} ${n === 1 ? k : plural(k)}`)
  return parts.length <= 1 ? (parts[0] ?? '0 objects') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`
}

const plural = (kind: string): string => (kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : kind.endsWith('s') ? `${kind}es` : `${kind}s`)

/**
 * Throws MassDeleteRefusedError when the orphans that would be destroyed (`destroys`: an App
 * with deletionPolicy Retain is only let go) number more than `threshold`, or when they are every
 * managed object of their kinds (`desiredByKind[kind]` is 0: the manifests define none, e.g. an
 * empty or wrong folder).
 * Pure; does nothing with `allowMassDelete`.
 */
export function checkPruneGuard(
  orphans: readonly OrphanRecord[],
  desiredByKind: Readonly<Record<string, number>>,
  opts: PruneGuardOptions = {},
): void {
  if (opts.allowMassDelete) return
  const threshold = opts.threshold ?? DEFAULT_DELETE_THRESHOLD
  const destroyed = orphans.filter((o) => o.destroys)
  const doomed = destroyed.map((o) => o.key).sort()
  if (doomed.length === 0) return
  const kinds = [...new Set(destroyed.map((o) => o.kind))].sort()
  const wiped = kinds.filter((k) => (desiredByKind[k] ?? 0) === 0)
  if (doomed.length > threshold) {
    throw new MassDeleteRefusedError(
      `refusing to delete ${countByKind(destroyed.map((o) => o.kind))} (${list(doomed)}): more than the limit of ${threshold} (Cluster.spec.deleteThreshold); re-run with --allow-mass-delete if this is intended`,
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
