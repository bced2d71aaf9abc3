/**
 * What App apply refuses, decided once, in plan: a refused change carries its reason and the way
 * forward (`PlanFieldChange.refused`), `plan` shows it (`!`, counted as refused) and apply throws
 * the matching Stalled error before touching anything. Plan and apply cannot disagree because
 * apply never re-decides: it reads the refusals off the action plan built. Pure.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import { StalledError } from '../../src/runtime/errors.js'

/**
 * Marks the changes of one App action that apply will not make (in place): a volume removed or
 * moved to another storage (its data would go), and a change only a new guest can make when
 * `replaceable` is false. A disk shrink already carries its refusal (src/plan/diff.ts).
 * Returns the same array, changed in place.
 */
export function markRefusals(changes: PlanFieldChange[], opts: { replaceable: (c: PlanFieldChange) => boolean }): PlanFieldChange[] {
  for (const c of changes) {
    if (c.refused) continue
    if (c.impact === 'data-loss') {
      c.refused =
        c.after === undefined
          ? 'removing a volume deletes its data: put it back in spec.volumes, or remove the app (its deletionPolicy backs it up) and apply it again'
          : `a volume cannot move to another storage in place (its data would be lost): keep its storage ${JSON.stringify(c.before)}`
    } else if (c.forcesReplacement && !opts.replaceable(c)) {
      c.refused = 'only a new guest can change this, and apply cannot re-create this guest: revert the change, or remove the app (its deletionPolicy backs it up) and apply it again'
    }
  }
  return changes
}

/** The Stalled error apply throws for a refused change (the first by path), or undefined when none is refused. */
export function refusalError(app: AppManifest, changes: readonly PlanFieldChange[]): StalledError | undefined {
  const c = [...changes].filter((x) => x.refused).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))[0]
  if (!c?.refused) return undefined
  const name = app.metadata.name
  if (c.path === 'template') return new StalledError('TemplateNotFound', `cannot make a guest for App ${name}: ${c.refused}`)
  if (c.impact === 'data-loss') return new StalledError('DataLossRefused', `cannot apply ${c.path} to App ${name}: ${c.refused}`)
  if (c.forcesReplacement) return new StalledError('ReplaceRequired', `cannot change ${c.path} of App ${name}: ${c.refused}`)
  if (c.unit === 'GiB' && typeof c.before === 'number' && typeof c.after === 'number' && c.after < c.before) {
    const what = c.path === 'resources.disk' ? 'disk' : c.path
    return new StalledError('DiskShrinkRefused', `cannot shrink ${what} of App ${name} from ${c.before} to ${c.after} GiB; Proxmox only grows disks: set ${c.path} back to ${c.before} or larger`)
  }
  return new StalledError('ChangeRefused', `cannot apply ${c.path} to App ${name}: ${c.refused}`)
}
