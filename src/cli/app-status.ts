/**
 * What `get` and `describe` say about a guest object beyond its stored status: where it can be
 * reached (IP and the URLs of its exposed ports), what one live `/cluster/resources` snapshot
 * says about its guest, and whether the stored status can still be trusted. Pure.
 */
import { hasManagedTag } from '../model/marker.js'
import { deriveAppAddress, type AppAddress } from '../model/app-address.js'
import type { AppManifest, ManifestSet } from '../model/types.js'
import type { ClusterGuest } from '../providers/proxmox/types.js'
import type { ObjectStatus } from '../store/types.js'
import { SOURCE_KEY } from '../engine/source-status.js'

export type { AppAddress } from '../model/app-address.js'

/**
 * The addresses of App `name`, derived as the App controller derives the ones it records in the
 * status (src/model/app-address.ts), so `get`, `describe` and the API agree: the static IP,
 * else the LAN address its Appliance leased, else the address its guest reported (`reported`,
 * a live `interfaces` read, else the one the controller recorded). Without a manifest, what the
 * status recorded. Unknown parts are left out, never guessed.
 */
export function appAddress(name: string, status: ObjectStatus | undefined, set: ManifestSet | undefined, appliances: ObjectStatus[], reported?: string): AppAddress {
  const app: AppManifest | undefined = set?.apps.find((a) => a.metadata.name === name)
  const recordedIp = typeof status?.extra?.ip === 'string' ? status.extra.ip : undefined
  if (!app) {
    const urls = Array.isArray(status?.extra?.urls) ? (status.extra.urls as unknown[]).filter((u): u is string => typeof u === 'string') : []
    const anyLease = appliances.map((s) => (s.extra?.addresses as Record<string, unknown> | undefined)?.[name]).find((x): x is string => typeof x === 'string')
    const ip = recordedIp ?? anyLease
    return { ...(ip ? { ip } : {}), urls }
  }
  const applianceName = app.spec.network.appliance
  const applianceStatus = appliances.find((s) => s.name === applianceName)
  const leased = (applianceStatus?.extra?.addresses as Record<string, unknown> | undefined)?.[name]
  return deriveAppAddress(app, set, { ...(typeof leased === 'string' ? { leased } : applianceName && recordedIp ? { leased: recordedIp } : {}), ...((reported ?? recordedIp) ? { reported: reported ?? recordedIp } : {}) })
}

/** `10.0.3.12 https://web.home.arpa` (or `<none>` as the table prints empty cells). */
export const formatAddress = (a: AppAddress): string => [a.ip, ...a.urls].filter(Boolean).join(' ')

/** What the live snapshot says about the guest an object's status names. */
export type LiveState =
  | { observed: false }
  | { observed: true; at: string; state: 'running' | 'stopped' | 'gone' | string; node?: string; vmid?: number }

/**
 * The guest of `status` in one `/cluster/resources` snapshot, by the vmid its inventory records
 * (and our tag, so a foreign guest that took the vmid over counts as gone). `at` is when the
 * snapshot was read.
 */
export function liveStateOf(status: ObjectStatus, guests: ClusterGuest[], at: string): LiveState {
  const vmid = status.inventory?.vmid
  if (vmid === undefined) return { observed: true, at, state: 'gone' }
  const g = guests.find((x) => x.vmid === vmid && hasManagedTag(x.tags))
  if (!g) return { observed: true, at, state: 'gone', vmid }
  return { observed: true, at, state: g.lock ? `${g.status} (locked: ${g.lock})` : g.status, node: g.node, vmid }
}

/**
 * Why a stored status is stale, or undefined when nothing says it is: the live snapshot finds
 * its guest gone, stopped while it was recorded running (or the reverse), or on another node;
 * or the status was written before the daemon's last complete resync (`lastResyncAt`).
 * `declared` is the manifest's `spec.state` when known.
 */
export function staleReason(status: ObjectStatus, live: LiveState, lastResyncAt: string | undefined, declared?: 'running' | 'stopped'): string | undefined {
  if (live.observed) {
    if (live.state === 'gone') {
      return status.inventory?.vmid === undefined ? 'no guest recorded' : `guest ${status.inventory.vmid} is gone (deleted or sandbox reset)`
    }
    const ready = status.conditions.find((c) => c.type === 'Ready')
    const stoppedAsDeclared = ready?.message?.includes('is stopped as declared') === true
    const recorded = ready?.status !== 'True' ? undefined : (declared ?? (stoppedAsDeclared ? 'stopped' : 'running'))
    if (recorded !== undefined && !live.state.startsWith(recorded)) return `guest ${live.vmid} is ${live.state}, recorded ${recorded}`
    if (live.node && status.inventory?.node && live.node !== status.inventory.node) return `guest ${live.vmid} moved to ${live.node}`
  }
  // A stalled object is not attempted again until its spec changes: its status stays true.
  const stalled = status.conditions.some((c) => c.type === 'Stalled' && c.status === 'True')
  if (lastResyncAt && !stalled && Date.parse(status.updatedAt) < Date.parse(lastResyncAt)) return `not observed since the resync of ${lastResyncAt}`
  return undefined
}

/** What `get` and `describe` show beside a stored status (`observation` in `-o json`). */
export interface StatusObservation {
  /** When the stored status was recorded. */
  statusObservedAt: string
  /** The live read of its guest, when one was made. */
  live?: { observedAt: string; state: string; node?: string; vmid?: number }
  /** Why the stored status cannot be trusted, when something says so. */
  stale?: string
  /** Apps only. */
  address?: AppAddress
}

/** The data a status is judged against: the state folder's statuses, the live read, the manifests. */
export interface ObservationInputs {
  statuses: ObjectStatus[]
  live?: { guests: ClusterGuest[]; at: string }
  set?: ManifestSet
  /** App name → address its guest reported. */
  ips: Map<string, string>
}

/**
 * The observation of one stored status: its live state, whether it is stale (App and Appliance)
 * and an App's address. The daemon's last complete resync is read from the source's status.
 */
export function observeStatus(s: ObjectStatus, v: ObservationInputs): StatusObservation {
  const guestKind = s.kind === 'App' || s.kind === 'Appliance'
  const source = v.statuses.find((x) => x.key === SOURCE_KEY)
  const lastResyncAt = typeof source?.extra?.previousResyncAt === 'string' ? source.extra.previousResyncAt : undefined
  const live: LiveState = v.live && guestKind ? liveStateOf(s, v.live.guests, v.live.at) : { observed: false }
  const declared = s.kind === 'App' ? v.set?.apps.find((a) => a.metadata.name === s.name)?.spec.state : undefined
  const stale = guestKind ? staleReason(s, live, lastResyncAt, declared) : undefined
  const appliances = v.statuses.filter((x) => x.kind === 'Appliance')
  return {
    statusObservedAt: s.updatedAt,
    ...(live.observed ? { live: { observedAt: live.at, state: live.state, ...(live.node ? { node: live.node } : {}), ...(live.vmid !== undefined ? { vmid: live.vmid } : {}) } } : {}),
    ...(stale ? { stale } : {}),
    ...(s.kind === 'App' ? { address: appAddress(s.name, s, v.set, appliances, v.ips.get(s.name)) } : {}),
  }
}
