/**
 * One reconcile attempt at one key, and what a pass needs around it: the per-key context, the
 * orphan list and the deletion guard. `attempt` never throws; it writes status (./status.ts) on
 * every exit path and reports how the attempt ended so the caller can requeue.
 */
import type { ManifestSet, Manifest } from '../model/types.js'
import { RUNTIME_PHASES, type Action, type Controller, type ControllerContext, type OrphanRecord, type PassContext, type Result } from './controller.js'
import type { StateStore } from '../store/types.js'
import { classifyError, StalledError, WaitingError } from './errors.js'
import type { Clock } from './clock.js'
import type { RuntimeLogger } from './logger.js'
import { getCondition, isTrue, READY, STALLED } from './conditions.js'
import { createStatusRecorder, nextStatus, safeReason, type Attempt, type AttemptOutcome } from './status.js'
import { allManifests, findManifest, splitKey } from './keys.js'
import { checkPruneGuard, DEFAULT_DELETE_THRESHOLD } from './prune-guard.js'
import { createValueRedactor, redactErrorText, redactObjectSecrets, type ValueRedactor } from './redact-values.js'

/**
 * The redactor of `key`'s secret values (issue 7). Every message an attempt writes (status,
 * conditions, events, outcome, progress, logs) goes through it: the single point where text
 * from guests and Proxmox enters what Proximity shows and stores.
 */
async function redactorOf(ctx: Pick<ControllerContext, 'secrets'>, key: string): Promise<ValueRedactor> {
  const values = ctx.secrets?.known ? await ctx.secrets.known(key).catch(() => []) : []
  return createValueRedactor(values)
}

/**
 * What `ControllerContext.statusOf` answers for `key`: Ready and its reason from the stored
 * status, undefined when there is none. Read-only.
 */
export function readinessOf(store: Pick<StateStore, 'getStatus'>, key: string): { ready: boolean; reason?: string } | undefined {
  const s = store.getStatus(key)
  if (!s) return undefined
  const ready = getCondition(s.conditions, READY)
  return { ready: ready?.status === 'True', reason: ready?.reason }
}

/** A controller of any kind, as registered. */
export type AnyController = Controller<any, any, any, any, any>

/** What one attempt did, for the requeue decision. */
export interface AttemptReport {
  outcome: AttemptOutcome | 'skipped' | 'deleted'
  reason: string
  message: string
  result?: Result
  requeueAfterMs?: number
  /** The actions planned for a manifest (absent for deletions and skipped keys). */
  actions?: Action[]
  /** What the controller threw, for outcomes other than success (typed runtime errors or a bug). */
  error?: unknown
}

export interface Pass {
  ctx: PassContext
  orphans: Map<string, { controller: AnyController; record: OrphanRecord }>
  prune: boolean
  force: boolean
}

export interface AttempterDeps {
  registry: ReadonlyMap<string, AnyController>
  store: StateStore
  manifests: () => ManifestSet
  clock: Clock
  logger: RuntimeLogger
  /** Explicit guard limit; otherwise Cluster.spec.deleteThreshold, else DEFAULT_DELETE_THRESHOLD. */
  deleteThreshold?: number
  allowMassDelete?: boolean
}

/** The attempt machinery shared by `runOnce`, `plan` and the daemon loop. */
export interface Attempter {
  /**
   * A per-key context prototype-linked to the pass context: `audit` fills key + revision,
   * `statusOf` reads the store, `status` records into `recorder` (a fresh one when omitted).
   */
  keyContext(pass: PassContext, key: string, dryRun: boolean, recorder?: ControllerContext['status']): ControllerContext
  /** Every registered controller's orphans, by key (`prune`: the pass may finalize them). */
  collectOrphans(ctx: PassContext, prune?: boolean): Promise<Pass['orphans']>
  /** Throws MassDeleteRefusedError when pruning `orphans` against `set` is refused. */
  guard(set: ManifestSet, orphans: Pass['orphans'], ctx: PassContext, allowMassDelete?: boolean): void
  /** One attempt at `key`. Never throws. */
  attempt(key: string, pass: Pass): Promise<AttemptReport>
}

