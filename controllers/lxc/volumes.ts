/**
 * Handing an owned guest's mount points to another guest on the same node (Proxmox
 * `move_volume` with `target-vmid`): the data volume is renamed for its new owner and stays where
 * it is; nothing is copied. Used by the App replacement (a new guest for a template, root storage
 * or unprivileged change) and by its undo.
 */
import type { ControllerContext } from '../../src/runtime/controller.js'
import { audited, isNotFound, read, waitTask } from '../shared/call.js'

/** The mount point keys (`mp0`, `mp1`, …) of a config, in numeric order. */
export function mountPointKeys(config: Record<string, unknown>): string[] {
  return Object.keys(config)
    .filter((k) => /^mp\d+$/.test(k))
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
}

/**
 * Moves every mount point named in `keys` that `from` still has and `to` does not have yet, under
 * the same key, one task at a time (both guests must be stopped, on `node`). Idempotent: a key
 * already moved is skipped, so a re-run after a crash finishes the job. Returns the keys moved now.
 *
 * WARNING: Proxmox refuses to move a volume a snapshot of `from` still uses; delete those
 * snapshots first (deleteSnapshots).
 */
export async function moveMountPoints(ctx: ControllerContext, node: string, from: number, to: number, keys: readonly string[], why: string): Promise<string[]> {
  const a = await read(`read config of guest ${from}`, () => ctx.pve.lxcConfig(node, from), ctx)
  const b = await read(`read config of guest ${to}`, () => ctx.pve.lxcConfig(node, to), ctx)
  const moved: string[] = []
  for (const key of keys) {
    if (a[key] === undefined || b[key] !== undefined) continue
    const what = `move ${key} of guest ${from} to guest ${to}`
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/move_volume', target: `lxc/${from}`, reason: why, what }, () => ctx.pve.moveLxcVolume(node, from, key, { vmid: to, volume: key }))
    await waitTask(ctx, node, upid, what)
    moved.push(key)
  }
  return moved
}

/** Deletes every snapshot of a guest (oldest last), so its volumes can move. Idempotent. */
export async function deleteSnapshots(ctx: ControllerContext, node: string, vmid: number, why: string): Promise<string[]> {
  const all = (await read(`list snapshots of guest ${vmid}`, () => ctx.pve.listSnapshots(node, vmid), ctx)).filter((s) => s.name !== 'current')
  // Children before parents: newest first.
  all.sort((x, y) => (y.snaptime ?? 0) - (x.snaptime ?? 0))
  for (const s of all) {
    const what = `delete snapshot ${s.name} of guest ${vmid}`
    const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}', target: `lxc/${vmid}`, reason: why, what }, () => ctx.pve.deleteSnapshot(node, vmid, s.name))
    await waitTask(ctx, node, upid, what)
  }
  return all.map((s) => s.name)
}

/** What destroyOwnGuest did. */
export type DestroyOutcome = 'deleted' | 'gone' | 'not-owned'

/**
 * Destroys a guest only while it still carries `owns`'s marker (read fresh, never from a
 * snapshot): stops it when running, then `DELETE …?purge=1` and waits. A guest already gone is
 * `gone`; a guest whose marker is no longer ours is left untouched (`not-owned`). Idempotent.
 */
export async function destroyOwnGuest(ctx: ControllerContext, owns: (description: string | undefined) => boolean, node: string, vmid: number, why: string): Promise<DestroyOutcome> {
  let cfg: Record<string, string | number>
  try {
    cfg = await ctx.pve.lxcConfig(node, vmid)
  } catch (err) {
    if (isNotFound(err)) return 'gone'
    return read(`read config of guest ${vmid}`, () => Promise.reject(err), ctx)
  }
  if (!owns(cfg.description === undefined ? undefined : String(cfg.description))) return 'not-owned'
  const target = `lxc/${vmid}`
  const status = await read(`read status of guest ${vmid}`, () => ctx.pve.lxcStatus(node, vmid), ctx)
  if (status.status === 'running') {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/stop', target, reason: why, what: `stop guest ${vmid}` }, () => ctx.pve.stopLxc(node, vmid))
    await waitTask(ctx, node, upid, `stop guest ${vmid}`)
  }
  try {
    const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}', target, reason: why, what: `delete guest ${vmid}` }, () => ctx.pve.deleteLxc(node, vmid, { purge: true }))
    await waitTask(ctx, node, upid, `delete guest ${vmid}`)
  } catch (err) {
    if (isNotFound(err)) return 'gone'
    throw err
  }
  return 'deleted'
}
