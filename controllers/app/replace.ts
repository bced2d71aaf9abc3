/**
 * Replacing an App's guest (issue 9): a template, root-disk storage or `unprivileged` change only a
 * new guest can make. Ordered steps, each idempotent, with the progress kept in a replacement
 * record (`extra.replacing`) that is written to the store at once (not only at the end of the
 * attempt), so a re-run after a crash or kill -9 finishes or undoes it:
 *
 * 1. `prepare`: a vzdump of the old guest (the safety copy); the generated secrets of its `.env`
 *    are remembered; the new guest is created (new vmid, same node, stopped, our marker with an
 *    empty specHash, no mount points) next to the old one; the old guest is shut down, its
 *    snapshots deleted (Proxmox refuses to move a volume a snapshot uses; the backup covers them),
 *    and each `volumes` mount point is reassigned to the new guest (`move_volume` with
 *    `target-vmid`): the data stays where it is; the new guest starts and the app is deployed.
 * 2. `deploy`: the health gate on the new guest (requeued while pending, as for a create).
 * 3. Healthy: the new guest's marker gets the spec's hash and the inventory points at it; the
 *    record moves to `cleanup`, then the old guest is destroyed only while it still carries our
 *    marker (never a guest that is no longer ours), and the record is cleared.
 * 4. Anything failing before step 3 (a Proxmox error, a failed task, a health timeout, the spec
 *    changing mid-way) moves the record to `undo`: the new guest is stopped, the volumes go back
 *    to the old guest, the new guest is destroyed, the old one started again with its project up.
 *    The failed spec is remembered as rolled back (UpdateRolledBack) and not retried until the
 *    spec changes; the old guest never stopped being the app's inventory.
 *
 * Which guest is the app while two carry its marker: the one the inventory names (the old one
 * until step 3, the new one after); the record names the other one and what is left to do.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext, Result } from '../../src/runtime/controller.js'
import { TransientError } from '../../src/runtime/errors.js'
import { audited, read, waitTask } from '../shared/call.js'
import { backupGuest } from '../lxc/backup.js'
import { createGuest, deleteSnapshots, destroyOwnGuest, guestRef, isOwnGuest, mountPointKeys, moveMountPoints, setFeatures, shutdownGuest, startGuest, type GuestRef } from '../lxc/index.js'
import { parseMarker } from '../../src/model/marker.js'
import { appIdentity, appLan, createParams, desiredDescription, desiredGuest } from './desired.js'
import { readExistingEnv, upExistingProject } from './docker.js'
import { probeHealth } from './health.js'
import type { AppStatusExtra } from './observation.js'
import { imagesOf } from './safe-update.js'

/** A replacement in flight (controller memory, persisted at every step). */
export interface Replacement {
  /** The spec being rolled out by this replacement. */
  specHash: string
  revision: string
  /** The guest being replaced; it stays until the new one is healthy. */
  from: { vmid: number; node: string; running: boolean }
  /** The new guest, once created (`template`: the volid it was made from). */
  to?: { vmid: number; node: string; template?: string }
  /** The safety backup of the old guest. */
  backup?: string
  /** Mount point keys handed (or to hand) to the new guest. */
  volumes: string[]
  phase: 'prepare' | 'deploy' | 'cleanup' | 'undo'
  /** ms epoch */
  startedAt: number
  deployStartedAt?: number
  /** Why the replacement is being undone. */
  reason?: string
}

/** What apply lends the replacement (its run memory and its deploy/finish steps). */
export interface ReplaceHooks {
  ctx: ControllerContext
  app: AppManifest
  key: string
  extra(): AppStatusExtra
  remember(patch: Partial<AppStatusExtra>): void
  /** Makes vmid/node the app's guest for the rest of the run (inventory, messages). */
  moveTo(vmid: number, node: string): void
  /** Installs docker, pushes compose and .env into `g` and runs `up`; records the deploy. */
  deploy(g: GuestRef): Promise<void>
  /** The Ready result for the run's guest (marker already written). */
  ready(done: string[]): Promise<Result>
  /** Health timeout of a deploy. */
  healthTimeoutMs: number
}

const REPLACE_REQUEUE_MS = 2_000

/** What plan says about a replacement. */
export const REPLACE_NOTE = 'replace (backup first, volumes moved)'

