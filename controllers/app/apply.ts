/**
 * Apply for App: executes the plan's single action step by step (create → features → start →
 * docker → deploy → health → marker), idempotently. The marker with the new specHash is written
 * LAST, so a crash anywhere before re-runs the remaining steps on the next reconcile. What the
 * steps learn (inventory, template, deploy hash, health) is recorded through `ctx.status` as it
 * happens, so it is kept whatever the attempt ends with.
 */
import type { AppManifest } from '../../src/model/types.js'
import { parseVolume } from '../../src/plan/normalize.js'
import { parsePropertyString, formatPropertyString } from '../../src/plan/property-string.js'
import type { ControllerContext, Inventory, Result } from '../../src/runtime/controller.js'
import { StalledError, WaitingError } from '../../src/runtime/errors.js'
import { audited, read, waitTask } from '../shared/call.js'
import { addHaResource, createGuest, guestRef, haStateFor, haTarget, rebootGuest, removeHaResource, setFeatures, setHaState, shutdownGuest, startGuest, type GuestRef } from '../lxc/index.js'
import { addressPatch, type AddressLookup } from './address.js'
import { appIdentity, appLan, createParams, desiredDescription, desiredGuest } from './desired.js'
import { deployProject, ensureDocker, readExistingEnv } from './docker.js'
import { HA_KEY } from './ha.js'
import { probeHealth } from './health.js'
import type { AppStatusExtra } from './observation.js'
import { storedExtra } from './observe.js'
import { deploySummaryOf, type AppAction, type AppDetail } from './plan.js'
import { refusalError } from './refusals.js'
import { replaceGuest, type ReplaceHooks } from './replace.js'
import { prunePreUpdateSnapshots, rollBack, takeRollbackPoint, type PendingUpdate, type RollbackPoint, type RolledBackUpdate } from './safe-update.js'

/** Requeue delay while waiting for health. */
export const HEALTH_REQUEUE_MS = 2_000
/** Default health timeout when the manifest has no `health`. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 300_000
/** The App's domain condition for its health gate. */
export const HEALTHY = 'Healthy'
/** The App's domain condition for an update that was rolled back. */
export const UPDATE_ROLLED_BACK = 'UpdateRolledBack'

interface Run {
  ctx: ControllerContext
  app: AppManifest
  key: string
  extra: AppStatusExtra
  vmid: number
  node: string
  /** When the guest may be asked for its address (address.ts); `always` unless a pass says otherwise. */
  lookup?: AddressLookup
}

const inventory = (r: Run): Inventory => ({ vmid: r.vmid, node: r.node })

/** Merges `patch` into the run's memory and records it at once (kept on every exit path). */
function remember(run: Run, patch: Partial<AppStatusExtra>): void {
  run.extra = { ...run.extra, ...patch }
  run.ctx.status.remember(patch)
}

type Acting = Exclude<AppDetail, { step: 'suspended' | 'wait' }>

/** Applies the App's action (one per App). See the module comment for the order. */
export async function applyApp(ctx: ControllerContext, app: AppManifest, actions: AppAction[]): Promise<Result> {
  const a = actions[0]
  const d = a?.detail
  if (!a || !d) throw new Error(`the plan of App ${app.metadata.name} has no action`)
  if (a.wait) throw new WaitingError(a.wait.reason, a.wait.message, a.wait.requeueAfterMs)
  const extra: AppStatusExtra = { ...storedExtra(ctx, app.metadata.name), deletionPolicy: app.spec.deletionPolicy }
  switch (d.step) {
    case 'wait':
      throw new Error(`the plan of App ${app.metadata.name} waits without saying why`)
    case 'suspended':
      return { ready: extra.appliedSpecHash === app.specHash, reason: 'Suspended', message: 'reconciliation is suspended (spec.suspend)', extra: { ...extra } }
  }
  if (ctx.dryRun) return { ready: false, reason: 'DryRun', message: 'dry run: nothing applied' }
  ctx.status.remember({ deletionPolicy: app.spec.deletionPolicy })
  return act(ctx, app, a, d, extra)
}

