/**
 * Orphans and deletion of owned guests (DESIGN §4, §9), for any guest kind: only guests carrying
 * our marker (owner, kind and name) are ever touched; "already gone" is success; the
 * deletionPolicy decides between a final backup then destroy (Backup), destroy (Delete) and
 * letting go (Retain: marker and tags removed, the guest keeps running).
 *
 * The policy of an object whose manifest is gone comes from controller memory: a guest kind keeps
 * `deletionPolicy` in its status `extra` (GuestMemory) on every reconcile.
 */
import { hasManagedTag, MANAGED_TAG, parseMarker, parseTags, withMarker } from '../../src/model/marker.js'
import type { Action, ControllerContext, OrphanRecord, PassContext, Result } from '../../src/runtime/controller.js'
import { StalledError } from '../../src/runtime/errors.js'
import { audited, isNotFound, mapProviderError, waitTask } from '../shared/call.js'
import { removeHaResource } from './ha.js'
import { guestIdentity, type GuestKind } from './identity.js'

/** What pruning does with a guest: final backup then destroy, destroy, or let go (keep it running, unmanaged). */
export type DeletionPolicy = 'Backup' | 'Delete' | 'Retain'

/** What a guest kind keeps in its status `extra` for deletion (besides its own fields). */
export interface GuestMemory {
  /** Last applied deletionPolicy (used when the manifest is gone). */
  deletionPolicy?: DeletionPolicy
  [k: string]: unknown
}

/** The orphan detail of a guest kind: where the guest is and what to do with it. */
export interface GuestOrphan {
  vmid: number
  node: string
  deletionPolicy: DeletionPolicy
}

/** The plan detail of a guest deletion. */
export type GuestDeleteDetail = GuestOrphan

const orphanRecord = (k: GuestKind, name: string, o: GuestOrphan): OrphanRecord<GuestOrphan> => ({
  key: `${k.kind}/${name}`,
  kind: k.kind,
  name,
  destroys: o.deletionPolicy !== 'Retain',
  target: `guest ${o.vmid} on ${o.node}`,
  detail: o,
})

/**
 * Owned guests of kind `k` whose object is not in `wanted` (names with a manifest). Reads configs
 * only for managed-looking guests the store cannot explain. Sorted by key.
 */
