/**
 * The Appliance controller (DESIGN §5, issue 12): one Appliance manifest → the LAN bridge on
 * every node that needs it, one Alpine LXC guest with a WAN and a LAN NIC running dnsmasq,
 * Caddy and nftables, whose config files are rendered from the Appliance and every App that
 * joins it (render/), pushed only when their hash changed, and health as conditions. The guest
 * machinery is shared with the App controller (controllers/lxc).
 */
import type { ApplianceManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Controller } from '../../src/runtime/controller.js'
import { finalizeGuest, findGuestOrphans, LXC_PHASES, planGuestDelete, type GuestOrphan } from '../lxc/index.js'
import { applyAppliance } from './apply.js'
import { APPLIANCE_GUEST } from './desired.js'
import type { ApplianceObservation } from './observation.js'
import { observeAppliance } from './observe.js'
import { planAppliance, type ApplianceDetail } from './plan.js'

export type { ApplianceObservation, ApplianceStatusExtra, LanAppStatus } from './observation.js'
export type { ApplianceAction, ApplianceDetail } from './plan.js'

/** Progress phases of an Appliance, in order (besides the runtime's). */
export const APPLIANCE_PHASES = [...LXC_PHASES, 'installing', 'configuring'] as const

/**
 * Reconciles Appliance manifests. The guest is deleted with its manifest (nothing in it is
 * data: every file is rendered); the LAN bridge stays, since apps may still use it.
 */
export const applianceController: Controller<ApplianceManifest, ApplianceObservation, ApplianceDetail, GuestOrphan, PlanFieldChange> = {
  kind: 'Appliance',
  // Its files list every App on its LAN: an App added, changed or removed re-queues it.
  watches: ['App'],
  phases: APPLIANCE_PHASES,
  observe: observeAppliance,
  plan: planAppliance,
  apply: applyAppliance,
  orphans: (ctx) => findGuestOrphans(ctx, APPLIANCE_GUEST, new Set(ctx.set.appliances.map((a) => a.metadata.name))),
  planDelete: planGuestDelete,
  finalize: (ctx, record) => finalizeGuest(ctx, APPLIANCE_GUEST, record),
}
