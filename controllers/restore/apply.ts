/**
 * Apply for Restore: safety backup of the current state (a vzdump: a restore replaces the volumes
 * and their snapshots), restore with force keeping the vmid, marker and root-only features
 * re-applied, start, health gate. Each step is remembered as it happens (`ctx.status`), so a
 * crash or a health wait resumes; the outcome is kept keyed by the specHash, so the same spec
 * never runs twice.
 */
import type { AppManifest, RestoreManifest } from '../../src/model/types.js'
import type { ControllerContext, Result } from '../../src/runtime/controller.js'
import { StalledError } from '../../src/runtime/errors.js'
import { DEFAULT_HEALTH_TIMEOUT_MS, formatDuration, HEALTH_REQUEUE_MS } from '../app/apply.js'
import { desiredDescription, rootStorage } from '../app/desired.js'
import { upExistingProject } from '../app/docker.js'
import { probeHealth } from '../app/health.js'
import { appKey } from '../app/observe.js'
import { imagesOf } from '../app/safe-update.js'
import { backupGuest, restoreGuestInPlace } from '../lxc/backup.js'
import { guestRef } from '../lxc/index.js'
import { read } from '../shared/call.js'
import { whileRestoring } from './in-progress.js'
import { withOutcome, type RestoreExtra, type RestoreInFlight, type RestoreOutcome } from './memory.js'
import { restoreKey, type RestoreAction, type RestoreStep } from './observe.js'

/** Applies a Restore's single action. */
export async function applyRestore(ctx: ControllerContext, r: RestoreManifest, actions: RestoreAction[]): Promise<Result> {
  const d = actions[0]?.detail
  if (!d) throw new Error(`the plan of Restore ${r.metadata.name} has no action`)
  const extra = { ...((ctx.store.getStatus(restoreKey(r.metadata.name))?.extra ?? {}) as RestoreExtra) }
  if (d.step === 'done') return reportDone(r, d.outcome)
  if (ctx.dryRun) return { ready: false, reason: 'DryRun', message: 'dry run: nothing applied' }
  const app = ctx.set.apps.find((a) => a.metadata.name === r.spec.app)
  switch (d.step) {
    case 'refuse':
      return end(ctx, r, extra, { result: 'Refused', reason: d.reason, message: d.message, ...(d.volid ? { volid: d.volid } : {}), at: ctx.now() })
    case 'restore':
      return whileRestoring(r.spec.app, () => restore(ctx, r, app as AppManifest, extra, d))
    case 'await-health':
      return gate(ctx, r, app as AppManifest, extra, d.vmid, d.node, d.inFlight)
  }
}

function reportDone(r: RestoreManifest, o: RestoreOutcome): Result {
  if (o.result !== 'Succeeded') throw new StalledError(o.reason, `${o.message} (Restore ${r.metadata.name} ran once; change its spec to run it again)`)
  return { ready: true, reason: 'Succeeded', message: o.message }
}

/** Records the outcome (keyed by specHash), clears the run in flight; a failure stalls. */
function end(ctx: ControllerContext, r: RestoreManifest, extra: RestoreExtra, o: RestoreOutcome): Result {
  ctx.status.remember({ outcomes: withOutcome(extra.outcomes, r.specHash, o), inFlight: undefined })
  ctx.status.condition({ type: 'Restored', status: o.result === 'Succeeded' ? 'True' : 'False', reason: o.reason, message: o.message })
  if (o.result !== 'Succeeded') throw new StalledError(o.reason, o.message)
  return { ready: true, reason: 'Succeeded', message: o.message, changed: [o.message] }
}

