/**
 * `spec.ha.enabled` of an App, planned from the snapshot's `hastate` (no read of its own). Pure.
 *
 * - enabled, no HA resource: add `ct:<vmid>` with the state that follows `spec.state`;
 * - enabled, resource steering elsewhere (stopped while the app should run, or the reverse):
 *   set its requested state;
 * - disabled (or the field removed), resource there and created by Proximity: remove it. A
 *   resource someone added by hand is left alone (the App's memory says whether it was ours;
 *   apply checks the resource's marker before removing it).
 */
import type { AppManifest } from '../../src/model/types.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import { haStateFor, haTarget } from '../lxc/index.js'

/** The plan key of an HA change (not a guest config key: apply handles it on its own). */
export const HA_KEY = 'ha'

/** The change `spec.ha.enabled` needs, or undefined when HA already is as declared. */
export function haChange(app: AppManifest, hastate: string | undefined, haCreated: boolean | undefined): PlanFieldChange | undefined {
  const want = haStateFor(app.spec.state)
  if (app.spec.ha.enabled) {
    if (hastate === undefined) return { path: 'ha.enabled', key: HA_KEY, before: false, after: true, impact: 'live', note: `HA resource added (state ${want})` }
    if (haTarget(hastate) !== want) return { path: 'ha.enabled', key: HA_KEY, before: true, after: true, impact: 'live', note: `HA state ${hastate} → ${want}` }
    return undefined
  }
  if (hastate !== undefined && haCreated === true) return { path: 'ha.enabled', key: HA_KEY, before: true, after: false, impact: 'live', note: 'HA resource removed' }
  return undefined
}

/** True when HA needs nothing (see haChange). */
export const haSteady = (app: AppManifest, hastate: string | undefined, haCreated: boolean | undefined): boolean => haChange(app, hastate, haCreated) === undefined
