/**
 * Safe updates (DESIGN §5, runtime REFERENCE §6): before a change of image, version, compose or
 * env reaches a running app, a rollback point is taken per `update.strategy` — a snapshot
 * `proximity-pre-<revision>` where every volume of the guest can snapshot, a vzdump otherwise
 * (`backup` always takes a vzdump, `none` takes nothing). After a healthy update the newest
 * KEEP_PRE_UPDATE_SNAPSHOTS pre-update snapshots are kept and older ones deleted; after an update
 * that is not healthy within `update.healthTimeout` the guest goes back to the point (`rollback:
 * true`), and the failed specHash is remembered so the same spec is not tried again.
 *
 * The guest is never removed: a snapshot rollback reverts its volumes in place, a vzdump is
 * restored over it with `force` keeping the vmid.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { audited, read, waitTask } from '../shared/call.js'
import { backupGuest, restoreGuestInPlace } from '../lxc/backup.js'
import { guestRef, shutdownGuest, type PowerTarget } from '../lxc/index.js'
import { upExistingProject } from './docker.js'
import { desiredDescription, rootStorage } from './desired.js'

/** Prefix of the snapshots taken before an update. */
export const PRE_UPDATE_PREFIX = 'proximity-pre-'

/** How many pre-update snapshots are kept after a healthy update (older ones are deleted). */
export const KEEP_PRE_UPDATE_SNAPSHOTS = 3

/** Where an update can go back to. */
export type RollbackPoint = { kind: 'snapshot'; name: string } | { kind: 'backup'; volid: string }

/** An update in flight (controller memory): its rollback point and what it came from. */
export interface PendingUpdate {
  /** Absent with `update.strategy: none` (the update is only timed by `update.healthTimeout`). */
  point?: RollbackPoint
  /** specHash being rolled out. */
  specHash: string
  /** Manifest revision being rolled out (`main@sha1:…`). */
  revision: string
  /** specHash and deployHash that ran before (restored by a rollback). */
  fromSpecHash?: string
  fromDeployHash?: string
}

/** A rolled-back update (controller memory): not retried while the spec is unchanged. */
export interface RolledBackUpdate {
  specHash: string
  revision: string
  reason: string
  /** ms epoch */
  at: number
}

/** The App's guest being updated. */
export interface UpdateTarget extends PowerTarget {
  running: boolean
}

/** The short form of a revision for names: its first 12 hex digits (or of the specHash when it has none). */
export function revisionShort(revision: string, specHash: string): string {
  const hex = /(?:sha1|sha256):([0-9a-f]+)/i.exec(revision)?.[1] ?? specHash
  return hex.toLowerCase().replace(/[^0-9a-z]/g, '').slice(0, 12)
}

/** `proximity-pre-<revision-short>` (≤ 40 chars, a valid Proxmox snapshot name). */
export const preUpdateSnapshotName = (revision: string, specHash: string): string => `${PRE_UPDATE_PREFIX}${revisionShort(revision, specHash)}`

/** True when an update of this app takes a rollback point at all. */
export const protectsUpdates = (app: AppManifest): boolean => app.spec.update.strategy !== 'none'

/** What plan says about an update of a running app. */
export function updateNote(app: AppManifest): string {
  const u = app.spec.update
  if (u.strategy === 'none') return 'update (no snapshot: update.strategy none)'
  const first = u.strategy === 'backup' ? 'backup first' : 'snapshot first'
  return `update (${first}, ${u.rollback ? 'rolls back on failure' : 'no rollback: update.rollback false'})`
}

/**
 * Takes the rollback point before an update (or returns the one already taken for this spec,
 * when an earlier attempt was interrupted). With `strategy: none` nothing is taken and the
 * result has no `point`.
 *
 * WARNING: a snapshot named for this revision that already exists is reused, not re-taken: it was
 * taken before this revision was first deployed, whereas a new one could capture a half-done
 * deploy after a crash.
 */
