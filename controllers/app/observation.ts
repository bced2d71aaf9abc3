/**
 * What observe learns about one App (read-only data handed to the pure plan), and the memory the
 * App controller keeps in its status between reconciles.
 */
import type { PendingCreate } from '../../src/store/types.js'
import type { GuestMemory, ObservedGuest } from '../lxc/index.js'
import type { Replacement } from './replace.js'
import type { PendingUpdate, RolledBackUpdate } from './safe-update.js'

/** Status extra the App controller keeps between reconciles (never secrets). */
export interface AppStatusExtra extends GuestMemory {
  /** specHash of the last fully applied (healthy, marker written) spec. */
  appliedSpecHash?: string
  /** deployHash (compose/env/secret digests) last pushed and started. */
  deployHash?: string
  /** What that deploy ran, by service/image/env key (secret values only as keyed digests). */
  deployed?: unknown
  /** ms epoch of the last `compose up` (the health timeout counts from here). */
  deployStartedAt?: number
  /** true once the health gate passed for deployHash; false while it is pending or failed. */
  healthy?: boolean
  /** The template as written in the spec/defaults when the guest was created. */
  templateSpec?: string
  /** The volid the guest was created from. */
  template?: string
  /** ms epoch of the last full config read that found (or made) the guest converged. */
  lastDeepCheckAt?: number
  /** An update in flight with its rollback point (cleared once healthy or rolled back). */
  pendingUpdate?: PendingUpdate
  /** The last update that was rolled back; its specHash is not tried again while unchanged. */
  rolledBack?: RolledBackUpdate
  /** true while the guest's HA resource is one Proximity added (`ha.enabled`); only that one is ever removed. */
  haCreated?: boolean
  /** A replacement of the guest in flight (replace.ts): finished or undone by the next attempt. */
  replacing?: Replacement
  /** Where the app is reached (address.ts): its IPv4 address when known. Shown by the API. */
  ip?: string
  /** The URLs of its published ports (address.ts). Shown by the API. */
  urls?: string[]
}

/** The App's guest as observed (see ObservedGuest in controllers/lxc). */
export type ObservedAppGuest = ObservedGuest

export interface AppObservation {
  /** Our guest, when found. */
  guest?: ObservedAppGuest
  /**
   * Other guests carrying this app's marker, found only when the store had no answer (a lost
   * state directory during a replacement); plan recovers the replacement from them (plan.ts).
   */
  duplicates?: ObservedAppGuest[]
  /** True when the steady-state check passed without any read beyond the snapshot. */
  steady: boolean
  /** A pending create whose guest is not (yet) visible. */
  pendingCreate?: PendingCreate
  /** The pending create's vmid now belongs to a foreign guest: allocate another. */
  pendingVmidTaken?: boolean
  /** The guest exists but its create task is still running (`lock: create`). */
  creating?: boolean
  /** Status extra from the store (or rebuilt from the marker when the state dir was lost). */
  extra: AppStatusExtra
  /** A Restore is acting on this app's guest right now (controllers/restore/in-progress.ts). */
  restoring?: boolean
  /** The Appliance the App joins, when it is not Ready (or not in the set): why, for the wait. */
  applianceNotReady?: string
  /**
   * Set when a guest is to be made from a template nothing matches (a create, or a template
   * change): the sentence plan puts on the `template` field as its refusal.
   */
  templateMissing?: string
  /** dependsOn apps that are not Ready. */
  notReady: { name: string; reason?: string }[]
  /** Observing time (ms epoch), for health timeouts. */
  now: number
}