/** Persists the record now (a crash after this must see it) and in the run's memory. */
async function save(h: ReplaceHooks, r: Replacement | undefined): Promise<void> {
  h.remember({ replacing: r })
  const st = h.ctx.store.getStatus(h.key)
  if (st) {
    h.ctx.store.putStatus({ ...st, extra: { ...st.extra, replacing: r } })
    await h.ctx.store.flush()
  }
}

/**
 * Runs (or resumes) the replacement of the app's guest `from`. Returns the attempt's result;
 * throws only when even the undo could not finish (the record stays and the next run resumes it).
 */
export async function replaceGuest(h: ReplaceHooks, from: { vmid: number; node: string; running: boolean }): Promise<Result> {
  const { ctx, app } = h
  let r = h.extra().replacing
  if (r && r.specHash !== app.specHash && r.phase !== 'cleanup' && r.phase !== 'undo') r = { ...r, phase: 'undo', reason: 'the spec changed before the replacement finished' }
  if (!r) r = { specHash: app.specHash, revision: ctx.revision, from, volumes: [], phase: 'prepare', startedAt: ctx.now() }
  await save(h, r)
  const done: string[] = []
  if (r.phase === 'prepare' || r.phase === 'deploy') {
    let switchNow = false
    try {
      if (r.phase === 'prepare') r = await prepare(h, r, done)
      if (app.spec.state === 'stopped') switchNow = true
      else {
        const g = guestRef(ctx, h.key, r.to!.vmid, r.to!.node)
        ctx.progress(h.key, 'waiting-health', `new guest ${r.to!.vmid}`)
        const probe = await probeHealth(g, app)
        if (probe.healthy) switchNow = true
        else if (ctx.now() - (r.deployStartedAt ?? ctx.now()) < h.healthTimeoutMs) {
          return { ready: false, reason: 'Progressing', message: `replacing guest ${r.from.vmid} by ${r.to!.vmid}: waiting for health: ${probe.detail}`, requeueAfterMs: REPLACE_REQUEUE_MS, inventory: { vmid: r.from.vmid, node: r.from.node }, changed: done, extra: { ...h.extra() } }
        } else r = { ...r, phase: 'undo', reason: `the new guest ${r.to!.vmid} is not healthy: ${probe.detail}` }
      }
    } catch (err) {
      // The record as last saved (prepare saves every step it finished).
      r = { ...(h.extra().replacing ?? r), phase: 'undo', reason: (err as Error).message }
    }
    // Healthy: from here on nothing is undone; a failure leaves the record for the next attempt.
    if (switchNow) return switchOver(h, r, done)
    await save(h, r)
  }
  if (r.phase === 'cleanup') return cleanup(h, r, done)
  return undo(h, r, done)
}

