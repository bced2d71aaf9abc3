/**
 * Orphans and deletion of App guests (DESIGN §4, §9): only guests carrying our marker (owner and
 * kind App) are ever touched; "already gone" is success; deletionPolicy decides between a final
 * backup then destroy (Backup), destroy (Delete) and letting go (Retain).
 */
import { hasManagedTag, isOwned, MANAGED_TAG, parseMarker, parseTags, withMarker } from '../../src/model/marker.js'
import type { Action, ControllerContext, OrphanRecord, Result } from '../../src/runtime/controller.js'
import { StalledError } from '../../src/runtime/errors.js'
import { audited, isNotFound, mapProviderError, waitTask } from './call.js'
import { APP_TAG } from './desired.js'
import type { AppStatusExtra } from './observation.js'

/** Owned App guests whose manifest is gone. Reads configs only for unexplained managed guests. */
export async function findOrphans(ctx: ControllerContext): Promise<OrphanRecord[]> {
  const wanted = new Set(ctx.set.apps.map((a) => a.metadata.name))
  const owner = ctx.cluster.spec.owner
  const known = new Map<number, { name: string; policy?: AppStatusExtra['deletionPolicy'] }>()
  for (const s of ctx.store.listStatus('App')) {
    if (s.inventory?.vmid !== undefined) known.set(s.inventory.vmid, { name: s.name, policy: (s.extra as AppStatusExtra | undefined)?.deletionPolicy })
  }
  const out: OrphanRecord[] = []
  for (const g of ctx.snapshot.guests) {
    if (g.type !== 'lxc' || !hasManagedTag(g.tags)) continue
    const k = known.get(g.vmid)
    if (k && wanted.has(k.name)) continue
    let cfg: Record<string, string | number>
    try {
      cfg = await ctx.pve.lxcConfig(g.node, g.vmid)
    } catch (err) {
      if (isNotFound(err)) continue
      throw mapProviderError(err, `read config of guest ${g.vmid}`)
    }
    const m = parseMarker(cfg.description === undefined ? undefined : String(cfg.description))
    if (!isOwned(m, owner) || m.kind !== 'App' || wanted.has(m.name)) continue
    const stored = ctx.store.getStatus(`App/${m.name}`)?.extra as AppStatusExtra | undefined
    out.push({ key: `App/${m.name}`, kind: 'App', name: m.name, vmid: g.vmid, node: g.node, deletionPolicy: stored?.deletionPolicy ?? k?.policy ?? 'Backup' })
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

/** The plan entry for deleting an orphan (pure). */
export function planAppDelete(r: OrphanRecord): Action {
  const what = r.deletionPolicy === 'Retain' ? 'release guest (keep it running, remove marker and tag)' : r.deletionPolicy === 'Backup' ? 'final backup, then destroy guest' : 'destroy guest'
  return {
    type: 'delete',
    key: r.key,
    kind: 'App',
    name: r.name,
    summary: `${what} ${r.vmid} on ${r.node}`,
    changes: [{ path: 'guest', before: `${r.vmid} on ${r.node}`, after: undefined, impact: r.deletionPolicy === 'Retain' ? 'live' : 'data-loss' }],
    detail: { vmid: r.vmid, node: r.node, deletionPolicy: r.deletionPolicy },
  }
}

const gone = (message: string): Result => ({ ready: true, reason: 'Deleted', message, changed: [message] })

/** Deletes (or releases) an orphan per its deletionPolicy. Idempotent; "already gone" is success. */
export async function finalizeApp(ctx: ControllerContext, r: OrphanRecord): Promise<Result> {
  const snap = await ctx.refreshSnapshot()
  const g = snap.guests.find((x) => x.vmid === r.vmid && x.type === 'lxc')
  if (!g) return gone(`guest ${r.vmid} is already gone`)
  const node = g.node
  let cfg: Record<string, string | number> & { digest: string }
  try {
    cfg = await ctx.pve.lxcConfig(node, r.vmid)
  } catch (err) {
    if (isNotFound(err)) return gone(`guest ${r.vmid} is already gone`)
    throw mapProviderError(err, `read config of guest ${r.vmid}`)
  }
  const m = parseMarker(cfg.description === undefined ? undefined : String(cfg.description))
  if (!isOwned(m, ctx.cluster.spec.owner) || m.kind !== 'App' || m.name !== r.name) {
    throw new StalledError('NotOwned', `guest ${r.vmid} no longer carries the marker of App ${r.name}; it was left untouched`)
  }
  const target = `lxc/${r.vmid}`
  if (r.deletionPolicy === 'Retain') {
    const tags = parseTags(String(cfg.tags ?? '')).filter((t) => t !== MANAGED_TAG && t !== APP_TAG)
    const params: Record<string, string> = { description: withMarker(String(cfg.description ?? ''), undefined), digest: cfg.digest }
    if (tags.length > 0) params.tags = tags.join(';')
    else params.delete = 'tags'
    if (params.description === '') {
      delete params.description
      params.delete = params.delete ? `${params.delete},description` : 'description'
    }
    await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target, reason: 'deletionPolicy Retain', what: `release guest ${r.vmid}` }, () => ctx.pve.updateLxcConfig(node, r.vmid, params))
    return gone(`released guest ${r.vmid} (kept running, no longer managed)`)
  }
  ctx.progress(r.key, 'deleting')
  if (r.deletionPolicy === 'Backup') {
    const storage = ctx.cluster.spec.defaults.backupStorage
    const params = { vmid: String(r.vmid), storage, mode: g.status === 'running' ? 'snapshot' : 'stop', compress: 'zstd', 'notes-template': `proximity final backup of App/${r.name}` }
    await ctx.semaphores.storage(storage, async () => {
      const upid = await audited(ctx, { action: 'POST /nodes/{node}/vzdump', target, reason: 'final backup (deletionPolicy Backup)', what: `back up guest ${r.vmid} before deleting it` }, () => ctx.pve.vzdump(node, params))
      if (upid !== 'OK') await waitTask(ctx, node, upid, `back up guest ${r.vmid}`)
    })
  }
  if (g.status === 'running') {
    try {
      const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/stop', target, reason: 'delete', what: `stop guest ${r.vmid}` }, () => ctx.pve.stopLxc(node, r.vmid))
      await waitTask(ctx, node, upid, `stop guest ${r.vmid}`)
    } catch (err) {
      if (!(err instanceof StalledError)) throw err // "not running" is fine
    }
  }
  try {
    const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}', target, reason: `deletionPolicy ${r.deletionPolicy}`, what: `delete guest ${r.vmid}` }, () => ctx.pve.deleteLxc(node, r.vmid, { purge: true }))
    await waitTask(ctx, node, upid, `delete guest ${r.vmid}`)
  } catch (err) {
    if (isNotFound(err) || (err instanceof Error && isNotFound(err.cause))) return gone(`guest ${r.vmid} is already gone`)
    throw err
  }
  return gone(`deleted guest ${r.vmid}${r.deletionPolicy === 'Backup' ? ' after a final backup' : ''}`)
}
