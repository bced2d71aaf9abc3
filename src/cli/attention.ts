/**
 * What `plan` and `apply` say beside the plan so that "No changes" is only printed when it is
 * true (issue 9 point 4): objects of the manifests that are not Ready by their stored status
 * (a failed health gate, a stalled or failed reconcile), and owned objects whose manifest is
 * gone that a run without `--prune` leaves alone.
 */
import { desiredKeys, type ComputedPlan } from '../engine/plan.js'
import type { Engine } from '../engine/types.js'
import type { NotReadyNote, OrphanNote } from '../plan/render.js'
import { getCondition } from '../runtime/conditions.js'
import { findManifest } from '../runtime/keys.js'

export interface Attention {
  notReady: NotReadyNote[]
  orphans: OrphanNote[]
  /** Set when the orphan scan failed (the plan itself is still valid); said as a warning. */
  orphanScanError?: string
}

/**
 * Reads the store for every object of the current set whose kind has a controller and collects
 * those with a status whose Ready condition is not True (objects never reconciled from this state
 * dir have no status and are not listed; keys the plan could not observe are reported as errors
 * by the caller and skipped here). `stalled` follows the runtime's rule: Stalled and neither the
 * spec nor the manifest set changed since, so apply will not try again.
 *
 * Without `prune`, asks every controller for its orphans over the plan's own cluster snapshot (no
 * new snapshot read; a config read only for managed guests the store cannot explain). With
 * `prune` the orphans are in the plan already and none are listed. Read only.
 */
export async function findAttention(engine: Engine, computed: ComputedPlan, o: { prune: boolean }): Promise<Attention> {
  const { set, revision } = engine.current()
  const kinds = new Set<string>(engine.controllers.map((c) => c.kind))
  const failedToPlan = new Set(computed.errors.map((e) => e.key))
  const notReady: NotReadyNote[] = []
  for (const key of desiredKeys(set)) {
    if (!kinds.has(key.slice(0, key.indexOf('/'))) || failedToPlan.has(key)) continue
    const st = engine.store.peekStatus(key)
    if (!st) continue
    const ready = getCondition(st.conditions, 'Ready')
    if (ready?.status === 'True') continue
    const stalledCond = getCondition(st.conditions, 'Stalled')
    const stalled = stalledCond?.status === 'True' && st.specHash === findManifest(set, key)?.specHash && st.lastAttemptedRevision === revision
    notReady.push({ key, reason: ready?.reason ?? 'Unknown', message: ready?.message || stalledCond?.message || 'not reconciled yet', stalled })
  }
  const orphans: OrphanNote[] = []
  let orphanScanError: string | undefined
  if (!o.prune) {
    try {
      const ctx = await engine.newContext({ dryRun: true, snapshot: computed.snapshot })
      for (const c of engine.controllers) {
        if (!c.orphans) continue
        for (const r of await c.orphans(ctx, { prune: false })) orphans.push({ key: r.key, target: r.target, destroys: r.destroys })
      }
    } catch (e) {
      orphanScanError = `cannot list managed objects whose manifest is gone: ${(e as Error).message}`
    }
  }
  orphans.sort((a, b) => a.key.localeCompare(b.key))
  return { notReady, orphans, ...(orphanScanError ? { orphanScanError } : {}) }
}
