/**
 * Finding an object's guest, read-only (DESIGN §3, §4): starting from the pass snapshot, through
 * the inventory the store remembers, then a pending create, then — when the store has no answer
 * (a new object, or a lost state directory) — a scan of managed-looking guests by marker. Config
 * reads happen only where the snapshot cannot decide, so a converged guest costs no request.
 */
import { hasManagedTag, parseMarker, type GuestMarker } from '../../src/model/marker.js'
import type { ClusterGuest } from '../../src/providers/proxmox/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import type { PendingCreate } from '../../src/store/types.js'
import { isNotFound, read } from '../shared/call.js'
import type { GuestIdentity } from './identity.js'

/** A guest as observed: snapshot facts, plus its config when it was read. */
export interface ObservedGuest {
  vmid: number
  node: string
  status: string
  lock?: string
  tags?: string
  /** The snapshot's `hastate`: set when the guest is an HA resource (see ha.ts haTarget). */
  hastate?: string
  /** Config (with digest) when it was read; absent on the steady-state fast path. */
  config?: Record<string, string | number>
  digest?: string
  marker?: GuestMarker
  pendingKeys?: string[]
}

/** What `findGuest` found. */
export type FoundGuest =
  /** The snapshot alone proves the guest is converged (no read was made). */
  | { found: 'steady'; guest: ObservedGuest; pendingCreate?: undefined }
  /**
   * Our guest, config read. `pendingCreate` is set when it was found through one. `others`: more
   * guests carrying the same marker, found by the marker scan (only when the store had no answer,
   * e.g. a lost state directory during a replacement); `guest` is the preferred one (preferGuest).
   */
  | { found: 'guest'; guest: ObservedGuest; pendingCreate?: PendingCreate; others?: ObservedGuest[] }
  /** Our create is still running (`lock: create`, no marker yet). */
  | { found: 'creating'; guest: ObservedGuest; pendingCreate: PendingCreate }
  /** No guest. `pendingCreate` is a create we started whose guest is not visible (yet). */
  | { found: 'none'; pendingCreate?: PendingCreate; pendingVmidTaken?: boolean }

export interface FindGuestOptions {
  /**
   * True when the snapshot entry alone shows the guest converged (the caller's fast path: the
   * stored specHash is current, resources match …). Only asked for the inventory's guest.
   */
  steady?: (g: ClusterGuest) => boolean
  /** The power state the manifest wants; a snapshot that disagrees is confirmed (it lags). */
  desiredState?: 'running' | 'stopped'
}

/** Reads a guest's config (and its pending keys when `withPending` and running). undefined when gone. */
export async function readGuest(ctx: ControllerContext, g: ClusterGuest, withPending: boolean): Promise<ObservedGuest | undefined> {
  let config: Record<string, string | number>
  try {
    config = await ctx.pve.lxcConfig(g.node, g.vmid)
  } catch (err) {
    if (isNotFound(err)) return undefined
    return read(`read config of guest ${g.vmid}`, () => Promise.reject(err))
  }
  const out: ObservedGuest = {
    vmid: g.vmid,
    node: g.node,
    status: g.status,
    lock: (config.lock as string | undefined) ?? g.lock,
    tags: config.tags === undefined ? g.tags : String(config.tags),
    ...(g.hastate !== undefined ? { hastate: g.hastate } : {}),
    config,
    digest: String(config.digest ?? ''),
    marker: parseMarker(config.description === undefined ? undefined : String(config.description)),
  }
  if (withPending && out.status === 'running' && !out.lock) out.pendingKeys = await pendingKeys(ctx, out)
  return out
}

async function pendingKeys(ctx: ControllerContext, g: ObservedGuest): Promise<string[]> {
  const pending = await read(`read pending changes of guest ${g.vmid}`, () => ctx.pve.lxcPending(g.node, g.vmid))
  return pending.filter((p) => p.pending !== undefined || p.delete !== undefined).map((p) => p.key)
}

/**
 * When the snapshot's power state disagrees with `desired`, confirms it with `status/current`:
 * `/cluster/resources` lags about 10 s behind power changes (REFERENCE trap 12), and acting on a
 * stale status would start a running guest. Reads pending keys if it turned out running.
 */
export async function confirmPowerState(ctx: ControllerContext, g: ObservedGuest, desired: 'running' | 'stopped' | undefined): Promise<void> {
  if (desired === undefined || g.lock || g.status === desired) return
  const cur = await read(`read status of guest ${g.vmid}`, () => ctx.pve.lxcStatus(g.node, g.vmid))
  if (cur.status === g.status) return
  g.status = cur.status
  if (cur.status === 'running' && g.pendingKeys === undefined) g.pendingKeys = await pendingKeys(ctx, g)
}