async function restore(ctx: ControllerContext, r: RestoreManifest, app: AppManifest, extra: RestoreExtra, d: Extract<RestoreStep, { step: 'restore' }>): Promise<Result> {
  const key = restoreKey(r.metadata.name)
  const t = { key, vmid: d.vmid, node: d.node }
  ctx.status.inventory({ app: app.metadata.name, vmid: d.vmid, node: d.node, backup: d.volid, ...(d.revision ? { revision: d.revision } : {}) })
  let run: RestoreInFlight = d.resume ?? { specHash: r.specHash, volid: d.volid, ...(d.revision ? { revision: d.revision } : {}), phase: 'backing-up' }
  ctx.status.remember({ inFlight: run })
  // 1. The safety copy of what runs now (once per run, also across a crash).
  if (!run.safetyBackup) {
    ctx.progress(key, 'backing-up')
    const revision = ctx.store.getStatus(appKey(app.metadata.name))?.lastAppliedRevision
    const taken = await backupGuest(
      ctx,
      { ...t, running: d.running },
      ctx.cluster.spec.defaults.backupStorage,
      { owner: ctx.cluster.spec.owner, app: app.metadata.name, ...(revision ? { revision } : {}), images: imagesOf(app), vmid: d.vmid, trigger: 'pre-restore' },
      `safety backup before restoring ${d.volid}`,
    )
    run = { ...run, safetyBackup: taken.volid }
    ctx.status.remember({ inFlight: run })
  }
  // 2. Restore over the guest (vmid kept), marker and features back, start.
  ctx.progress(key, 'restoring', d.volid)
  const status = await read(`read status of guest ${d.vmid}`, () => ctx.pve.lxcStatus(d.node, d.vmid), ctx)
  await restoreGuestInPlace(ctx, { ...t, running: status.status === 'running', rootStorage: rootStorage(app, ctx.cluster.spec) }, d.volid, {
    features: { nesting: 1, keyctl: 1 },
    description: desiredDescription(app, ctx.cluster.spec.owner, d.markerSpecHash),
    start: app.spec.state === 'running',
    why: `restore ${key}`,
  })
  if (app.spec.state === 'running') await upExistingProject(guestRef(ctx, key, d.vmid, d.node), app.metadata.name)
  run = { ...run, phase: 'restored', restoredAt: ctx.now() }
  ctx.status.remember({ inFlight: run })
  return gate(ctx, r, app, extra, d.vmid, d.node, run)
}

/** The health gate after a restore: Succeeded when healthy, Failed after the app's health timeout. */
async function gate(ctx: ControllerContext, r: RestoreManifest, app: AppManifest, extra: RestoreExtra, vmid: number, node: string, run: RestoreInFlight): Promise<Result> {
  const key = restoreKey(r.metadata.name)
  const from = `${run.volid}${run.revision ? ` (revision ${run.revision})` : ''}`
  const base = { volid: run.volid, ...(run.revision ? { revision: run.revision } : {}), ...(run.safetyBackup ? { safetyBackup: run.safetyBackup } : {}) }
  if (app.spec.state !== 'running') return end(ctx, r, extra, { result: 'Succeeded', reason: 'Restored', message: `App ${app.metadata.name} restored in place from ${from} (guest ${vmid}, stopped as declared)`, ...base, at: ctx.now() })
  ctx.progress(key, 'waiting-health')
  const probe = await probeHealth(guestRef(ctx, key, vmid, node), app)
  if (probe.healthy) {
    return end(ctx, r, extra, { result: 'Succeeded', reason: 'Restored', message: `App ${app.metadata.name} restored in place from ${from}; guest ${vmid} is running and healthy`, ...base, at: ctx.now() })
  }
  const timeout = app.spec.health?.timeout ?? DEFAULT_HEALTH_TIMEOUT_MS
  if (ctx.now() - (run.restoredAt ?? ctx.now()) >= timeout) {
    const back = run.safetyBackup ? `; the state before is in ${run.safetyBackup}` : ''
    return end(ctx, r, extra, { result: 'Failed', reason: 'HealthCheckFailed', message: `App ${app.metadata.name} restored from ${from} is not healthy ${formatDuration(timeout)} later: ${probe.detail}${back}`, ...base, at: ctx.now() })
  }
  return { ready: false, reason: 'Progressing', message: `restored from ${from}; waiting for health: ${probe.detail}`, requeueAfterMs: HEALTH_REQUEUE_MS }
}