/** Creates the attempt machinery. */
export function createAttempter(deps: AttempterDeps): Attempter {
  const { registry, store, clock, logger } = deps
  const opts = { deleteThreshold: deps.deleteThreshold, allowMassDelete: deps.allowMassDelete }
  const keyContext = (pass: PassContext, key: string, dryRun: boolean, recorder?: ControllerContext['status']): ControllerContext =>
    Object.assign(Object.create(pass) as ControllerContext, {
      dryRun,
      status: recorder ?? createStatusRecorder(),
      statusOf: (k: string) => readinessOf(store, k),
      audit: (e: Parameters<ControllerContext['audit']>[0]) => store.appendAudit({ ...e, key, revision: pass.revision }),
      // issue 7: text from a guest or Proxmox loses this object's secret values.
      redact: (text: string) => redactObjectSecrets(pass.secrets, key, text),
    })

  const collectOrphans = async (ctx: PassContext, prune = false): Promise<Pass['orphans']> => {
    const out: Pass['orphans'] = new Map()
    for (const c of registry.values()) {
      if (!c.orphans) continue
      for (const record of await c.orphans(ctx, { prune })) out.set(record.key, { controller: c, record })
    }
    return out
  }

  const guard = (set: ManifestSet, orphans: Pass['orphans'], ctx: PassContext, allowMassDelete?: boolean): void => {
    const desired: Record<string, number> = {}
    for (const m of allManifests(set)) desired[m.kind] = (desired[m.kind] ?? 0) + 1
    checkPruneGuard([...orphans.values()].map((o) => o.record), desired, {
      threshold: opts.deleteThreshold ?? ctx.cluster?.spec?.deleteThreshold ?? DEFAULT_DELETE_THRESHOLD,
      allowMassDelete: allowMassDelete ?? opts.allowMassDelete,
    })
  }

  const undeclared = new Set<string>()
  /** Progress that reports phases the controller did not declare (a bug) once, and shows them anyway. */
  const declaredProgress = (controller: AnyController, pass: PassContext): ControllerContext['progress'] => {
    const known = new Set<string>([...RUNTIME_PHASES, ...controller.phases])
    return (k, phase, detail) => {
      if (!known.has(phase) && !undeclared.has(`${controller.kind}:${phase}`)) {
        undeclared.add(`${controller.kind}:${phase}`)
        logger.warn(`controller ${controller.kind} reported progress phase "${phase}", which it does not declare in its phases`)
      }
      pass.progress(k, phase, detail)
    }
  }

  /** Writes status and events for an attempt: the single place status is written. */
  const record = (prev: ReturnType<StateStore['getStatus']>, a: Attempt): void => {
    const { status, events } = nextStatus(prev, a)
    store.putStatus(status)
    for (const e of events) store.addEvent(e)
  }

  /** One attempt at one key. Never throws. */
  const attempt = async (key: string, pass: Pass): Promise<AttemptReport> => {
    const { kind, name } = splitKey(key)
    const controller = registry.get(kind)
    if (!controller) return { outcome: 'skipped', reason: 'NoController', message: `no controller for kind ${kind}` }
    const manifest: Manifest | undefined = findManifest(deps.manifests(), key)
    const orphan = manifest ? undefined : pass.orphans.get(key)
    const prev = store.getStatus(key)
    if (!manifest && !orphan) {
      if (pass.prune && prev) store.deleteStatus(key)
      return { outcome: 'skipped', reason: 'NotFound', message: `${key} has no manifest and no guest` }
    }
    if (!manifest && !pass.prune) return { outcome: 'skipped', reason: 'PruneDisabled', message: `${key} has no manifest; run with --prune to delete it` }
    // Stalled needs a person: no new attempt while neither this object's spec nor the manifest
    // set changed. A new revision (e.g. a corrected Cluster ssh.hostKey or token) gets one attempt.
    if (manifest && !pass.force && prev && isTrue(prev.conditions, STALLED) && prev.specHash === manifest.specHash && prev.lastAttemptedRevision === pass.ctx.revision) {
      const stalled = getCondition(prev.conditions, STALLED)
      return { outcome: 'stalled', reason: stalled?.reason ?? 'Stalled', message: stalled?.message ?? '' }
    }
    const recorder = createStatusRecorder()
    const ctx = keyContext(pass.ctx, key, false, recorder)
    ctx.progress = declaredProgress(controller, pass.ctx)
    const startedAt = clock.now()
    const base = { key, kind, name, specHash: manifest?.specHash, revision: pass.ctx.revision, startedAt }
    let actions: Action[] | undefined
    try {
      let result: Result
      if (manifest) {
        ctx.progress(key, 'observing')
        const observed: unknown = await controller.observe(ctx, manifest)
        actions = controller.plan(manifest, observed, ctx) as Action[]
        const wait = actions.find((a) => a.wait !== undefined)?.wait
        if (wait) throw new WaitingError(wait.reason, wait.message, wait.requeueAfterMs)
        result = await controller.apply(ctx, manifest, actions)
      } else {
        ctx.progress(key, 'deleting')
        result = await controller.finalize(ctx, (orphan as { record: OrphanRecord }).record)
        if (result.ready) {
          result = { ...result, message: (await redactorOf(pass.ctx, key))(result.message) }
          store.deleteStatus(key)
          store.addEvent({ key, type: 'Normal', reason: 'Deleted', message: result.message || `${key} deleted` })
          ctx.progress(key, 'done')
          return { outcome: 'deleted', reason: 'Deleted', message: result.message, result }
        }
      }
      const hide = await redactorOf(pass.ctx, key)
      result = { ...result, message: hide(result.message), ...(result.conditions ? { conditions: result.conditions.map((c) => ({ ...c, message: hide(c.message) })) } : {}) }
      record(prev, { ...base, outcome: 'success', result, recorded: recorder.recorded(), finishedAt: clock.now() })
      ctx.progress(key, result.ready ? 'done' : (controller.waitingPhase ?? 'waiting'))
      return {
        outcome: 'success',
        reason: safeReason(result.reason, result.ready ? 'Succeeded' : 'Progressing'),
        message: result.message,
        result,
        requeueAfterMs: result.requeueAfterMs,
        actions,
      }
    } catch (caught) {
      const hide = await redactorOf(pass.ctx, key)
      const err = redactErrorText(caught, hide)
      const kindOf = classifyError(err)
      const message = hide(err instanceof Error ? err.message : String(err))
      let reason = 'ProgressingWithRetry'
      let requeueAfterMs: number | undefined
      if (err instanceof WaitingError) {
        reason = err.reason
        requeueAfterMs = err.requeueAfterMs
      } else if (err instanceof StalledError) reason = err.reason
      else if (kindOf === 'bug') {
        reason = 'ReconciliationFailed'
        logger.error(`reconcile ${key} failed unexpectedly (a bug; retrying with backoff): ${message}`, err)
      }
      const outcome: AttemptOutcome = kindOf
      const shown = kindOf === 'bug' ? `unexpected error: ${message.split('\n')[0]}` : message
      try {
        record(prev, { ...base, outcome, reason, message: shown, recorded: recorder.recorded(), finishedAt: clock.now() })
      } catch (e) {
        logger.error(`cannot write status of ${key}`, e)
      }
      ctx.progress(key, kindOf === 'waiting' ? 'queued' : 'failed', shown)
      return { outcome, reason, message: shown, requeueAfterMs, actions, error: err }
    }
  }

  return { keyContext, collectOrphans, guard, attempt }
}