/** True when the guest at `node`/`vmid` carries `id`'s marker; false when it is not ours or gone. */
export async function isOwnGuest(ctx: ControllerContext, id: GuestIdentity, node: string, vmid: number): Promise<boolean> {
  try {
    const cfg = await ctx.pve.lxcConfig(node, vmid)
    return id.owns(parseMarker(cfg.description === undefined ? undefined : String(cfg.description)), ctx.cluster.spec.owner)
  } catch (err) {
    if (isNotFound(err)) return false
    return read(`read config of guest ${vmid}`, () => Promise.reject(err))
  }
}

/** vmids other objects of the same kind already name (inventory or an in-flight create): no need to read their configs. */
function claimedByOthers(ctx: ControllerContext, id: GuestIdentity): { has(vmid: number): boolean } {
  // An index lookup per guest, plus the few in-flight creates of other objects.
  const creating = new Set(ctx.store.listPendingCreates().filter((p) => p.key !== id.key).map((p) => p.vmid))
  return { has: (vmid) => creating.has(vmid) || ctx.store.keysByVmid(id.kind, vmid).some((k) => k !== id.key) }
}

/**
 * Finds `id`'s guest. Read-only; see the module comment for the order. A guest is ours only when
 * its marker names our owner, kind and name; foreign guests are never returned.
 */
export async function findGuest(ctx: ControllerContext, id: GuestIdentity, opts: FindGuestOptions = {}): Promise<FoundGuest> {
  const owner = ctx.cluster.spec.owner
  const guests = ctx.snapshot.guests.filter((g) => g.type === 'lxc')
  const mine = async (o: ObservedGuest, pendingCreate?: PendingCreate): Promise<FoundGuest> => {
    await confirmPowerState(ctx, o, opts.desiredState)
    return { found: 'guest', guest: o, ...(pendingCreate ? { pendingCreate } : {}) }
  }

  // 1. The store's inventory: the last vmid we knew (its node may have changed: migration).
  const inv = ctx.store.getStatus(id.key)?.inventory?.vmid
  const invVmid = typeof inv === 'number' ? inv : undefined
  if (invVmid !== undefined) {
    const g = guests.find((x) => x.vmid === invVmid && hasManagedTag(x.tags))
    if (g) {
      if (opts.steady?.(g)) return { found: 'steady', guest: { vmid: g.vmid, node: g.node, status: g.status, lock: g.lock, tags: g.tags, ...(g.hastate !== undefined ? { hastate: g.hastate } : {}) } }
      const seen = await readGuest(ctx, g, true)
      if (seen && id.owns(seen.marker, owner)) return mine(seen)
    }
  }

  // 2. A create we started: is the guest there yet?
  const pending = ctx.store.getPendingCreate(id.key)
  if (pending) {
    const g = guests.find((x) => x.vmid === pending.vmid)
    if (!g) return { found: 'none', pendingCreate: pending }
    const seen = await readGuest(ctx, g, false)
    if (seen && seen.lock === 'create' && !seen.marker) return { found: 'creating', guest: seen, pendingCreate: pending }
    if (seen && id.owns(seen.marker, owner)) return mine(seen, pending)
    // The vmid was taken by someone else: create picks another one.
    return { found: 'none', pendingCreate: pending, pendingVmidTaken: true }
  }

  // 3. No answer from the store (state dir lost, or a new object): scan managed-looking guests by marker.
  const claimed = claimedByOthers(ctx, id)
  const owned: ObservedGuest[] = []
  for (const g of guests) {
    if (!hasManagedTag(g.tags) || g.vmid === invVmid || claimed.has(g.vmid)) continue
    const seen = await readGuest(ctx, g, true)
    if (seen && id.owns(seen.marker, owner)) owned.push(seen)
  }
  if (owned.length === 0) return { found: 'none' }
  const [best, ...others] = owned.sort(preferGuest)
  const found = await mine(best!)
  return others.length > 0 && found.found === 'guest' ? { ...found, others } : found
}

/**
 * Orders guests that carry the same marker, preferred first: a complete marker (a non-empty
 * specHash: a spec was fully applied to it) before an empty one (a guest created but never
 * finished, e.g. the new guest of an interrupted replacement), then running before stopped, then
 * the lower vmid (a stable tie-break).
 */
export function preferGuest(a: ObservedGuest, b: ObservedGuest): number {
  const complete = (g: ObservedGuest): number => (g.marker?.specHash ? 0 : 1)
  const running = (g: ObservedGuest): number => (g.status === 'running' ? 0 : 1)
  return complete(a) - complete(b) || running(a) - running(b) || a.vmid - b.vmid
}
