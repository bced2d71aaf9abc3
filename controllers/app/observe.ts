/**
 * Observe (read-only) for App: find our guest (shared guest machinery, controllers/lxc) starting
 * from the pass snapshot and decide whether a config read is needed at all (DESIGN §4
 * steady-state budget: a converged app costs no request beyond the runtime's one
 * `/cluster/resources` read, and no SSH).
 */
import type { AppManifest } from '../../src/model/types.js'
import { gibToBytes, mibToBytes, normalizeTags } from '../../src/plan/normalize.js'
import type { ClusterGuest } from '../../src/providers/proxmox/types.js'
import type { ClusterSnapshot, ControllerContext } from '../../src/runtime/controller.js'
import { findGuest, lookupTemplate, templateNotFound } from '../lxc/index.js'
import { isBeingRestored } from '../restore/in-progress.js'
import { APP_TAG, appIdentity } from './desired.js'
import { haSteady } from './ha.js'
import type { AppObservation, AppStatusExtra } from './observation.js'

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

/** True when the snapshot alone proves the guest matches the manifest (no read needed), HA included. */
export function snapshotMatches(app: AppManifest, g: ClusterGuest, extra: Pick<AppStatusExtra, 'haCreated'> = {}): boolean {
  const s = app.spec
  if (g.lock) return false
  if (!haSteady(app, g.hastate, extra.haCreated)) return false
  if (g.status !== s.state) return false
  if (g.maxcpu !== undefined && g.maxcpu !== s.resources.cores) return false
  if (g.maxmem !== undefined && g.maxmem !== mibToBytes(s.resources.memory)) return false
  if (g.maxdisk !== undefined && g.maxdisk !== gibToBytes(s.resources.disk)) return false
  return normalizeTags(g.tags) === normalizeTags([APP_TAG, 'proximity'])
}

/** Observes one App. Read-only: the snapshot, then config/pending reads only when needed. */
export async function observeApp(ctx: ControllerContext, app: AppManifest): Promise<AppObservation> {
  const name = app.metadata.name
  const id = appIdentity(name)
  const extra = storedExtra(ctx, name)
  const notReady: AppObservation['notReady'] = []
  for (const dep of app.spec.dependsOn) {
    const st = ctx.statusOf(appKey(dep))
    if (!st?.ready) notReady.push({ name: dep, reason: st?.reason })
  }
  const restoring = isBeingRestored(name)
  const base: Pick<AppObservation, 'extra' | 'notReady' | 'now' | 'restoring' | 'templateMissing'> = { extra, notReady, now: ctx.now(), ...(restoring ? { restoring } : {}) }
  const applianceName = app.spec.network.appliance
  if (applianceName) {
    const present = ctx.set.appliances.some((a) => a.metadata.name === applianceName)
    const st = present ? ctx.statusOf(`Appliance/${applianceName}`) : undefined
    if (!st?.ready) {
      const why = !present ? `appliance ${applianceName} is not in the manifest set` : `waiting for Appliance/${applianceName} to be ready${st?.reason ? ` (${st.reason})` : ''}`
      return { ...base, steady: false, applianceNotReady: why }
    }
  }
  // Nothing will be done this pass: do not spend reads (plan turns these into a wait or a noop).
  if (app.spec.suspend || notReady.length > 0 || restoring) return { ...base, steady: false }

  const found = await findGuest(ctx, id, {
    desiredState: app.spec.state,
    steady: (g) => extra.appliedSpecHash === app.specHash && extra.healthy !== false && snapshotMatches(app, g, extra) && deepCheckCandidate(ctx) !== id.key,
  })
  // A guest to be made from a template nothing matches is refused by plan, as apply would (lookupTemplate reads only).
  const changing = found.found === 'guest' && app.spec.template && extra.templateSpec && extra.templateSpec !== app.spec.template
  const making = found.found === 'none' ? (app.spec.node ?? ctx.cluster.spec.defaults.node ?? app.spec.placement?.nodes[0] ?? ctx.snapshot.guests[0]?.node ?? null) : changing ? found.guest.node : undefined
  const templateMissing = making !== undefined ? await missingTemplate(ctx, making, app.spec.template ?? ctx.cluster.spec.defaults.template) : undefined
  if (templateMissing) base.templateMissing = templateMissing
  switch (found.found) {
    case 'steady':
      return { ...base, steady: true, guest: found.guest }
    case 'creating':
      return { ...base, steady: false, creating: true, pendingCreate: found.pendingCreate, guest: found.guest }
    case 'guest':
      return withMarkerExtra({ ...base, steady: false, guest: found.guest, ...(found.pendingCreate ? { pendingCreate: found.pendingCreate } : {}), ...(found.others ? { duplicates: found.others } : {}) })
    case 'none':
      return { ...base, steady: false, ...(found.pendingCreate ? { pendingCreate: found.pendingCreate } : {}), ...(found.pendingVmidTaken ? { pendingVmidTaken: true } : {}) }
  }
}

/** The refusal sentence when nothing matches `spec` on `node`; undefined when it does, or when the lookup failed (apply then decides). */
async function missingTemplate(ctx: ControllerContext, node: string | null, spec: string): Promise<string | undefined> {
  try {
    const on = node ?? (await ctx.pve.nodes()).filter((n) => n.status === 'online').map((n) => n.node).sort()[0]
    if (!on) return undefined
    const found = await lookupTemplate(ctx, on, spec)
    return found.local || found.download ? undefined : templateNotFound(spec, found.storage)
  } catch {
    return undefined
  }
}

/** When the store lost our extra, the marker's specHash tells what was last fully applied. */
function withMarkerExtra(o: AppObservation): AppObservation {
  const m = o.guest?.marker
  if (m && m.specHash && o.extra.appliedSpecHash === undefined) o.extra = { ...o.extra, appliedSpecHash: m.specHash }
  return o
}
