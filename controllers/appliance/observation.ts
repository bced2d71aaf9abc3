/**
 * What observe learns about one Appliance (read-only data handed to the pure plan), and the
 * memory the Appliance controller keeps in its status between reconciles.
 */
import type { PendingCreate } from '../../src/store/types.js'
import type { GuestMemory, ObservedGuest } from '../lxc/index.js'
import type { ApplianceFileId } from './render/index.js'

/** One app on the LAN as the appliance status lists it (never secrets). */
export interface LanAppStatus {
  name: string
  ip: string
  mac: string
  /** Holds its lease (DHCP apps) or answers on its static address. */
  leased?: boolean
  /** Every `expose` route answered through the proxy; undefined without routes. */
  reachable?: boolean
  /** Why not, when `reachable` is false. */
  detail?: string
}

/** Status extra the Appliance controller keeps between reconciles (never secrets). */
export interface ApplianceStatusExtra extends GuestMemory {
  /** The vmid whose packages/runlevels were set up, and with which SETUP_VERSION. */
  setupVmid?: number
  setupVersion?: number
  /** App → LAN address last rendered (the dhcp-hosts file says the same). */
  addresses?: Record<string, string>
  /** specHash of the last converged spec. */
  appliedSpecHash?: string
  /** The template as written in the spec/defaults when the guest was created. */
  templateSpec?: string
  template?: string
  /** filesDigest of the files last pushed and running. */
  filesDigest?: string
  /** ms epoch of the last full check (file hashes read back, health probed). */
  lastCheckAt?: number
  /** Per-app LAN status from the last health probe. */
  apps?: LanAppStatus[]
}

/** The LAN bridge on one node. */
export interface ObservedBridge {
  node: string
  /** `missing`; `ours`/`foreign` (by its comments); `pending`: created but not applied yet. */
  state: 'missing' | 'ours' | 'foreign'
  active: boolean
  /** The node has queued network changes we did not make (we never apply those). */
  foreignPending: boolean
}

export interface ApplianceObservation {
  /** The snapshot alone shows the guest running, the spec and files are what we last applied, and the last full check is recent: no read was made. */
  steady: boolean
  guest?: ObservedGuest
  creating?: boolean
  pendingCreate?: PendingCreate
  pendingVmidTaken?: boolean
  bridges: ObservedBridge[]
  /** File id → sha256 of the file in the appliance (absent: no such file); undefined when not read. */
  hashes?: Partial<Record<ApplianceFileId, string>>
  /** Content of the files whose hash differs from the rendered one (for plan lines). */
  current: Partial<Record<ApplianceFileId, string>>
  /** App → address the appliance hands out now (memory, else its dhcp-hosts file). */
  previous: Record<string, string>
  extra: ApplianceStatusExtra
  now: number
}
