/**
 * Which planned actions destroy something (issue 9 point 8): what `apply` asks about before it
 * acts. Pure.
 */
import { isRefused } from './build.js'
import type { Plan } from './types.js'
import type { PlanFieldChange } from './types.js'

/** One action that needs approval, and why. */
export interface DestructiveChange {
  /** `Kind/name`. */
  key: string
  /** `destroy`: the object (and its guest or job) goes; `replace`: a new guest; `data-loss`: data on it is deleted. */
  what: 'destroy' | 'replace' | 'data-loss'
  /** The fields that delete data (`volumes.cache`), for `data-loss`. */
  paths?: string[]
}

/**
 * The actions of `plan` that destroy, replace or delete data, in plan order:
 * - `replace` always;
 * - `delete`, unless every change it lists is `live` (an App with `deletionPolicy: Retain` is only
 *   let go of: the guest keeps running);
 * - an `update` with a `data-loss` field change apply will make (refused changes are not made).
 * Creations never are, nor is an action apply refuses (it changes nothing; apply stops on it).
 */
export function destructiveChanges(plan: Plan): DestructiveChange[] {
  const out: DestructiveChange[] = []
  for (const a of plan.entries) {
    const changes = a.changes as PlanFieldChange[]
    if (isRefused(a)) continue
    if (a.type === 'replace') out.push({ key: a.key, what: 'replace' })
    else if (a.type === 'delete') {
      if (changes.length === 0 || changes.some((c) => c.impact !== 'live')) out.push({ key: a.key, what: 'destroy' })
    } else if (a.type === 'update') {
      const lost = changes.filter((c) => c.impact === 'data-loss' && !c.refused).map((c) => c.path)
      if (lost.length > 0) out.push({ key: a.key, what: 'data-loss', paths: lost })
    }
  }
  return out
}

/** `App/web (replace), App/old (destroy), App/db (data-loss: volumes.cache)`. */
export function describeDestructive(changes: readonly DestructiveChange[]): string {
  return changes.map((c) => `${c.key} (${c.what}${c.paths ? `: ${c.paths.join(', ')}` : ''})`).join(', ')
}
