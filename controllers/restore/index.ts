/**
 * The Restore controller (DESIGN §5): a one-shot, in-place restore of an App's guest from a
 * backup. It runs once per spec (the outcome is kept in status keyed by the specHash); applying
 * the same manifest again reports that outcome and changes nothing, and deleting the manifest
 * changes nothing (there are no orphans: a Restore owns nothing in Proxmox).
 */
import type { RestoreManifest } from '../../src/model/types.js'
import type { Controller } from '../../src/runtime/controller.js'
import { applyRestore } from './apply.js'
import { observeRestore, planRestore, type RestoreObservation, type RestoreStep } from './observe.js'

export type { RestoreObservation, RestoreStep } from './observe.js'

/** Progress phases of a Restore, in order (besides the runtime's). */
export const RESTORE_PHASES = ['backing-up', 'stopping', 'restoring', 'starting', 'waiting-health'] as const

/** Reconciles Restore manifests. */
export const restoreController: Controller<RestoreManifest, RestoreObservation, RestoreStep> = {
  kind: 'Restore',
  phases: RESTORE_PHASES,
  waitingPhase: 'waiting-health',
  observe: observeRestore,
  plan: (r, o) => planRestore(r, o),
  apply: applyRestore,
  // Never called (no orphans); deleting a Restore manifest changes nothing.
  finalize: async () => ({ ready: true, reason: 'Deleted', message: 'a Restore owns nothing in Proxmox' }),
}