async function act(ctx: ControllerContext, app: AppManifest, a: AppAction, d: Acting, extra: AppStatusExtra): Promise<Result> {
  const key = appIdentity(app.metadata.name).key
  switch (d.step) {
    case 'await-create':
      return { ready: false, reason: 'Progressing', message: `guest ${d.guest.vmid} is being created`, requeueAfterMs: HEALTH_REQUEUE_MS, inventory: { vmid: d.guest.vmid, node: d.guest.node }, extra }
    case 'replace': {
      const refused = refusalError(app, a.changes)
      if (refused) throw refused
      const run = runOn(ctx, app, key, extra, d)
      // A replacement plan recovered from the guests themselves (state dir lost) becomes the record.
      if (d.resume && !run.extra.replacing) run.extra = { ...run.extra, replacing: d.resume }
      return replaceGuest(replaceHooks(run, d.deployHash), { vmid: d.guest.vmid, node: d.guest.node, running: d.running })
    }
    case 'create': {
      const refused = refusalError(app, a.changes)
      if (refused) throw refused
      ctx.progress(key, 'queued')
      const created = await createGuest(ctx, {
        id: appIdentity(app.metadata.name),
        where: { node: app.spec.node, placement: app.spec.placement },
        templateSpec: d.templateSpec,
        params: createParams(desiredGuest(app, ctx.cluster.spec, { markerSpecHash: '', lan: appLan(app, ctx.set, ctx.cluster.spec.owner) })),
        pendingVmid: d.pendingVmid,
      })
      const run: Run = { ctx, app, key, extra, vmid: created.vmid, node: created.node }
      ctx.status.inventory(inventory(run))
      remember(run, { templateSpec: d.templateSpec, template: created.template })
      const g = guestRef(ctx, key, run.vmid, run.node)
      await setFeatures(g, { nesting: 1, keyctl: 1 })
      const done = [`created guest ${run.vmid} on ${run.node}`]
      // HA before the start: an HA-managed start is a request to the HA stack, which then keeps it running.
      if (app.spec.ha.enabled) done.push(await enableHa(run))
      if (app.spec.state === 'stopped') return finish(run, done)
      await startGuest(ctx, run)
      return deployAndCheck(run, g, d.deployHash, done)
    }
    case 'in-sync': {
      const run = runOn(ctx, app, key, extra, d)
      await ctx.store.clearPendingCreate(key)
      if (d.checkedAt !== undefined) run.extra = { ...run.extra, lastDeepCheckAt: d.checkedAt }
      // A steady pass never asks the guest; a deep check (config read anyway) asks when unknown.
      run.lookup = d.checkedAt !== undefined ? 'if-unknown' : 'never'
      return ready(run, [])
    }
    case 'write-marker':
      return finish(runOn(ctx, app, key, extra, d), [])
    case 'check-health': {
      const run = runOn(ctx, app, key, extra, d)
      return checkHealth(run, guestRef(ctx, key, run.vmid, run.node), d.deployStartedAt ?? ctx.now(), [])
    }
    case 'update': {
      const run = runOn(ctx, app, key, extra, d)
      return update(run, guestRef(ctx, key, run.vmid, run.node), a, d)
    }
    case 'rolled-back': {
      const run = runOn(ctx, app, key, extra, d)
      return afterRollback(run, guestRef(ctx, key, run.vmid, run.node), [])
    }
  }
}

/** What the replacement (replace.ts) borrows from this run. */
function replaceHooks(run: Run, deployHash: string): ReplaceHooks {
  const { ctx, app } = run
  return {
    ctx,
    app,
    key: run.key,
    extra: () => run.extra,
    remember: (patch) => remember(run, patch),
    moveTo(vmid, node) {
      run.vmid = vmid
      run.node = node
    },
    async deploy(g) {
      await ensureDocker(g)
      const env = await buildEnv(run, g)
      await deployProject(g, app, env)
      remember(run, { deployHash, deployed: deploySummaryOf(app, (v) => ctx.secrets.digest(v)), deployStartedAt: ctx.now(), healthy: false })
    },
    ready: (done) => ready(run, done),
    healthTimeoutMs: app.spec.update.healthTimeout,
  }
}