export async function findGuestOrphans(ctx: PassContext, k: GuestKind, wanted: ReadonlySet<string>): Promise<OrphanRecord<GuestOrphan>[]> {
  const owner = ctx.cluster.spec.owner
  const known = new Map<number, { name: string; policy?: DeletionPolicy }>()
  for (const s of ctx.store.listStatus(k.kind)) {
    if (typeof s.inventory?.vmid === 'number') known.set(s.inventory.vmid, { name: s.name, policy: (s.extra as GuestMemory | undefined)?.deletionPolicy })
  }
  // Guests another guest kind's objects name in their inventory (an App's guest, seen from the
  // Appliance kind) are explained too: no config read for them.
  const otherKinds = new Set<number>()
  for (const s of ctx.store.listStatus()) if (s.kind !== k.kind && typeof s.inventory?.vmid === 'number') otherKinds.add(s.inventory.vmid)
  const out: OrphanRecord<GuestOrphan>[] = []
  for (const g of ctx.snapshot.guests) {
    if (g.type !== 'lxc' || !hasManagedTag(g.tags)) continue
    const hint = known.get(g.vmid)
    if (hint && wanted.has(hint.name)) continue
    if (!hint && otherKinds.has(g.vmid)) continue
    let cfg: Record<string, string | number>
    try {
      cfg = await ctx.pve.lxcConfig(g.node, g.vmid)
    } catch (err) {
      if (isNotFound(err)) continue
      throw mapProviderError(err, `read config of guest ${g.vmid}`)
    }
    const m = parseMarker(cfg.description === undefined ? undefined : String(cfg.description))
    if (!m || !guestIdentity(k, m.name).owns(m, owner) || wanted.has(m.name)) continue
    const stored = ctx.store.getStatus(`${k.kind}/${m.name}`)?.extra as GuestMemory | undefined
    out.push(orphanRecord(k, m.name, { vmid: g.vmid, node: g.node, deletionPolicy: stored?.deletionPolicy ?? hint?.policy ?? 'Backup' }))
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

/** The plan entry for deleting a guest orphan (pure). */
export function planGuestDelete(r: OrphanRecord<GuestOrphan>): Action<GuestDeleteDetail> {
  const { vmid, node, deletionPolicy } = r.detail
  const what = deletionPolicy === 'Retain' ? 'release guest (keep it running, remove marker and tag)' : deletionPolicy === 'Backup' ? 'final backup, then destroy guest' : 'destroy guest'
  return {
    type: 'delete',
    key: r.key,
    kind: r.kind,
    name: r.name,
    summary: `${what} ${vmid} on ${node}`,
    changes: [{ path: 'guest', before: `${vmid} on ${node}`, after: undefined, impact: deletionPolicy === 'Retain' ? 'live' : 'data-loss' }],
    detail: { vmid, node, deletionPolicy },
  }
}

const gone = (message: string): Result => ({ ready: true, reason: 'Deleted', message, changed: [message] })

/**
 * Deletes (or releases) a guest orphan of kind `k` per its deletionPolicy. Idempotent; "already
 * gone" is success. Throws StalledError `NotOwned` when the guest no longer carries its marker.
 */
export async function finalizeGuest(ctx: ControllerContext, k: GuestKind, r: OrphanRecord<GuestOrphan>): Promise<Result> {
  const { vmid, deletionPolicy } = r.detail
  const id = guestIdentity(k, r.name)
  const snap = await ctx.refreshSnapshot()
  const g = snap.guests.find((x) => x.vmid === vmid && x.type === 'lxc')
  if (!g) return gone(`guest ${vmid} is already gone`)
  const node = g.node
  let cfg: Record<string, string | number> & { digest: string }
  try {
    cfg = await ctx.pve.lxcConfig(node, vmid)
  } catch (err) {
    if (isNotFound(err)) return gone(`guest ${vmid} is already gone`)
    throw mapProviderError(err, `read config of guest ${vmid}`)
  }
  const m = parseMarker(cfg.description === undefined ? undefined : String(cfg.description))
  if (!id.owns(m, ctx.cluster.spec.owner)) {
    throw new StalledError('NotOwned', `guest ${vmid} no longer carries the marker of ${id.label}; it was left untouched`)
  }
  const target = `lxc/${vmid}`
  if (deletionPolicy === 'Retain') {
    const tags = parseTags(String(cfg.tags ?? '')).filter((t) => t !== MANAGED_TAG && t !== k.tag)
    const params: Record<string, string> = { description: withMarker(String(cfg.description ?? ''), undefined), digest: cfg.digest }
    if (tags.length > 0) params.tags = tags.join(';')
    else params.delete = 'tags'
    if (params.description === '') {
      delete params.description
      params.delete = params.delete ? `${params.delete},description` : 'description'
    }
    await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target, reason: 'deletionPolicy Retain', what: `release guest ${vmid}` }, () => ctx.pve.updateLxcConfig(node, vmid, params))
    return gone(`released guest ${vmid} (kept running, no longer managed)`)
  }
  ctx.progress(r.key, 'deleting')
  if (deletionPolicy === 'Backup') {
    const storage = ctx.cluster.spec.defaults.backupStorage
    const params = { vmid: String(vmid), storage, mode: g.status === 'running' ? 'snapshot' : 'stop', compress: 'zstd', 'notes-template': `proximity final backup of ${id.key}` }
    await ctx.semaphores.storage(storage, async () => {
      const upid = await audited(ctx, { action: 'POST /nodes/{node}/vzdump', target, reason: 'final backup (deletionPolicy Backup)', what: `back up guest ${vmid} before deleting it` }, () => ctx.pve.vzdump(node, params))
      if (upid !== 'OK') await waitTask(ctx, node, upid, `back up guest ${vmid}`)
    })
  }
  // Proxmox refuses to destroy an HA-managed guest (and HA would restart a stopped one): out of HA first.
  if (g.hastate !== undefined) await removeHaResource(ctx, { id, vmid }, { force: true })
  if (g.status === 'running') {
    try {
      const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/stop', target, reason: 'delete', what: `stop guest ${vmid}` }, () => ctx.pve.stopLxc(node, vmid))
      await waitTask(ctx, node, upid, `stop guest ${vmid}`)
    } catch (err) {
      if (!(err instanceof StalledError)) throw err // "not running" (the snapshot lags) is fine
    }
  }
  try {
    const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}', target, reason: `deletionPolicy ${deletionPolicy}`, what: `delete guest ${vmid}` }, () => ctx.pve.deleteLxc(node, vmid, { purge: true }))
    await waitTask(ctx, node, upid, `delete guest ${vmid}`)
  } catch (err) {
    if (isNotFound(err)) return gone(`guest ${vmid} is already gone`)
    throw err
  }
  return gone(`deleted guest ${vmid}${deletionPolicy === 'Backup' ? ' after a final backup' : ''}`)
}