async function prepare(h: ReplaceHooks, r: Replacement, done: string[]): Promise<Replacement> {
  const { ctx, app, key } = h
  const { vmid: old, node } = r.from
  ctx.progress(key, 'updating', `replacing guest ${old}`)
  // 1. The safety copy.
  if (!r.backup) {
    const taken = await backupGuest(ctx, { key, vmid: old, node, running: r.from.running }, ctx.cluster.spec.defaults.backupStorage, { owner: ctx.cluster.spec.owner, app: app.metadata.name, revision: h.extra().appliedSpecHash, images: imagesOf(app), vmid: old, trigger: 'pre-update' }, 'backup before replacing the guest')
    r = { ...r, backup: taken.volid }
    await save(h, r)
    done.push(`took backup ${taken.volid}`)
  }
  // 2. Generated secrets live in the old guest's .env: keep them (a new password would lock the app out of its data).
  const generated = Object.keys(app.spec.secrets).filter((n) => 'generate' in app.spec.secrets[n])
  if (generated.length > 0 && ctx.secrets.remember && (await isRunning(ctx, node, old))) {
    const env = await readExistingEnv(guestRef(ctx, key, old, node), app.metadata.name)
    for (const n of generated) if (env[n]) await ctx.secrets.remember(key, n, env[n])
  }
  // 3. The new guest, next to the old one (move_volume needs both on one node).
  if (!r.to) {
    const desired = desiredGuest(app, ctx.cluster.spec, { markerSpecHash: '', lan: appLan(app, ctx.set, ctx.cluster.spec.owner) })
    const params = createParams(desired)
    for (const k of mountPointKeys(params)) delete params[k]
    const pending = ctx.store.getPendingCreate(key)
    const created = await createGuest(ctx, { id: appIdentity(app.metadata.name), where: { node }, templateSpec: (app.spec.template ?? ctx.cluster.spec.defaults.template), params, ...(pending && pending.vmid !== old ? { pendingVmid: pending.vmid } : {}) })
    r = { ...r, to: { vmid: created.vmid, node: created.node, template: created.template } }
    await save(h, r)
    done.push(`created guest ${created.vmid} on ${created.node}`)
  }
  const to = r.to!
  const ng = guestRef(ctx, key, to.vmid, to.node)
  await setFeatures(ng, { nesting: 1, keyctl: 1 })
  // 4. The old guest stops; its volumes go to the new one.
  if (await isRunning(ctx, node, old)) {
    await shutdownGuest(ctx, { key, vmid: old, node }, 'replace the guest')
    done.push(`stopped guest ${old}`)
  }
  const oldCfg = await read(`read config of guest ${old}`, () => ctx.pve.lxcConfig(node, old), ctx)
  const volumes = [...new Set([...r.volumes, ...mountPointKeys(oldCfg)])]
  if (volumes.length !== r.volumes.length) {
    r = { ...r, volumes }
    await save(h, r)
  }
  if (mountPointKeys(oldCfg).length > 0) {
    const dropped = await deleteSnapshots(ctx, node, old, 'volumes cannot move while a snapshot uses them (the backup was taken)')
    if (dropped.length > 0) done.push(`deleted snapshots ${dropped.join(', ')} of guest ${old}`)
  }
  const moved = await moveMountPoints(ctx, node, old, to.vmid, volumes, `replace guest ${old} by ${to.vmid}`)
  if (moved.length > 0) done.push(`moved ${moved.join(', ')} to guest ${to.vmid}`)
  if (app.spec.state === 'stopped') return r
  // 5. Start and deploy on the new guest.
  if (!(await isRunning(ctx, to.node, to.vmid))) await startGuest(ctx, { key, vmid: to.vmid, node: to.node }, 'replace the guest')
  await h.deploy(ng)
  done.push(`deployed compose project on guest ${to.vmid}`)
  r = { ...r, phase: 'deploy', deployStartedAt: ctx.now() }
  await save(h, r)
  return r
}

