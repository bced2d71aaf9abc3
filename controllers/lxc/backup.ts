/**
 * One-off backups and in-place restores of an owned guest (Proxmox REFERENCE §4.3, §7): the
 * safety backup before an update or a restore, and the restore with `force` that keeps the
 * vmid. Shared by the App controller (rollback where the storage cannot snapshot) and the
 * Restore controller.
 */
import { parseBackupNotes, renderNotesTemplate, type BackupNotes } from '../../src/model/backup-notes.js'
import { backupEntries, type BackupEntry } from '../../src/model/vzdump.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { audited, read, waitTask } from '../shared/call.js'
import { guestRef, setFeatures } from './exec.js'
import { shutdownGuest, startGuest, type PowerTarget } from './power.js'

/** A backup of one guest, as a one-off vzdump leaves it. */
export interface TakenBackup {
  volid: string
  storage: string
}

/**
 * Runs `vzdump` of one guest to `storage` (under the storage's semaphore) with Proximity's notes
 * (`notes`, see src/model/backup-notes.ts) and returns the new volume. Not idempotent: every
 * call makes a new archive. The volume is found afterwards by listing the guest's backups on
 * that storage (newest whose notes carry `notes.trigger`).
 */
export async function backupGuest(ctx: ControllerContext, t: PowerTarget & { running: boolean }, storage: string, notes: BackupNotes, why: string): Promise<TakenBackup> {
  const params = { vmid: String(t.vmid), storage, mode: t.running ? 'snapshot' : 'stop', compress: 'zstd', 'notes-template': renderNotesTemplate(notes) }
  const startedAt = Math.floor(ctx.now() / 1000) - 1
  await ctx.semaphores.storage(storage, async () => {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/vzdump', target: `lxc/${t.vmid}`, reason: why, what: `back up guest ${t.vmid}` }, () => ctx.pve.vzdump(t.node, params))
    if (upid !== 'OK') await waitTask(ctx, t.node, upid, `back up guest ${t.vmid}`)
  })
  const found = (await listGuestBackups(ctx, t.node, storage, t.vmid)).filter((b) => parseBackupNotes(b.notes)?.trigger === notes.trigger)
  const newest = found.find((b) => b.time.getTime() / 1000 >= startedAt) ?? found[0]
  if (!newest) throw new Error(`the backup of guest ${t.vmid} on ${storage} finished but its volume is not listed`)
  return { volid: newest.volid, storage }
}

/** The backups of one guest on one storage, newest first (one content listing). */
export async function listGuestBackups(ctx: Pick<ControllerContext, 'pve' | 'redact'>, node: string, storage: string, vmid?: number): Promise<BackupEntry[]> {
  const items = await read(`list backups on ${storage}`, () => ctx.pve.storageContent(node, storage, { content: 'backup', ...(vmid !== undefined ? { vmid } : {}) }), ctx)
  return backupEntries(items)
}

/**
 * Restores `volid` over the existing guest, keeping its vmid (REFERENCE §7.4): stops it (a clean
 * shutdown), `POST /nodes/{node}/lxc` with `restore=1`, `force=1`, then re-applies what only
 * root@pam may set (`features`, over SSH, as at creation) and `description` (our marker, given by
 * the caller), and starts it when `start`. The guest is never removed first: a failed restore
 * task leaves Proxmox's own error and no second copy is made.
 *
 * WARNING: a restore replaces every volume of the guest, so its snapshots are gone afterwards;
 * take the safety copy as a vzdump, not a snapshot.
 */
export async function restoreGuestInPlace(
  ctx: ControllerContext,
  t: PowerTarget & { running: boolean; rootStorage: string },
  volid: string,
  opts: { features: Record<string, number>; description: string; start: boolean; why: string },
): Promise<void> {
  if (t.running) await shutdownGuest(ctx, t, opts.why)
  const params = { vmid: t.vmid, ostemplate: volid, restore: 1, force: 1, storage: t.rootStorage }
  await ctx.semaphores.node(t.node, 'restore', async () => {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc', target: `lxc/${t.vmid}`, reason: opts.why, what: `restore guest ${t.vmid} from ${volid}` }, () => ctx.pve.createLxc(t.node, params))
    await waitTask(ctx, t.node, upid, `restore guest ${t.vmid} from ${volid}`)
  })
  const cfg = await read(`read config of guest ${t.vmid}`, () => ctx.pve.lxcConfig(t.node, t.vmid), ctx)
  await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${t.vmid}`, reason: 'marker', what: `write the marker of guest ${t.vmid}` }, () =>
    ctx.pve.updateLxcConfig(t.node, t.vmid, { description: opts.description, digest: cfg.digest }),
  )
  await setFeatures(guestRef(ctx, t.key, t.vmid, t.node), opts.features, 'features after restore (keyctl needs root@pam)')
  if (opts.start) await startGuest(ctx, t, opts.why)
}
