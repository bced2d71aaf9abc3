/**
 * The engine (DESIGN §1, §4–§6): one object, created once per process from a target, a store,
 * a manifest source, a clock and a logger, that `plan`, `apply` and `serve` share. It owns the
 * Proxmox client, the node shells, the semaphores and the controllers; builds one pass context
 * (one `GET /cluster/resources`) per plan, apply or daemon batch; keeps the last good manifest
 * set; and tells listeners what changed.
 */
import type { ManifestError, ManifestSet } from '../model/types.js'
import type { ClusterSnapshot, Controller, ControllerContext, PassContext, SecretResolver } from '../runtime/controller.js'
import { createReconciler, type Reconciler } from '../runtime/reconciler.js'
import { systemClock, isoTime, type Clock } from '../runtime/clock.js'
import { stderrLogger, type RuntimeLogger } from '../runtime/logger.js'
import { findManifest } from '../runtime/keys.js'
import { createSemaphores } from '../runtime/semaphore.js'
import type { BackoffOptions } from '../runtime/backoff.js'
import { createPveClient } from '../providers/proxmox/client.js'
import type { PveRequestEvent } from '../providers/proxmox/engine.js'
import type { NodeShellPool } from '../providers/ssh/types.js'
import type { StateStore } from '../store/types.js'
import type { Target } from './target.js'
import type { ManifestSource, SourceLoaded } from './sources/types.js'
import type { ApplyOptions, ApplyReport, Engine, EngineEvent, PlanOptions, ProgressSink, RunOptions, Selection, SourceState } from './types.js'
import { desiredKeys, keysNeedingWork, summarizePlan, type ComputedPlan } from './plan.js'
import { gatePve, gateShells, notifyingStore } from './gates.js'
import { inController, wrapController } from './controllers.js'
import { coalesceCalls } from '../runtime/coalesce.js'
import { createPlacementLedger } from '../runtime/placements.js'
import { lazyShellPool, noShellPool } from './shells.js'
import { recordResync, recordSourceState, SOURCE_KEY } from './source-status.js'

export interface EngineDeps {
  target: Target
  store: StateStore
  source: ManifestSource
  /** The first good load of `source` (the target may come from it, so it is loaded first). */
  initial: SourceLoaded
  /** The registered controllers (the caller imports `controllers/`; `src/` never does). */
  controllers: Controller[]
  /** Builds the secret resolver over the current set. */
  secrets: (currentSet: () => ManifestSet) => SecretResolver
  clock?: Clock
  logger?: RuntimeLogger
  progress?: ProgressSink
  /** Per-key backoff (tests shorten it). */
  backoff?: BackoffOptions
  /** Extra cleanups run by `close()` after the engine's own (lease, store, sandbox). */
  onClose?: () => Promise<void>
  /** Every Proxmox API request the engine makes (metrics). */
  onPveRequest?: (e: PveRequestEvent) => void
}