export async function takeRollbackPoint(ctx: ControllerContext, app: AppManifest, t: UpdateTarget, from: { specHash?: string; deployHash?: string }, pending: PendingUpdate | undefined): Promise<PendingUpdate> {
  if (pending && pending.specHash === app.specHash) return pending
  const base = { specHash: app.specHash, revision: ctx.revision, fromSpecHash: from.specHash, fromDeployHash: from.deployHash }
  if (!protectsUpdates(app)) return base
  const canSnapshot = app.spec.update.strategy === 'snapshot' && (await read(`check snapshot support of guest ${t.vmid}`, () => ctx.pve.lxcHasFeature(t.node, t.vmid, 'snapshot'), ctx))
  if (canSnapshot) {
    const name = preUpdateSnapshotName(ctx.revision, app.specHash)
    const existing = await read(`list snapshots of guest ${t.vmid}`, () => ctx.pve.listSnapshots(t.node, t.vmid), ctx)
    if (!existing.some((s) => s.name === name)) {
      const description = `before update of App ${app.metadata.name} to ${ctx.revision}`
      const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/snapshot', target: `lxc/${t.vmid}`, reason: 'pre-update', what: `snapshot guest ${t.vmid} before the update` }, () =>
        ctx.pve.createSnapshot(t.node, t.vmid, name, description),
      )
      await waitTask(ctx, t.node, upid, `snapshot guest ${t.vmid}`)
    }
    return { ...base, point: { kind: 'snapshot', name } }
  }
  const storage = ctx.cluster.spec.defaults.backupStorage
  const taken = await backupGuest(ctx, t, storage, { owner: ctx.cluster.spec.owner, app: app.metadata.name, revision: from.specHash, images: imagesOf(app), vmid: t.vmid, trigger: 'pre-update' }, 'pre-update backup')
  return { ...base, point: { kind: 'backup', volid: taken.volid } }
}

/** Images named by the app's compose services (for backup notes). */
export function imagesOf(app: AppManifest): string[] {
  const services = (app.spec.source.compose.services ?? {}) as Record<string, { image?: unknown }>
  return Object.values(services)
    .map((s) => s?.image)
    .filter((i): i is string => typeof i === 'string')
    .sort()
}

/**
 * After a healthy update: deletes pre-update snapshots beyond the newest KEEP_PRE_UPDATE_SNAPSHOTS
 * (by snapshot time, then name). Only names with PRE_UPDATE_PREFIX are ever touched. Idempotent.
 */
export async function prunePreUpdateSnapshots(ctx: ControllerContext, t: PowerTarget): Promise<string[]> {
  const all = await read(`list snapshots of guest ${t.vmid}`, () => ctx.pve.listSnapshots(t.node, t.vmid), ctx)
  const ours = all.filter((s) => s.name.startsWith(PRE_UPDATE_PREFIX)).sort((a, b) => (b.snaptime ?? 0) - (a.snaptime ?? 0) || (a.name < b.name ? 1 : -1))
  const drop = ours.slice(KEEP_PRE_UPDATE_SNAPSHOTS)
  for (const s of drop) {
    const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}', target: `lxc/${t.vmid}`, reason: `keep the last ${KEEP_PRE_UPDATE_SNAPSHOTS} pre-update snapshots`, what: `delete snapshot ${s.name} of guest ${t.vmid}` }, () =>
      ctx.pve.deleteSnapshot(t.node, t.vmid, s.name),
    )
    await waitTask(ctx, t.node, upid, `delete snapshot ${s.name} of guest ${t.vmid}`)
  }
  return drop.map((s) => s.name)
}

/**
 * Takes the guest back to `pending.point` and starts it: a clean shutdown, then a snapshot
 * rollback with `start=1`, or a restore with force from the pre-update backup (features and
 * marker re-applied, then start); then `compose up -d` of the project the guest has again. The
 * guest keeps its vmid either way.
 */
export async function rollBack(ctx: ControllerContext, app: AppManifest, t: UpdateTarget, pending: PendingUpdate & { point: RollbackPoint }): Promise<void> {
  const why = `roll back the failed update to ${pending.revision}`
  if (pending.point.kind === 'snapshot') {
    const name = pending.point.name
    if (t.running) await shutdownGuest(ctx, t, why)
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback', target: `lxc/${t.vmid}`, reason: why, what: `roll guest ${t.vmid} back to ${name}` }, () =>
      ctx.pve.rollbackSnapshot(t.node, t.vmid, name, { start: true }),
    )
    await waitTask(ctx, t.node, upid, `roll guest ${t.vmid} back to ${name}`)
  } else {
    await restoreGuestInPlace(ctx, { ...t, rootStorage: rootStorage(app, ctx.cluster.spec) }, pending.point.volid, {
      features: { nesting: 1, keyctl: 1 },
      description: desiredDescription(app, ctx.cluster.spec.owner, pending.fromSpecHash ?? ''),
      start: true,
      why,
    })
  }
  await upExistingProject(guestRef(ctx, t.key, t.vmid, t.node), app.metadata.name)
}