/** The run of an existing guest; fills in the template setting for guests created before it was kept. */
function runOn(ctx: ControllerContext, app: AppManifest, key: string, extra: AppStatusExtra, d: Acting & { guest: { vmid: number; node: string } }): Run {
  const run: Run = { ctx, app, key, extra, vmid: d.guest.vmid, node: d.guest.node }
  if (run.extra.templateSpec === undefined) run.extra.templateSpec = d.templateSpec
  return run
}

async function update(run: Run, g: GuestRef, a: AppAction, d: Extract<Acting, { step: 'update' }>): Promise<Result> {
  const { ctx, app, vmid, node } = run
  const changes = a.changes
  const seen = d.guest
  // Whatever plan marked refused is refused here, before anything changes (refusals.ts).
  const refused = refusalError(app, changes)
  if (refused) throw refused
  ctx.progress(run.key, 'updating')
  const done: string[] = []
  // 0. A rollback point before anything changes (snapshot or vzdump, per update.strategy).
  if (d.protect) {
    const pending = await takeRollbackPoint(ctx, app, { key: run.key, vmid, node, running: seen.status === 'running' }, { specHash: run.extra.appliedSpecHash, deployHash: run.extra.deployHash }, run.extra.pendingUpdate)
    remember(run, { pendingUpdate: pending })
    if (pending.point) done.push(pending.point.kind === 'snapshot' ? `took snapshot ${pending.point.name}` : `took backup ${pending.point.volid}`)
  }
  const desired = desiredGuest(app, ctx.cluster.spec, { markerSpecHash: seen.markerSpecHash, lan: appLan(app, ctx.set, ctx.cluster.spec.owner) })
  const config = desired.config
  let running = seen.status === 'running'

  // 1. Config values (live or pending) in one PUT, with the digest we planned against.
  const params: Record<string, string | number> = {}
  let needsRestart = false
  let featuresChanged = false
  for (const c of changes) {
    if (!c.key || c.key === 'state' || c.key === HA_KEY || c.key === 'description' || c.key === 'ostemplate' || c.path === 'deploy') continue
    if (c.key === 'features') {
      featuresChanged = true
      continue
    }
    if (c.key === 'rootfs' || /^mp\d+$/.test(c.key)) {
      if (c.path.endsWith('.size') || c.path === 'resources.disk') continue
      if (c.before === undefined) params[c.key] = config[c.key]
      else params[c.key] = remount(String(config[c.key]), seen.volumes[c.key])
    } else params[c.key] = config[c.key]
    if (c.impact === 'restart') needsRestart = true
  }
  const stateChange = changes.find((c) => c.key === 'state')
  const growth = changes.some((c) => (c.key === 'rootfs' || /^mp\d+$/.test(c.key ?? '')) && (c.path.endsWith('.size') || c.path === 'resources.disk'))
  const deployNext = app.spec.state === 'running' && (d.deploy || stateChange?.after === 'running')
  // Nothing follows the PUT: write the new marker in the same call (one request per change).
  const haChange = changes.find((c) => c.key === HA_KEY)
  const markerInPut = Object.keys(params).length > 0 && !needsRestart && !featuresChanged && !growth && !stateChange && !deployNext && !haChange
  if (markerInPut || changes.some((c) => c.key === 'description')) params.description = desiredDescription(app, ctx.cluster.spec.owner, markerInPut ? app.specHash : seen.markerSpecHash)
  if (Object.keys(params).length > 0) {
    await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${vmid}`, reason: Object.keys(params).sort().join(','), what: `update guest ${vmid} of App ${app.metadata.name}` }, () =>
      ctx.pve.updateLxcConfig(node, vmid, seen.digest ? { ...params, digest: seen.digest } : params),
    )
    done.push(`updated ${Object.keys(params).filter((k) => k !== 'description' || !markerInPut).sort().join(', ')}`)
    if (markerInPut) {
      await ctx.store.clearPendingCreate(run.key)
      run.extra = { ...run.extra, appliedSpecHash: app.specHash, healthy: app.spec.state === 'running' ? true : run.extra.healthy, lastDeepCheckAt: ctx.now() }
      return ready(run, done)
    }
  }
  // 2. Features (keyctl needs root@pam: over SSH).
  if (featuresChanged) {
    const f = parsePropertyString(config.features)
    await setFeatures(g, Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Number(v)])))
    needsRestart = true
    done.push('updated features')
  }
  // 3. Disk growth.
  for (const c of changes) {
    if (!(c.key === 'rootfs' || /^mp\d+$/.test(c.key ?? '')) || !(c.path.endsWith('.size') || c.path === 'resources.disk')) continue
    const disk = c.key as string
    const size = `${c.after}G`
    const upid = await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/resize', target: `lxc/${vmid}`, reason: `${disk} ${c.before} -> ${c.after} GiB`, what: `grow ${disk} of guest ${vmid}` }, () => ctx.pve.resizeLxc(node, vmid, disk, size))
    await waitTask(ctx, node, upid, `grow ${disk} of guest ${vmid}`)
    done.push(`grew ${disk} to ${c.after} GiB`)
  }
  // 4. HA before the power state: a resource that stays gets the new requested state first (the
  // HA stack would otherwise undo our stop or start); one turned off goes before anything else.
  const haWanted = haStateFor(app.spec.state)
  if (seen.hastate !== undefined && app.spec.ha.enabled && haTarget(seen.hastate) !== haWanted) {
    await setHaState(ctx, haOf(run), haWanted)
    done.push(`set HA state ${haWanted}`)
  } else if (seen.hastate !== undefined && !app.spec.ha.enabled && haChange) {
    const gone = await removeHaResource(ctx, haOf(run))
    remember(run, { haCreated: undefined })
    done.push(gone === 'foreign' ? 'left the HA resource someone else added' : 'removed from HA')
  }
  // 5. Power state.
  if (stateChange?.after === 'stopped' && running) {
    await shutdownGuest(ctx, run)
    running = false
    done.push('stopped')
  } else if (stateChange?.after === 'running' && !running) {
    await startGuest(ctx, run)
    running = true
    done.push('started')
  } else if (needsRestart && running) {
    await rebootGuest(ctx, run)
    done.push('restarted')
  }
  // 6. A new HA resource once the guest is in its declared power state.
  if (seen.hastate === undefined && app.spec.ha.enabled) done.push(await enableHa(run))
  if (!running || app.spec.state !== 'running') return finish(run, done)
  if (deployNext) return deployAndCheck(run, g, d.deployHash, done)
  return finish(run, done)
}

const haOf = (run: Run): { id: ReturnType<typeof appIdentity>; vmid: number } => ({ id: appIdentity(run.app.metadata.name), vmid: run.vmid })

/** Adds the guest to HA with the state that follows spec.state; remembers whether the resource is ours. */
async function enableHa(run: Run): Promise<string> {
  const state = haStateFor(run.app.spec.state)
  const { created } = await addHaResource(run.ctx, haOf(run), state)
  remember(run, { haCreated: created })
  return `added to HA (ct:${run.vmid}, ${state})`
}

/** Existing mount point with new options: keep its stored volume, take the desired options. */
function remount(desired: string, observed: string | undefined): string {
  const want = parseVolume(desired)
  const have = parseVolume(observed)
  if (!want || !have) return desired
  return formatPropertyString({ volume: have.volume, ...want.options }, ['volume'], ['volume'])
}

async function deployAndCheck(run: Run, g: GuestRef, deployHash: string, done: string[]): Promise<Result> {
  const { ctx, app } = run
  await ensureDocker(g)
  const env = await buildEnv(run, g)
  await deployProject(g, app, env)
  const startedAt = ctx.now()
  remember(run, { deployHash, deployed: deploySummaryOf(app, (v) => ctx.secrets.digest(v)), deployStartedAt: startedAt, healthy: false })
  done.push('deployed compose project')
  return checkHealth(run, g, startedAt, done)
}

/** env values plus resolved secrets; generated secrets already in the guest's .env are kept. */
async function buildEnv(run: Run, g: GuestRef): Promise<Record<string, string>> {
  const { ctx, app, key } = run
  const env: Record<string, string> = { ...app.spec.env }
  const names = Object.keys(app.spec.secrets)
  const generated = names.filter((n) => 'generate' in app.spec.secrets[n])
  const existing = generated.length > 0 ? await readExistingEnv(g, app.metadata.name) : {}
  for (const n of names) {
    const ref = app.spec.secrets[n]
    if ('generate' in ref && existing[n] !== undefined && existing[n] !== '') {
      env[n] = existing[n]
      await ctx.secrets.remember?.(key, n, existing[n])
    } else env[n] = await ctx.secrets.resolve(key, n, ref)
  }
  return env
}

async function checkHealth(run: Run, g: GuestRef, startedAt: number, done: string[]): Promise<Result> {
  const { ctx, app } = run
  ctx.progress(run.key, 'waiting-health')
  const probe = await probeHealth(g, app)
  const pending = run.extra.pendingUpdate?.specHash === app.specHash ? run.extra.pendingUpdate : undefined
  if (probe.healthy) {
    ctx.progress(run.key, 'healthy')
    ctx.status.condition({ type: HEALTHY, status: 'True', reason: 'HealthCheckPassed', message: probe.detail })
    if (pending) await updateSucceeded(run, pending, done)
    return finish(run, done)
  }
  const timeout = pending ? app.spec.update.healthTimeout : (app.spec.health?.timeout ?? DEFAULT_HEALTH_TIMEOUT_MS)
  if (ctx.now() - startedAt >= timeout) {
    if (pending?.point && app.spec.update.rollback) return rollBackUpdate(run, g, { ...pending, point: pending.point }, `not healthy ${formatDuration(timeout)} after deploy: ${probe.detail}`, done)
    const message = `App ${app.metadata.name} is not healthy ${formatDuration(timeout)} after deploy: ${probe.detail}; check its logs with proximity logs ${app.metadata.name}, or its health settings`
    // Kept although the attempt stalls: what failed, and that this deploy is not healthy.
    ctx.status.condition({ type: HEALTHY, status: 'False', reason: 'HealthCheckFailed', message })
    remember(run, { deployStartedAt: startedAt, healthy: false })
    throw new StalledError('HealthCheckFailed', message)
  }
  remember(run, { deployStartedAt: startedAt, healthy: false })
  return { ready: false, reason: 'Progressing', message: `waiting for health: ${probe.detail}`, requeueAfterMs: HEALTH_REQUEUE_MS, inventory: inventory(run), changed: done, extra: { ...run.extra } }
}

/** A healthy update: older pre-update snapshots go, the rolled-back mark is cleared. */
async function updateSucceeded(run: Run, pending: PendingUpdate, done: string[]): Promise<void> {
  const { ctx } = run
  if (pending.point?.kind === 'snapshot') {
    const dropped = await prunePreUpdateSnapshots(ctx, run)
    if (dropped.length > 0) done.push(`deleted older pre-update snapshots ${dropped.join(', ')}`)
  }
  if (run.extra.rolledBack) ctx.status.condition({ type: UPDATE_ROLLED_BACK, status: 'False', reason: 'UpdateSucceeded', message: `update to ${pending.revision} is healthy` })
  remember(run, { pendingUpdate: undefined, rolledBack: undefined })
}

/**
 * The update is not healthy in time: back to the rollback point, start, and remember the failed
 * specHash (not retried while the spec is unchanged). Health is confirmed by afterRollback.
 */
async function rollBackUpdate(run: Run, g: GuestRef, pending: PendingUpdate & { point: RollbackPoint }, reason: string, done: string[]): Promise<Result> {
  const { ctx, app } = run
  ctx.progress(run.key, 'updating', 'rolling back')
  await rollBack(ctx, app, { key: run.key, vmid: run.vmid, node: run.node, running: true }, pending)
  const rolledBack: RolledBackUpdate = { specHash: pending.specHash, revision: pending.revision, reason, at: ctx.now() }
  const point = pending.point.kind === 'snapshot' ? `snapshot ${pending.point.name}` : `backup ${pending.point.volid}`
  ctx.status.condition({
    type: UPDATE_ROLLED_BACK,
    status: 'True',
    reason: 'HealthCheckFailed',
    message: `the update of App ${app.metadata.name} to ${pending.revision} was rolled back to ${point}: ${reason}; app data written since then was reverted; it is not retried until the spec changes`,
  })
  remember(run, { pendingUpdate: undefined, rolledBack, deployHash: pending.fromDeployHash, deployStartedAt: ctx.now(), healthy: false })
  done.push(`rolled back to ${point}`)
  return afterRollback(run, g, done)
}

/** After a rollback: confirm the previous version is healthy again; reports UpdateRolledBack (not Ready). */
async function afterRollback(run: Run, g: GuestRef, done: string[]): Promise<Result> {
  const { ctx, app } = run
  const rolled = run.extra.rolledBack
  let healthy = run.extra.healthy !== false
  if (!healthy) {
    const probe = await probeHealth(g, app)
    healthy = probe.healthy
    if (healthy) {
      ctx.status.condition({ type: HEALTHY, status: 'True', reason: 'HealthCheckPassed', message: `previous version: ${probe.detail}` })
      remember(run, { healthy: true })
    }
  }
  const message = `the update to ${rolled?.revision ?? 'this spec'} was rolled back (${rolled?.reason ?? 'not healthy'}); the previous version ${healthy ? 'runs and is healthy' : 'is starting'}; change the spec to try again`
  return { ready: false, reason: UPDATE_ROLLED_BACK, message, inventory: inventory(run), changed: done, extra: { ...run.extra }, ...(healthy ? {} : { requeueAfterMs: HEALTH_REQUEUE_MS }) }
}

/** `400ms`, `30s`, `5m`, `1h30m` — for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  const h = Math.floor(m / 60)
  return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
}

/** Writes the marker with the new specHash (LAST step), then reports Ready. */
async function finish(run: Run, done: string[]): Promise<Result> {
  const { ctx, app, vmid, node } = run
  const cfg = await read(`read config of guest ${vmid}`, () => ctx.pve.lxcConfig(node, vmid))
  const description = desiredDescription(app, ctx.cluster.spec.owner, app.specHash)
  await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${vmid}`, reason: 'marker', what: `write the marker of guest ${vmid}` }, () =>
    ctx.pve.updateLxcConfig(node, vmid, { description, digest: cfg.digest }),
  )
  await ctx.store.clearPendingCreate(run.key)
  run.extra = { ...run.extra, appliedSpecHash: app.specHash, healthy: app.spec.state === 'running' ? true : run.extra.healthy, lastDeepCheckAt: ctx.now() }
  return ready(run, done)
}

/** The Ready result, with the app's addresses (address.ts) recorded in the status extra. */
async function ready(run: Run, done: string[]): Promise<Result> {
  const stopped = run.app.spec.state === 'stopped'
  run.extra = { ...run.extra, ...(await addressPatch(run.ctx, run.app, run, run.extra, run.lookup ?? 'always')) }
  return {
    ready: true,
    reason: 'Succeeded',
    message: `guest ${run.vmid} on ${run.node} ${stopped ? 'is stopped as declared' : 'is running and healthy'}`,
    inventory: inventory(run),
    changed: done,
    extra: { ...run.extra, deletionPolicy: run.app.spec.deletionPolicy },
  }
}
