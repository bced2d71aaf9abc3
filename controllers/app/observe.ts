/**
 * Observe (read-only) for App: find our guest starting from the pass snapshot and decide whether a
 * config read is needed at all (DESIGN §4 steady-state budget: a converged app costs no request
 * beyond the runtime's one `/cluster/resources` read, and no SSH).
 */
import { hasManagedTag, isOwned, parseMarker } from '../../src/model/marker.js'
import type { AppManifest } from '../../src/model/types.js'
import { gibToBytes, mibToBytes, normalizeTags } from '../../src/plan/normalize.js'
import type { ClusterGuest } from '../../src/providers/proxmox/types.js'
import type { ClusterSnapshot, ControllerContext } from '../../src/runtime/controller.js'
import { isNotFound, read } from './call.js'
import { APP_TAG } from './desired.js'
import type { AppObservation, AppStatusExtra, ObservedAppGuest } from './observation.js'

/** The store key of an App. */
export const appKey = (name: string): string => `App/${name}`

/** Reads the App's status extra from the store (empty when none). */
export function storedExtra(ctx: Pick<ControllerContext, 'store'>, name: string): AppStatusExtra {
  const st = ctx.store.getStatus(appKey(name))
  return { ...((st?.extra ?? {}) as AppStatusExtra) }
}

/**
 * How old a guest's last full config read may get before it is read again although the snapshot
 * looks converged (drift the snapshot cannot show: features, net0, description …). At most one
 * app per pass is deep-checked, the one checked longest ago, so steady state stays ~1 read.
 */
export const DEEP_CHECK_INTERVAL_MS = 10 * 60_000

const deepPick = new WeakMap<ClusterSnapshot, string | undefined>()

/** The one App key due for a deep check in this pass (computed once per snapshot), if any. */
export function deepCheckCandidate(ctx: ControllerContext): string | undefined {
  if (deepPick.has(ctx.snapshot)) return deepPick.get(ctx.snapshot)
  const wanted = new Set(ctx.set.apps.map((a) => appKey(a.metadata.name)))
  let best: string | undefined
  let bestAt = Number.POSITIVE_INFINITY
  for (const s of ctx.store.viewStatus('App')) {
    if (!wanted.has(s.key)) continue
    const at = Number((s.extra as AppStatusExtra | undefined)?.lastDeepCheckAt ?? 0)
    if (at < bestAt || (at === bestAt && best !== undefined && s.key < best)) {
      best = s.key
      bestAt = at
    }
  }
  const pick = best !== undefined && ctx.now() - bestAt >= DEEP_CHECK_INTERVAL_MS ? best : undefined
  deepPick.set(ctx.snapshot, pick)
  return pick
}

/** True when the snapshot alone proves the guest matches the manifest (no read needed). */
export function snapshotMatches(app: AppManifest, g: ClusterGuest): boolean {
  const s = app.spec
  if (g.lock) return false
  if (g.status !== s.state) return false
  if (g.maxcpu !== undefined && g.maxcpu !== s.resources.cores) return false
  if (g.maxmem !== undefined && g.maxmem !== mibToBytes(s.resources.memory)) return false
  if (g.maxdisk !== undefined && g.maxdisk !== gibToBytes(s.resources.disk)) return false
  return normalizeTags(g.tags) === normalizeTags([APP_TAG, 'proximity'])
}

/** Reads a guest's config (and its pending keys when `withPending` and running). */
async function readGuest(ctx: ControllerContext, g: ClusterGuest, withPending: boolean): Promise<ObservedAppGuest | undefined> {
  let config: Record<string, string | number>
  try {
    config = await ctx.pve.lxcConfig(g.node, g.vmid)
  } catch (err) {
    if (isNotFound(err)) return undefined
    return read(`read config of guest ${g.vmid}`, () => Promise.reject(err))
  }
  const marker = parseMarker(config.description === undefined ? undefined : String(config.description))
  const out: ObservedAppGuest = {
    vmid: g.vmid,
    node: g.node,
    status: g.status,
    lock: (config.lock as string | undefined) ?? g.lock,
    tags: config.tags === undefined ? g.tags : String(config.tags),
    config,
    digest: String(config.digest ?? ''),
    marker,
  }
  if (withPending && out.status === 'running' && !out.lock) {
    const pending = await read(`read pending changes of guest ${g.vmid}`, () => ctx.pve.lxcPending(g.node, g.vmid))
    out.pendingKeys = pending.filter((p) => p.pending !== undefined || p.delete !== undefined).map((p) => p.key)
  }
  return out
}

/**
 * When the snapshot's power state disagrees with the manifest, confirm it with `status/current`:
 * `/cluster/resources` lags about 10 s behind power changes (REFERENCE trap 12), and acting on a
 * stale status would start a running guest. Then reads pending keys if it turned out running.
 */