/** The new guest is healthy (or the app is stopped): it becomes the app's guest, then the old one goes. */
async function switchOver(h: ReplaceHooks, r: Replacement, done: string[]): Promise<Result> {
  const { ctx, app } = h
  const to = r.to!
  const cfg = await read(`read config of guest ${to.vmid}`, () => ctx.pve.lxcConfig(to.node, to.vmid), ctx)
  await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${to.vmid}`, reason: 'marker', what: `write the marker of guest ${to.vmid}` }, () =>
    ctx.pve.updateLxcConfig(to.node, to.vmid, { description: desiredDescription(app, ctx.cluster.spec.owner, app.specHash), digest: cfg.digest }),
  )
  h.moveTo(to.vmid, to.node)
  ctx.status.inventory({ vmid: to.vmid, node: to.node })
  // What the new guest was made from counts from now on (not before: an undo keeps the old facts).
  h.remember({ appliedSpecHash: app.specHash, healthy: app.spec.state === 'running' ? true : h.extra().healthy, lastDeepCheckAt: ctx.now(), templateSpec: (app.spec.template ?? ctx.cluster.spec.defaults.template), ...(to.template ? { template: to.template } : {}) })
  const next: Replacement = { ...r, phase: 'cleanup' }
  await save(h, next)
  // The inventory must survive a crash from here on too.
  const st = ctx.store.getStatus(h.key)
  if (st) {
    ctx.store.putStatus({ ...st, inventory: { ...st.inventory, vmid: to.vmid, node: to.node }, extra: { ...st.extra, appliedSpecHash: app.specHash } })
    await ctx.store.flush()
  }
  return cleanup(h, next, done)
}

async function cleanup(h: ReplaceHooks, r: Replacement, done: string[]): Promise<Result> {
  const { ctx, app } = h
  const id = appIdentity(app.metadata.name)
  if (r.to) h.moveTo(r.to.vmid, r.to.node)
  const outcome = await destroyOwnGuest(ctx, (d) => id.owns(parseMarker(d), ctx.cluster.spec.owner), r.from.node, r.from.vmid, `replaced by guest ${r.to?.vmid}`)
  if (outcome === 'deleted') done.push(`destroyed the old guest ${r.from.vmid}`)
  if (outcome === 'not-owned') done.push(`left guest ${r.from.vmid} untouched: it no longer carries our marker`)
  await ctx.store.clearPendingCreate(h.key)
  if (h.extra().rolledBack) {
    ctx.status.condition({ type: 'UpdateRolledBack', status: 'False', reason: 'Replaced', message: `guest ${r.from.vmid} was replaced by ${r.to?.vmid} and the app is healthy` })
    h.remember({ rolledBack: undefined })
  }
  await save(h, undefined)
  done.unshift(`replaced guest ${r.from.vmid} by ${r.to?.vmid} (backup ${r.backup ?? 'none'})`)
  return h.ready(done)
}

/** Back to the old guest: volumes returned, new guest destroyed, old guest started. */
async function undo(h: ReplaceHooks, r: Replacement, done: string[]): Promise<Result> {
  const { ctx, app, key } = h
  const { vmid: old, node } = r.from
  const id = appIdentity(app.metadata.name)
  ctx.progress(key, 'updating', `undoing the replacement of guest ${old}`)
  h.moveTo(old, node)
  try {
    const to = r.to ?? pendingNew(ctx, key, old, node)
    // Only a guest carrying our marker is touched: a create that failed left none (Proxmox rolled
    // it back), and a vmid someone else took since is theirs, volumes included.
    if (to && (await isOwnGuest(ctx, id, to.node, to.vmid))) {
      if (await isRunning(ctx, to.node, to.vmid)) {
        const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/stop', target: `lxc/${to.vmid}`, reason: 'undo a failed replacement', what: `stop guest ${to.vmid}` }, () => ctx.pve.stopLxc(to.node, to.vmid))
        await waitTask(ctx, to.node, upid, `stop guest ${to.vmid}`)
      }
      const back = await moveMountPoints(ctx, node, to.vmid, old, r.volumes, `undo the replacement of guest ${old}`)
      if (back.length > 0) done.push(`moved ${back.join(', ')} back to guest ${old}`)
      const gone = await destroyOwnGuest(ctx, (d) => id.owns(parseMarker(d), ctx.cluster.spec.owner), to.node, to.vmid, `undo the replacement of guest ${old}`)
      if (gone === 'deleted') done.push(`destroyed the new guest ${to.vmid}`)
    }
    if (r.from.running && !(await isRunning(ctx, node, old))) {
      await startGuest(ctx, { key, vmid: old, node }, 'undo a failed replacement')
      done.push(`started guest ${old} again`)
      await upExistingProject(guestRef(ctx, key, old, node), app.metadata.name)
    }
  } catch (err) {
    // The record stays in `undo`: the next attempt resumes here (never a guest left stopped silently).
    throw new TransientError(`cannot undo the replacement of guest ${old} of App ${app.metadata.name} yet: ${(err as Error).message}; retrying`, { cause: err })
  }
  await ctx.store.clearPendingCreate(key)
  const reason = r.reason ?? 'the replacement did not finish'
  const spec = r.specHash === app.specHash
  if (spec) h.remember({ rolledBack: { specHash: r.specHash, revision: r.revision, reason, at: ctx.now() }, healthy: r.from.running ? false : h.extra().healthy })
  const message = `the replacement of guest ${old} of App ${app.metadata.name} was undone (${reason}); the app runs on guest ${old} again with its volumes${r.backup ? `; backup ${r.backup} was taken first` : ''}${spec ? '; it is not retried until the spec changes' : ''}`
  ctx.status.condition({ type: 'UpdateRolledBack', status: 'True', reason: 'ReplaceFailed', message })
  await save(h, undefined)
  return { ready: false, reason: 'ReplaceFailed', message, inventory: { vmid: old, node }, changed: done, extra: { ...h.extra() }, requeueAfterMs: REPLACE_REQUEUE_MS }
}

/** The vmid of a create interrupted before the record named it (a crash between POST and save). */
function pendingNew(ctx: ControllerContext, key: string, old: number, node: string): { vmid: number; node: string } | undefined {
  const p = ctx.store.getPendingCreate(key)
  return p && p.vmid !== old && p.node === node ? { vmid: p.vmid, node: p.node } : undefined
}

async function isRunning(ctx: ControllerContext, node: string, vmid: number): Promise<boolean> {
  return (await read(`read status of guest ${vmid}`, () => ctx.pve.lxcStatus(node, vmid), ctx)).status === 'running'
}
