/**
 * The App controller (DESIGN §5): one App manifest → one LXC guest running its compose project.
 * Safe to call repeatedly; steady state costs no request beyond the pass snapshot.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { Controller } from '../../src/runtime/controller.js'
import { applyApp } from './apply.js'
import { finalizeApp, findOrphans, planAppDelete } from './finalize.js'
import type { AppObservation } from './observation.js'
import { observeApp } from './observe.js'
import { planApp } from './plan.js'
import { appsDependingOn } from './triggers.js'

export type { AppObservation } from './observation.js'
export type { AppDetail } from './plan.js'

/** Reconciles App manifests. */
export const appController: Controller<AppManifest, AppObservation> = {
  kind: 'App',
  observe: observeApp,
  plan: planApp,
  apply: applyApp,
  orphans: findOrphans,
  planDelete: planAppDelete,
  finalize: finalizeApp,
  requeueOnChange: appsDependingOn,
}