/** Creates the engine over opened ports (see openEngine for the production wiring). */
export function createEngine(deps: EngineDeps): Engine {
  const clock = deps.clock ?? systemClock
  const logger = deps.logger ?? stderrLogger
  const { target, source } = deps
  const listeners = new Set<(e: EngineEvent) => void>()
  const emit = (e: EngineEvent): void => {
    for (const l of listeners) {
      try {
        l(e)
      } catch (err) {
        logger.error('an engine listener failed', err)
      }
    }
  }
  const store = notifyingStore(deps.store, (c) => emit(c))
  let state: { set: ManifestSet; revision: string } = { set: deps.initial.set, revision: deps.initial.revision }
  let invalid: SourceState['invalid']
  let draining = false
  const spec = target.cluster.spec

  const rawPve = createPveClient({
    endpoint: target.pve.endpoint,
    tls: target.pve.tls,
    auth: target.pve.auth,
    ...(deps.onPveRequest ? { onRequest: deps.onPveRequest } : {}),
    audit: (e) => {
      if (!inController.getStore()) store.appendAudit({ action: e.action, target: e.target, upid: e.upid, result: e.result, error: e.error, revision: state.revision })
    },
  })
  const pve = gatePve(rawPve, () => draining)
  const ssh = target.ssh
  const rawShells: NodeShellPool = ssh
    ? lazyShellPool(async () => {
        const { createNodeShellPool } = await import('../providers/ssh/client.js')
        return createNodeShellPool({
          host: ssh.host,
          port: ssh.port,
          user: ssh.user,
          privateKey: ssh.privateKey,
          hostKey: ssh.hostKey,
          audit: (e: { action: string; target: string; result: 'ok' | 'error'; error?: string }) => {
            if (!inController.getStore()) store.appendAudit({ action: e.action, target: e.target, result: e.result, error: e.error, revision: state.revision })
          },
        })
      })
    : noShellPool()
  const shells = gateShells(rawShells, () => draining)
  const semaphores = createSemaphores({ perNode: spec.concurrency.perNode, perStorage: spec.concurrency.perStorage })
  const secrets = deps.secrets(() => state.set)
  const memo = new WeakMap<ClusterSnapshot, Map<string, { specHash: string; observed: unknown }>>()
  const controllers = deps.controllers.map((c) => wrapController(c, memo))
  const kinds = new Set<string>(controllers.map((c) => c.kind))
  const progress: ProgressSink = deps.progress ?? (() => {})

  /** The context of one pass: ONE cluster snapshot (or the given one) shared by every key of it. */
  const newContext = async (o: { dryRun: boolean; snapshot?: ClusterSnapshot }): Promise<PassContext> => {
    const { set, revision } = state
    // Creates finishing together share one snapshot read (each still sees its own guest).
    const fetchSnapshot = coalesceCalls(async (): Promise<ClusterSnapshot> => ({ takenAt: clock.now(), guests: await pve.clusterGuests() }))
    const c: PassContext = {
      pve,
      shells,
      store,
      set,
      cluster: target.cluster,
      revision,
      secrets,
      semaphores,
      placements: createPlacementLedger(),
      snapshot: o.snapshot ?? { takenAt: clock.now(), guests: await pve.clusterGuests() },
      async refreshSnapshot(): Promise<ClusterSnapshot> {
        // Assigned on the pass context: per-key contexts inherit it through the prototype.
        c.snapshot = await fetchSnapshot()
        return c.snapshot
      },
      statusOf(k: string) {
        const st = store.peekStatus(k)
        if (!st) return undefined
        const ready = st.conditions.find((x) => x.type === 'Ready')
        return { ready: ready?.status === 'True', reason: ready?.reason }
      },
      audit(entry) {
        store.appendAudit({ ...entry, revision })
      },
      progress,
      now: () => clock.now(),
      dryRun: o.dryRun,
    }
    return c
  }

  const reconciler = (o: { workers?: number; prune?: boolean; resyncMs?: number; resyncJitter?: number } = {}): Reconciler =>
    createReconciler({
      controllers,
      store,
      manifests: () => state.set,
      context: (pass) => newContext({ dryRun: pass.dryRun }),
      clock,
      logger,
      options: { workers: o.workers ?? 8, backoff: deps.backoff, deleteThreshold: spec.deleteThreshold, prune: o.prune, resyncMs: o.resyncMs, resyncJitter: o.resyncJitter },
      onResync: (at) => {
        recordResync(store, at)
        emit({ type: 'resync', at: new Date(at).toISOString() })
      },
    })

  const plan = async (sel: Selection = {}, o: PlanOptions = {}): Promise<ComputedPlan> => {
    const ctx = await newContext({ dryRun: true })
    const snapshot = ctx.snapshot
    const report = await reconciler({ workers: o.workers }).plan(sel.keys ?? desiredKeys(ctx.set), { prune: o.prune === true, allowMassDelete: o.allowMassDelete, context: ctx, ...(o.hold ? { hold: o.hold } : {}) })
    return summarizePlan(report, ctx.revision, snapshot)
  }

  const apply = async (sel: Selection = {}, o: ApplyOptions = {}): Promise<ApplyReport> => {
    const computed = o.plan ?? (await plan(sel, o))
    const keys = keysNeedingWork(sel.keys ?? desiredKeys(state.set), state.set, store, kinds, computed)
    if (keys.length === 0 && computed.deletions.length === 0) return { plan: computed, keys, outcomes: new Map() }
    const ctx = await newContext({ dryRun: false, snapshot: computed.snapshot })
    const outcomes = await reconciler({ workers: o.workers }).runOnce(keys, {
      prune: o.prune === true,
      allowMassDelete: o.allowMassDelete === true,
      ...(o.hold ? { hold: o.hold } : {}),
      deadlineMs: o.deadlineMs,
      maxAttempts: o.maxAttempts ?? 8,
      context: ctx,
    })
    return { plan: computed, keys: [...new Set([...keys, ...outcomes.keys()])], outcomes }
  }

  const sourceState = (): SourceState => ({ kind: source.kind, inputs: source.inputs, revision: state.revision, ...(invalid ? { invalid } : {}) })

  // ----- daemon -----
  let daemon: Reconciler | undefined
  let running = false

  /** Keys added, removed or with a changed spec between two sets. */
  const changedKeys = (before: ManifestSet, after: ManifestSet): string[] => {
    const out = new Set<string>()
    for (const k of desiredKeys(after)) if (findManifest(before, k)?.specHash !== findManifest(after, k)?.specHash) out.add(k)
    for (const k of desiredKeys(before)) if (!findManifest(after, k)) out.add(k)
    return [...out].filter((k) => kinds.has(k.slice(0, k.indexOf('/'))))
  }

  let loading: Promise<boolean> | undefined
  let again = false
  const loadOnce = async (): Promise<boolean> => {
    const r = await source.load()
    if (!r.ok) {
      const errors: ManifestError[] = r.errors
      invalid = { errors, since: invalid?.since ?? isoTime(clock.now()) }
      recordSourceState(store, sourceState(), clock)
      logger.warn(`manifests rejected (${errors.length} error${errors.length === 1 ? '' : 's'}); still reconciling revision ${state.revision}`)
      emit({ type: 'source', state: sourceState() })
      return false
    }
    const before = state
    state = { set: r.set, revision: r.revision }
    const wasInvalid = invalid !== undefined
    invalid = undefined
    if (wasInvalid || before.revision !== r.revision) {
      recordSourceState(store, sourceState(), clock)
      emit({ type: 'source', state: sourceState() })
    }
    if (before.revision !== r.revision) {
      logger.info(`manifests changed: revision ${r.revision}`)
      emit({ type: 'revision', revision: r.revision, previous: before.revision })
    }
    const changed = changedKeys(before.set, r.set)
    if (r.set.cluster?.specHash !== before.set.cluster?.specHash) logger.warn('the Cluster manifest changed: restart to use the new target settings')
    if (daemon && changed.length > 0) await daemon.enqueueAll(changed)
    return true
  }
  /** Serialised: a change noticed during a load triggers one more load after it. */
  const reload = (): Promise<boolean> => {
    if (loading) {
      again = true
      return loading
    }
    loading = (async () => {
      let ok = await loadOnce()
      while (again) {
        again = false
        ok = await loadOnce()
      }
      return ok
    })().finally(() => (loading = undefined))
    return loading
  }

  const run = async (signal: AbortSignal, o: RunOptions = {}): Promise<void> => {
    if (daemon) throw new Error('the engine is already running')
    draining = false
    const rec = reconciler({ workers: o.workers, prune: o.prune, resyncMs: o.resyncMs ?? 300_000, resyncJitter: o.resyncJitter })
    daemon = rec
    recordSourceState(store, sourceState(), clock)
    let stopWatch: (() => Promise<void>) | undefined
    try {
      if (source.watch) stopWatch = await source.watch(() => void reload().catch((e) => logger.error('reloading the manifests failed', e)))
      await rec.start()
      running = true
      if (!signal.aborted) await new Promise<void>((done) => signal.addEventListener('abort', () => done(), { once: true }))
    } finally {
      running = false
      draining = true
      await stopWatch?.().catch(() => undefined)
      let timer: unknown
      const grace = new Promise<void>((done) => (timer = clock.setTimeout(done, o.graceMs ?? 30_000)))
      await Promise.race([rec.stop(), grace])
      clock.clearTimeout(timer)
      await loading?.catch(() => undefined)
      daemon = undefined
      draining = false
    }
  }

  let closed = false
  return {
    target,
    store,
    pve,
    shells,
    semaphores,
    controllers,
    source,
    newContext: (o) => newContext({ dryRun: o.dryRun, ...(o.snapshot ? { snapshot: o.snapshot } : {}) }),
    current: () => state,
    sourceState,
    plan,
    apply,
    reload,
    run,
    ready: () => running,
    resyncNow: async () => {
      await daemon?.resyncNow()
    },
    metrics: () => daemon?.metrics() ?? { depth: 0, adds: 0, retries: 0, inFlight: 0, delayed: 0 },
    on(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      if (closed) return
      closed = true
      const steps = [() => shells.closeAll(), () => rawPve.close(), async () => deps.onClose?.()]
      for (const s of steps) {
        try {
          await s()
        } catch {
          // cleanup failures must not hide the original outcome
        }
      }
    },
  }
}

export { SOURCE_KEY }
