/**
 * What the engine's `plan` returns and how `apply` picks the keys that need work. Pure helpers
 * over the reconciler's PlanReport (no I/O); the engine runs the observe/plan itself.
 */
import type { Kind, Manifest, ManifestSet } from '../model/types.js'
import type { Action, ClusterSnapshot } from '../runtime/controller.js'
import type { PlanReport } from '../runtime/reconciler.js'
import type { StateStore } from '../store/types.js'
import type { Plan } from '../plan/types.js'
import { findManifest } from '../runtime/keys.js'

/** Manifests of one kind in a set (Cluster is not reconciled). */
export function manifestsOf(set: ManifestSet, kind: Kind): Manifest[] {
  switch (kind) {
    case 'App':
      return set.apps
    case 'Appliance':
      return set.appliances
    case 'BackupPolicy':
      return set.backupPolicies
    case 'Restore':
      return set.restores
    default:
      return []
  }
}

/** Keys of every reconciled object of the set (Cluster excluded), Appliances first. */
export function desiredKeys(set: ManifestSet): string[] {
  const kinds: Kind[] = ['Appliance', 'App', 'BackupPolicy', 'Restore']
  return kinds.flatMap((k) => manifestsOf(set, k).map((m) => `${k}/${m.metadata.name}`))
}

/** What `plan` found: the plan, per-key problems, and the prune guard's verdict. */
export interface ComputedPlan {
  plan: Plan
  /** Objects that could not be observed or planned (the plan is incomplete without them). */
  errors: { key: string; message: string; transient: boolean }[]
  /** Objects waiting on something (a dependency, an appliance): not errors, shown as notes. */
  waiting: { key: string; message: string }[]
  /** Keys of orphan deletions (only with `prune`). */
  deletions: string[]
  /** The deletion guard's refusal, when a prune deletes too much. */
  refusal?: string
  /** Orphans kept out of the prune by `hold` (their manifest file stopped being read). */
  held: string[]
  /** Per key: the planned actions (for apply to decide what needs work). */
  byKey: Map<string, Action[]>
  /** The revision of the set this plan was computed from. */
  revision: string
  /**
   * The cluster snapshot the plan observed. `Engine.apply` given this plan starts from the same
   * snapshot and reuses each object's observation, so one run observes every object once.
   */
  snapshot: ClusterSnapshot
}

/** Turns the reconciler's report into a ComputedPlan (sorted errors and notes, the Plan). */
export async function summarizePlan(report: PlanReport, revision: string, snapshot: ClusterSnapshot): Promise<ComputedPlan> {
  const entries: Action[] = []
  const errors: ComputedPlan['errors'] = []
  const waiting: ComputedPlan['waiting'] = []
  const byKey = new Map<string, Action[]>()
  for (const e of [...report.entries, ...report.deletions]) {
    byKey.set(e.key, e.actions)
    entries.push(...e.actions.filter((a) => a.type !== 'noop'))
    if (e.error?.kind === 'waiting') waiting.push({ key: e.key, message: e.error.message })
    else if (e.error) errors.push({ key: e.key, message: e.error.message, transient: e.error.kind === 'transient' })
  }
  const { buildPlan } = await import('../plan/index.js')
  const byName = (a: { key: string }, b: { key: string }): number => a.key.localeCompare(b.key)
  return {
    plan: buildPlan(entries),
    errors: errors.sort(byName),
    waiting: waiting.sort(byName),
    deletions: report.deletions.map((d) => d.key),
    refusal: report.refusal,
    held: report.held ?? [],
    byKey,
    revision,
    snapshot,
  }
}

/**
 * Keys apply must reconcile: every object with a planned change, plus every object whose stored
 * status is not Ready for its current spec (first run, state dir lost, an earlier failure).
 * A converged object with a Ready status is skipped, so a converged apply writes nothing.
 */
export function keysNeedingWork(keys: readonly string[], set: ManifestSet, store: StateStore, kinds: ReadonlySet<string>, computed: ComputedPlan): string[] {
  const out: string[] = []
  for (const key of keys) {
    if (!kinds.has(key.slice(0, key.indexOf('/')))) continue
    const actions = computed.byKey.get(key) ?? []
    const st = store.peekStatus(key)
    const ready = st?.conditions.find((c) => c.type === 'Ready')?.status === 'True'
    const manifest = findManifest(set, key)
    const current = ready && manifest !== undefined && st?.specHash === manifest.specHash
    const retry = computed.errors.some((e) => e.key === key)
    if (retry || actions.some((a) => a.type !== 'noop') || !current) out.push(key)
  }
  return out.sort()
}
