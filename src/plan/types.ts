/**
 * Plan data shapes (DESIGN §4). A Plan is the list of actions the controllers would take, with
 * per-field impact; the CLI renders it (render.ts) or prints it as JSON (json.ts). Pure data.
 */
import type { Action, FieldChange } from '../runtime/controller.js'

/** A field change that apply will refuse (e.g. a disk shrink); rendered with the reason. */
export interface PlanFieldChange extends FieldChange {
  /** The Proxmox config key behind the change (`memory`, `net0`, `rootfs`, `mp0`), or `state`/`ostemplate`. */
  key?: string
  /** Why apply will not do this, phrased as an actionable sentence. */
  refused?: string
}

export interface PlanSummary {
  add: number
  change: number
  destroy: number
}

export interface Plan {
  entries: Action[]
  summary: PlanSummary
}

/**
 * The Proxmox configuration Proximity wants for one guest, in Proxmox's own keys and units
 * (memory/swap MiB; rootfs/mp[n] in the allocation form `<storage>:<GiB>[,opts]`).
 */
export interface DesiredGuest {
  config: Record<string, string | number>
  /** Template volid the guest is created from (a change forces replacement when known on both sides). */
  ostemplate?: string
  /** Desired power state. */
  state?: 'running' | 'stopped'
  /** Manifest-facing path per Proxmox key (e.g. `mp0` → `volumes.data`); defaults are built in. */
  paths?: Record<string, string>
}

/** What was read back from Proxmox for one guest. */
export interface ObservedGuest {
  /** `GET …/lxc/{vmid}/config` values (pending values merged, as Proxmox returns by default). */
  config: Record<string, string | number>
  ostemplate?: string
  status?: string
  /** Keys with a pending (not yet effective) change, from `GET …/pending`. */
  pendingKeys?: string[]
}
