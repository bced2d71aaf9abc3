/**
 * How the engine wraps the registered controllers (behaviour unchanged):
 *
 * - their calls run inside `inController`, so the clients' transport-level audit hook records
 *   only calls made outside a controller (controllers audit their own calls with the object key
 *   and plan step; each call appears once in the audit log);
 * - an observation made while planning is kept for the snapshot it was made against, and the
 *   first attempt at that key against the SAME snapshot object uses it instead of observing
 *   again: `plan` then `apply` of one run observe each object once. A refreshed snapshot (after
 *   a create) is a new object, so nothing stale is ever reused.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { ClusterSnapshot, Controller } from '../runtime/controller.js'

/** Set while a controller method runs. */
export const inController = new AsyncLocalStorage<true>()

type Memo = WeakMap<ClusterSnapshot, Map<string, { specHash: string; observed: unknown }>>

/** Wraps `c` (see the module comment). `memo` is shared by every controller of one engine. */
export function wrapController(c: Controller, memo: Memo): Controller {
  const w: Controller = {
    kind: c.kind,
    phases: c.phases,
    ...(c.waitingPhase !== undefined ? { waitingPhase: c.waitingPhase } : {}),
    ...(c.watches !== undefined ? { watches: c.watches } : {}),
    observe: (ctx, obj) =>
      inController.run(true, async () => {
        const key = `${obj.kind}/${obj.metadata.name}`
        const snap = ctx.snapshot
        if (ctx.dryRun) {
          const observed: unknown = await c.observe(ctx, obj)
          let m = memo.get(snap)
          if (!m) memo.set(snap, (m = new Map()))
          m.set(key, { specHash: obj.specHash, observed })
          return observed
        }
        const kept = memo.get(snap)?.get(key)
        if (kept) {
          memo.get(snap)?.delete(key)
          if (kept.specHash === obj.specHash) return kept.observed
        }
        return c.observe(ctx, obj)
      }),
    plan: (obj, observed, ctx) => c.plan(obj, observed, ctx),
    apply: (ctx, obj, actions) => inController.run(true, () => c.apply(ctx, obj, actions)),
    finalize: (ctx, record) => inController.run(true, () => c.finalize(ctx, record)),
  }
  if (c.orphans) w.orphans = (ctx, o) => inController.run(true, () => c.orphans!(ctx, o))
  if (c.planDelete) w.planDelete = (record) => c.planDelete!(record)
  if (c.requeueOnChange) w.requeueOnChange = (changed, set) => c.requeueOnChange!(changed, set)
  return w
}
