/**
 * Plan data shapes (DESIGN §4). A Plan is the list of actions the controllers would take, with
 * per-field impact; the CLI renders it (render.ts) or prints it as JSON (json.ts). Pure data.
 */
import type { Action, FieldChange } from '../runtime/controller.js'

/** The base unit of a plain size number: memory and swap are MiB, disks GiB (DESIGN §2). */
export type SizeUnit = 'MiB' | 'GiB'

/** A field change that apply will refuse (e.g. a disk shrink); rendered with the reason. */
export interface PlanFieldChange extends FieldChange {
  /** The Proxmox config key behind the change (`memory`, `net0`, `rootfs`, `mp0`), or `state`/`ostemplate`. */
  key?: string
  /**
   * Why apply will not do this, phrased as an actionable sentence (the reason, then the way
   * forward). Apply refuses the whole action that carries it, before any change (build.ts).
   */
  refused?: string
  /**
   * Unit of numeric before/after values (they stay numbers, as apply uses them); text and JSON
   * show them with units (`1Gi`). When absent, the unit is inferred from the path (display.ts).
   */
  unit?: SizeUnit
  /** A short note on what the change does (e.g. `service web is recreated`), shown after the impact. */
  note?: string
}

export interface PlanSummary {
  add: number
  change: number
  destroy: number
  /** Actions apply will refuse (a change carries `refused`); not counted in add/change/destroy. */
  refused: number
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
