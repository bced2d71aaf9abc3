/**
 * The App controller (DESIGN §5): one App manifest → one LXC guest running its compose project.
 * Safe to call repeatedly; steady state costs no request beyond the pass snapshot. The guest
 * machinery (find, create, template, vmid, exec/push, power, orphans, finalize) is shared with the
 * other guest kinds in controllers/lxc; this folder holds what is App-specific.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Controller } from '../../src/runtime/controller.js'
import { finalizeGuest, findGuestOrphans, LXC_PHASES, planGuestDelete, type GuestOrphan } from '../lxc/index.js'
import { applyApp } from './apply.js'
import { APP_GUEST } from './desired.js'
import type { AppObservation } from './observation.js'
import { observeApp } from './observe.js'
import { planApp, type AppDetail } from './plan.js'

export type { AppObservation } from './observation.js'
export type { AppAction, AppDetail, AppStep } from './plan.js'

/** Progress phases of an App, in order (besides the runtime's). */
export const APP_PHASES = [...LXC_PHASES, 'updating', 'installing', 'deploying', 'waiting-health', 'healthy'] as const

/** Reconciles App manifests. */
export const appController: Controller<AppManifest, AppObservation, AppDetail, GuestOrphan, PlanFieldChange> = {
  kind: 'App',
  phases: APP_PHASES,
  waitingPhase: 'waiting-health',
  observe: observeApp,
  plan: planApp,
  apply: applyApp,
  orphans: (ctx) => findGuestOrphans(ctx, APP_GUEST, new Set(ctx.set.apps.map((a) => a.metadata.name))),
  planDelete: planGuestDelete,
  finalize: (ctx, record) => finalizeGuest(ctx, APP_GUEST, record),
  // The appliance an App joins renders its lease, name and routes: re-queue it on every change.
  dependents: (app) => (app.spec.network.appliance ? [`Appliance/${app.spec.network.appliance}`] : []),
}