async function confirmStatus(ctx: ControllerContext, app: AppManifest, o: AppObservation): Promise<AppObservation> {
  const g = o.guest
  if (!g || g.lock || g.status === app.spec.state) return o
  const cur = await read(`read status of guest ${g.vmid}`, () => ctx.pve.lxcStatus(g.node, g.vmid))
  if (cur.status === g.status) return o
  g.status = cur.status
  if (cur.status === 'running' && g.pendingKeys === undefined) {
    const pending = await read(`read pending changes of guest ${g.vmid}`, () => ctx.pve.lxcPending(g.node, g.vmid))
    g.pendingKeys = pending.filter((p) => p.pending !== undefined || p.delete !== undefined).map((p) => p.key)
  }
  return o
}

const ours = (ctx: ControllerContext, app: AppManifest, g: ObservedAppGuest | undefined): boolean =>
  g !== undefined && isOwned(g.marker, ctx.cluster.spec.owner) && g.marker.kind === 'App' && g.marker.name === app.metadata.name

/** Observes one App. Read-only: the snapshot, then config/pending reads only when needed. */
export async function observeApp(ctx: ControllerContext, app: AppManifest): Promise<AppObservation> {
  const name = app.metadata.name
  const key = appKey(name)
  const status = ctx.store.getStatus(key)
  const extra = storedExtra(ctx, name)
  const notReady: AppObservation['notReady'] = []
  for (const dep of app.spec.dependsOn) {
    const st = ctx.statusOf(appKey(dep))
    if (!st?.ready) notReady.push({ name: dep, reason: st?.reason })
  }
  const base = { extra, notReady, now: ctx.now() }
  // Nothing will be done this pass: do not spend reads (plan turns these into noop/wait).
  if (app.spec.suspend || app.spec.network.appliance || notReady.length > 0) return { ...base, steady: false }
  const guests = ctx.snapshot.guests.filter((g) => g.type === 'lxc')

  // 1. The store's inventory: the last vmid we knew (its node may have changed: migration).
  const invVmid = status?.inventory?.vmid
  if (invVmid !== undefined) {
    const g = guests.find((x) => x.vmid === invVmid && hasManagedTag(x.tags))
    if (g) {
      if (extra.appliedSpecHash === app.specHash && extra.healthy !== false && snapshotMatches(app, g) && deepCheckCandidate(ctx) !== key) {
        return { ...base, steady: true, guest: { vmid: g.vmid, node: g.node, status: g.status, lock: g.lock, tags: g.tags } }
      }
      const seen = await readGuest(ctx, g, true)
      if (ours(ctx, app, seen)) return confirmStatus(ctx, app, withMarkerExtra({ ...base, steady: false, guest: seen }))
    }
  }

  // 2. A create we started: is the guest there yet?
  const pending = ctx.store.getPendingCreate(key)
  if (pending) {
    const g = guests.find((x) => x.vmid === pending.vmid)
    if (g) {
      const seen = await readGuest(ctx, g, false)
      if (seen && seen.lock === 'create' && !seen.marker) return { ...base, steady: false, creating: true, pendingCreate: pending, guest: seen }
      if (ours(ctx, app, seen)) return confirmStatus(ctx, app, withMarkerExtra({ ...base, steady: false, guest: seen, pendingCreate: pending }))
      // The vmid was taken by someone else: create picks another one.
      return { ...base, steady: false, pendingCreate: pending, pendingVmidTaken: true }
    }
    return { ...base, steady: false, pendingCreate: pending }
  }

  // 3. No answer from the store (state dir lost, or a new app): scan owned-looking guests by marker.
  const claimed = claimedByOthers(ctx, key)
  for (const g of guests) {
    if (!hasManagedTag(g.tags) || g.vmid === invVmid) continue
    if (claimed.has(g.vmid)) continue
    const seen = await readGuest(ctx, g, true)
    if (ours(ctx, app, seen)) return confirmStatus(ctx, app, withMarkerExtra({ ...base, steady: false, guest: seen }))
  }
  return { ...base, steady: false }
}

/**
 * vmids other Apps' inventories or in-flight creates already name: no need to read their configs
 * (an index lookup, plus the few pending creates).
 */
function claimedByOthers(ctx: ControllerContext, key: string): { has(vmid: number): boolean } {
  const creating = new Set(ctx.store.listPendingCreates().filter((p) => p.key !== key).map((p) => p.vmid))
  return { has: (vmid) => creating.has(vmid) || ctx.store.keysByVmid('App', vmid).some((k) => k !== key) }
}

/** When the store lost our extra, the marker's specHash tells what was last fully applied. */
function withMarkerExtra(o: AppObservation): AppObservation {
  const m = o.guest?.marker
  if (m && m.specHash && o.extra.appliedSpecHash === undefined) o.extra = { ...o.extra, appliedSpecHash: m.specHash }
  return o
}
