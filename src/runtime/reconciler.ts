/**
 * The reconcile runner (DESIGN §5). Given the registered controllers, a ControllerContext
 * factory, the store and the current ManifestSet, it reconciles keys level-based: a key only
 * says "look at `Kind/name`"; the manifest is looked up in the current set each time. Every
 * attempt runs observe → plan → apply (or finalize for an orphan when pruning) and then writes
 * status in one place, whatever happened (./status.ts). Typed errors decide the requeue:
 * transient and bugs back off, waiting requeues after its delay, stalled waits for a spec change.
 */
import type { ManifestSet } from '../model/types.js'
import type { Action, OrphanRecord, PassContext } from './controller.js'
import type { StateStore } from '../store/types.js'
import type { BackoffOptions } from './backoff.js'
import { classifyError, StalledError, WaitingError, type ErrorKind } from './errors.js'
import { systemClock, type Clock } from './clock.js'
import { stderrLogger, type RuntimeLogger } from './logger.js'
import { allManifests, findManifest, splitKey } from './keys.js'
import { createWorkQueue, runWorkers, type WorkQueue } from './queue.js'
import { createSemaphore } from './semaphore.js'
import { createAttempter, type AnyController, type AttemptReport, type Pass } from './attempt.js'
import { createValueRedactor, redactErrorText } from './redact-values.js'

export type { AnyController } from './attempt.js'

/** What the context factory is told about the pass it builds a context for. */
export interface PassInfo {
  dryRun: boolean
  /** Keys the pass will look at (may grow by orphans when pruning). */
  keys: string[]
}

export interface ReconcilerOptions {
  /** Parallel reconciles. @default 4 */
  workers?: number
  /** Per-key backoff for transient errors and bugs. @default 1 s → 5 min, ±10 % jitter */
  backoff?: BackoffOptions
  /** Finalize orphans (owned guests without a manifest). @default false */
  prune?: boolean
  /** Guard limit; @default Cluster.spec.deleteThreshold, else DEFAULT_DELETE_THRESHOLD (5) */
  deleteThreshold?: number
  /** Skip the deletion guard. @default false */
  allowMassDelete?: boolean
  /** Daemon: re-queue every key this often. @default 600000 (10 min) */
  resyncMs?: number
  /** Daemon: spread each resync interval by ±this fraction so installations do not beat in step. @default 0.1 */
  resyncJitter?: number
}

export interface ReconcilerDeps {
  /** Registered controllers, one per kind. */
  controllers: AnyController[]
  store: StateStore
  /** The current desired set; called at every attempt (level-based). */
  manifests: () => ManifestSet
  /**
   * Builds the context of a pass, which takes one cluster snapshot: one per `runOnce`/`plan`
   * call (unless the caller passes its own), one per resync or batch of keys in the daemon loop
   * (shared by every key of it), and one for a key the loop requeues on its own. The reconciler
   * derives a per-key context from it (prototype-linked) whose `audit` fills in key and
   * revision and whose `statusOf` reads the store.
   */
  context: (pass: PassInfo) => Promise<PassContext>
  clock?: Clock
  logger?: RuntimeLogger
  options?: ReconcilerOptions
  /** Daemon: called after each resync was queued (with its snapshot taken), with the time. */
  onResync?: (atMs: number) => void
}

/** The final word on one key after `runOnce`. */
export interface Outcome {
  key: string
  result: 'Ready' | 'NotReady' | 'Stalled' | 'Failed' | 'Waiting' | 'Skipped' | 'Deleted'
  reason: string
  message: string
  attempts: number
  /** Changes made across attempts (from Result.changed). */
  changed: string[]
}

export interface RunOnceOptions {
  prune?: boolean
  allowMassDelete?: boolean
  /**
   * Orphans never to finalize in this run, whatever `prune` says (the source-file guard: their
   * manifest file stopped being read). They are left out of the deletion guard's count too.
   */
  hold?: ReadonlySet<string>
  /** Reconcile a Stalled key even though its spec did not change. @default false */
  force?: boolean
  /** Attempts per key for transient errors and bugs before giving up. @default 5 */
  maxAttempts?: number
  /** Give up on keys still waiting after this long. @default 900000 (15 min) */
  deadlineMs?: number
  /** Called as each key reaches its final outcome (progress output). */
  onOutcome?: (o: Outcome) => void
  /** The pass context to use instead of building one (e.g. with the snapshot a plan took). */
  context?: PassContext
}

export interface PlanEntry {
  key: string
  actions: Action[]
  /** Observe/plan failed for this key; other keys are still planned. */
  error?: { kind: ErrorKind; reason: string; message: string }
}

export interface PlanReport {
  entries: PlanEntry[]
  /** Deletions of orphans (only with `prune`). */
  deletions: PlanEntry[]
  /** Set when the deletion guard would refuse this prune. */
  refusal?: string
  /** Orphans that `hold` kept out of `deletions` (only with `prune`). */
  held?: string[]
}

export interface Reconciler {
  /** Reconciles `keys` (plus orphans with `prune`) until each is Ready, Stalled or given up; always terminates. Throws MassDeleteRefusedError before doing anything. */
  runOnce(keys: string[], opts?: RunOnceOptions): Promise<Map<string, Outcome>>
  /** observe + plan for every key (and orphan deletions with `prune`); changes nothing, writes no status. */
  plan(keys: string[], opts?: { prune?: boolean; allowMassDelete?: boolean; hold?: ReadonlySet<string>; context?: PassContext }): Promise<PlanReport>
  /**
   * Starts the long-running loop (daemon): workers, resync timer, immediate queueing of every key.
   * Resolves once that first resync is queued (its snapshot taken).
   */
  start(): Promise<void>
  /** Queues one key in the running loop (webhook, manifest change, schedule). */
  enqueue(key: string): void
  /**
   * Queues several keys in the running loop as one pass: they share one cluster snapshot (a
   * manifest change, a webhook). Resolves once they are queued.
   */
  enqueueAll(keys: string[]): Promise<void>
  /** Runs a resync of the running loop now (every key of the set, one snapshot). */
  resyncNow(): Promise<void>
  /** Stops the loop, letting in-flight reconciles finish. */
  stop(): Promise<void>
  /** Queue metrics of the running loop (zeros when stopped). */
  metrics(): ReturnType<WorkQueue['metrics']>
}

/** `orphans` minus the held keys (the same map when nothing is held). */
function without<V>(orphans: Map<string, V>, hold: ReadonlySet<string> | undefined): Map<string, V> {
  if (!hold || hold.size === 0) return orphans
  return new Map([...orphans].filter(([k]) => !hold.has(k)))
}

/** Creates a reconciler; validates the controller registry once (one controller per kind). */
export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const clock = deps.clock ?? systemClock
  const logger = deps.logger ?? stderrLogger
  const opts = deps.options ?? {}
  const workers = opts.workers ?? 4
  const registry = new Map<string, AnyController>()
  for (const c of deps.controllers) {
    if (registry.has(c.kind)) throw new Error(`two controllers registered for kind ${c.kind}`)
    registry.set(c.kind, c)
  }
  const { store } = deps
  /** Kinds to queue again when an object of a kind changes (Controller.watches). */
  const watchers = new Map<string, string[]>()
  for (const c of deps.controllers) for (const k of c.watches ?? []) watchers.set(k, [...(watchers.get(k) ?? []), c.kind])
  /** Keys of the current set whose controller watches `key`'s kind, when `r` changed something. */
  const watchersOf = (key: string, r: AttemptReport): string[] => {
    const kinds = watchers.get(splitKey(key).kind)
    if (!kinds || !(r.outcome === 'deleted' || (r.outcome === 'success' && (r.result?.changed?.length ?? 0) > 0))) return []
    return allManifests(deps.manifests())
      .filter((m) => kinds.includes(m.kind))
      .map((m) => `${m.kind}/${m.metadata.name}`)
  }

  const { keyContext, collectOrphans, guard, attempt } = createAttempter({
    registry, store, manifests: deps.manifests, clock, logger,
    deleteThreshold: opts.deleteThreshold, allowMassDelete: opts.allowMassDelete,
  })

  /** Keys other controllers want looked at again because `key` changed (cross-object triggers). */
  const dependentsOf = (key: string): string[] => {
    const set = deps.manifests()
    return [...registry.values()].flatMap((c) => c.requeueOnChange?.(key, set) ?? [])
  }
  const readyOf = (key: string): string | undefined => store.getStatus(key)?.conditions.find((c) => c.type === 'Ready')?.status

  const newPass = async (keys: string[], dryRun: boolean, prune: boolean, force: boolean, allowMassDelete?: boolean, given?: PassContext, hold?: ReadonlySet<string>): Promise<Pass> => {
    const ctx = given ?? (await deps.context({ dryRun, keys }))
    // Orphans are collected even without prune so a key without a manifest gets an accurate verdict.
    const orphans = await collectOrphans(ctx, prune)
    if (prune) guard(deps.manifests(), without(orphans, hold), ctx, allowMassDelete)
    return { ctx, orphans, prune, force }
  }

  const runOnce = async (keys: string[], o: RunOnceOptions = {}): Promise<Map<string, Outcome>> => {
    const prune = o.prune ?? opts.prune ?? false
    const pass = await newPass(keys, false, prune, o.force ?? false, o.allowMassDelete, o.context, o.hold)
    const all = [...new Set([...keys, ...(prune ? without(pass.orphans, o.hold).keys() : [])])]
    const maxAttempts = o.maxAttempts ?? 5
    const deadline = clock.now() + (o.deadlineMs ?? 900_000)
    const queue = createWorkQueue({ clock, backoff: opts.backoff })
    const outcomes = new Map<string, Outcome>()
    const tries = new Map<string, number>()
    const changed = new Map<string, string[]>()
    const waiting = new Set<string>()
    // Keys running now, and those reopened by a watcher while they ran: their current attempt may
    // have read the state from before the change, so its outcome must not close them (the queue
    // runs them again).
    const running = new Set<string>()
    const reopened = new Map<string, number>()
    /** Attempts started per key (never reset, unlike `tries`). */
    const started = new Map<string, number>()
    // What each key waits on (the reverse of the controllers' requeueOnChange), built on first need.
    let dependencies: Map<string, string[]> | undefined
    const dependenciesOf = (key: string): string[] => {
      if (!dependencies) {
        dependencies = new Map()
        for (const m of allManifests(deps.manifests())) {
          const dep = `${m.kind}/${m.metadata.name}`
          for (const d of dependentsOf(dep)) dependencies.set(d, [...(dependencies.get(d) ?? []), dep])
        }
      }
      return dependencies.get(key) ?? []
    }
    /**
     * Why a waiting key can no longer become Ready in this run: a key it waits on ended without
     * becoming Ready, or is not part of the run and is not Ready. Undefined while there is hope.
     */
    const blockedBy = (key: string): { dep: string; why: string } | undefined => {
      for (const dep of dependenciesOf(key)) {
        if (readyOf(dep) === 'True') continue
        const oc = outcomes.get(dep)
        if (oc && oc.result !== 'Ready' && oc.result !== 'Deleted') return { dep, why: `${dep} ended ${oc.result} (${oc.reason}: ${oc.message})` }
        if (!oc && !all.includes(dep)) return { dep, why: `${dep} is not Ready and nothing in this run will make it Ready` }
      }
      return undefined
    }
    /** Keys ended because of a dependency (dependent → dependency): reopened with it. */
    const blockedOn = new Map<string, string>()
    const blocked = (key: string, b: { dep: string; why: string }): void => {
      blockedOn.set(key, b.dep)
      finish(key, 'Waiting', { reason: 'DependencyNotReady', message: `${key} cannot become Ready in this run: ${b.why}; fix it and re-run` })
    }
    const finish = (key: string, result: Outcome['result'], r: Pick<AttemptReport, 'reason' | 'message'>): void => {
      const stale = reopened.get(key)
      if (stale !== undefined) {
        reopened.delete(key)
        // Only the attempt that was running when the key was reopened is ignored.
        if (stale === started.get(key)) return
      }
      const out: Outcome = { key, result, reason: r.reason, message: r.message, attempts: tries.get(key) ?? 0, changed: changed.get(key) ?? [] }
      outcomes.set(key, out)
      waiting.delete(key)
      o.onOutcome?.(out)
      // Keys waiting on this one wait in vain once it ended without becoming Ready: end them too
      // (with the reason) instead of letting them sit until the deadline.
      if (result !== 'Ready' && result !== 'Deleted') {
        for (const d of dependentsOf(key)) {
          if (!waiting.has(d) || outcomes.has(d) || running.has(d)) continue
          const b = blockedBy(d)
          if (b) blocked(d, b)
        }
      }
      if (outcomes.size === all.length) queue.shutDown()
    }
    const later = (key: string, ms: number, r: AttemptReport, giveUp: Outcome['result']): void => {
      const left = deadline - clock.now()
      if (left <= 0) return finish(key, giveUp, { ...r, message: `gave up after the deadline: ${r.message}` })
      queue.addAfter(key, Math.min(ms, left))
    }
    const handler = async (key: string): Promise<void> => {
      if (outcomes.has(key)) return
      tries.set(key, (tries.get(key) ?? 0) + 1)
      running.add(key)
      started.set(key, (started.get(key) ?? 0) + 1)
      const r = await attempt(key, pass).finally(() => running.delete(key))
      if (r.result?.changed?.length) changed.set(key, [...(changed.get(key) ?? []), ...r.result.changed])
      // Watchers look again, joining the run if they were not in it (before this key's outcome,
      // which may end the run); a finished one is reopened.
      for (const w of watchersOf(key, r)) {
        if (!all.includes(w)) all.push(w)
        if (running.has(w)) reopened.set(w, started.get(w) ?? 0)
        outcomes.delete(w)
        waiting.delete(w)
        tries.delete(w)
        queue.add(w)
        // Keys ended because w was not Ready wait for it again (queued when it becomes Ready).
        for (const [d, dep] of blockedOn) {
          if (dep !== w) continue
          blockedOn.delete(d)
          outcomes.delete(d)
          waiting.add(d)
        }
      }
      switch (r.outcome) {
        case 'skipped':
          return finish(key, 'Skipped', r)
        case 'deleted':
          return finish(key, 'Deleted', r)
        case 'stalled':
          return finish(key, 'Stalled', r)
        case 'success':
          if (r.result?.ready) {
            finish(key, 'Ready', r)
            // Keys that depend on this one and wait for it: look at them now, not after their delay.
            for (const d of dependentsOf(key)) if (waiting.has(d)) queue.add(d)
            return
          }
          if (r.requeueAfterMs === undefined) return finish(key, 'NotReady', r)
          waiting.add(key)
          return later(key, r.requeueAfterMs, r, 'NotReady')
        case 'waiting': {
          waiting.add(key)
          const b = blockedBy(key)
          if (b) return blocked(key, b)
          return later(key, r.requeueAfterMs ?? 30_000, r, 'Waiting')
        }
        case 'transient':
        case 'bug':
          if ((tries.get(key) ?? 0) >= maxAttempts) return finish(key, 'Failed', { ...r, message: `gave up after ${maxAttempts} attempts: ${r.message}` })
          if (clock.now() >= deadline) return finish(key, 'Failed', { ...r, message: `gave up after the deadline: ${r.message}` })
          queue.addRateLimited(key)
      }
    }
    if (all.length === 0) return outcomes
    for (const k of all) queue.add(k)
    await runWorkers(queue, workers, handler, (key, err) => logger.error(`reconcile worker failed on ${key}`, err))
    return outcomes
  }

  const plan = async (keys: string[], o: { prune?: boolean; allowMassDelete?: boolean; hold?: ReadonlySet<string>; context?: PassContext } = {}): Promise<PlanReport> => {
    const prune = o.prune ?? opts.prune ?? false
    const ctx = o.context ?? (await deps.context({ dryRun: true, keys }))
    const found = prune ? await collectOrphans(ctx, true) : new Map<string, { controller: AnyController; record: OrphanRecord }>()
    const orphans = without(found, o.hold)
    const held = [...found.keys()].filter((k) => !orphans.has(k)).sort()
    let refusal: string | undefined
    if (prune) {
      try {
        guard(deps.manifests(), orphans, ctx, o.allowMassDelete)
      } catch (e) {
        refusal = (e as Error).message
      }
    }
    const limit = createSemaphore(workers)
    const set = deps.manifests()
    const entries = await Promise.all(
      keys.map((key) =>
        limit.run(async (): Promise<PlanEntry | undefined> => {
          const controller = registry.get(splitKey(key).kind)
          const manifest = findManifest(set, key)
          if (!controller || !manifest) return undefined
          try {
            const kctx = keyContext(ctx, key, true)
            const observed: unknown = await controller.observe(kctx, manifest)
            return { key, actions: controller.plan(manifest, observed, kctx) }
          } catch (caught) {
            // issue 7: the object's secret values never leave in a message or a log.
            const hide = createValueRedactor(ctx.secrets?.known ? await ctx.secrets.known(key).catch(() => []) : [])
            const err = redactErrorText(caught, hide)
            const kind = classifyError(err)
            if (kind === 'bug') logger.error(`planning ${key} failed unexpectedly`, err)
            const reason = err instanceof WaitingError || err instanceof StalledError ? err.reason : kind === 'bug' ? 'ReconciliationFailed' : 'ProgressingWithRetry'
            return { key, actions: [], error: { kind, reason, message: hide(err instanceof Error ? err.message : String(err)) } }
          }
        }),
      ),
    )
    const deletions: PlanEntry[] = [...orphans.values()].map(({ controller, record: r }) => ({
      key: r.key,
      actions: [
        controller.planDelete?.(r) ?? {
          type: 'delete', key: r.key, kind: r.kind, name: r.name, changes: [],
          summary: `delete ${r.target}`,
        },
      ],
    }))
    return { entries: entries.filter((e): e is PlanEntry => e !== undefined), deletions, ...(refusal ? { refusal } : {}), ...(held.length > 0 ? { held } : {}) }
  }

  // ----- long-running loop (daemon) -----
  interface Loop {
    queue: WorkQueue
    done: Promise<void>
    resync?: unknown
    orphans: Pass['orphans']
    /** Pass contexts of keys queued together (resync, manifest change): one snapshot per batch. */
    batch: Map<string, PassContext>
  }
  let loop: Loop | undefined

  /**
   * Queues `keys` sharing one pass context. With prune, the orphan list is refreshed from that
   * snapshot (a key whose manifest was just removed is then finalized at once); a resync also
   * queues every orphan.
   */
  const queueBatch = async (keys: string[], resync: boolean): Promise<void> => {
    const l = loop
    if (!l || keys.length === 0) return
    let ctx: PassContext | undefined
    try {
      ctx = await deps.context({ dryRun: false, keys })
    } catch (e) {
      // Each key then builds its own context and backs off on its own.
      logger.error(`cannot take the cluster snapshot for ${keys.length} key(s): ${(e as Error).message}`)
    }
    if (opts.prune && ctx) {
      try {
        const orphans = await collectOrphans(ctx, true)
        guard(deps.manifests(), orphans, ctx)
        l.orphans = orphans
      } catch (e) {
        l.orphans = new Map()
        logger.error(`prune skipped this resync: ${(e as Error).message}`)
      }
    }
    if (loop !== l) return
    const all = resync ? [...new Set([...keys, ...l.orphans.keys()])] : keys
    for (const k of all) {
      if (ctx) l.batch.set(k, ctx)
      l.queue.add(k)
    }
  }

  const resync = async (): Promise<void> => {
    await queueBatch(allManifests(deps.manifests()).map((m) => `${m.kind}/${m.metadata.name}`), true)
    deps.onResync?.(clock.now())
  }

  const loopHandler = async (key: string): Promise<void> => {
    const l = loop
    if (!l) return
    const shared = l.batch.get(key)
    l.batch.delete(key)
    const ctx = shared ?? (await deps.context({ dryRun: false, keys: [key] }))
    const before = readyOf(key)
    const r = await attempt(key, { ctx, orphans: l.orphans, prune: opts.prune ?? false, force: false })
    if (before !== readyOf(key) || (r.result?.changed?.length ?? 0) > 0 || r.outcome === 'deleted') {
      for (const d of dependentsOf(key)) l.queue.add(d)
    }
    for (const w of watchersOf(key, r)) l.queue.add(w)
    switch (r.outcome) {
      case 'success':
        l.queue.forget(key)
        if (r.requeueAfterMs !== undefined) l.queue.addAfter(key, r.requeueAfterMs)
        return
      case 'waiting':
        l.queue.forget(key)
        return l.queue.addAfter(key, r.requeueAfterMs ?? 30_000)
      case 'transient':
      case 'bug':
        return l.queue.addRateLimited(key)
      default:
        l.queue.forget(key)
        if (r.outcome === 'deleted') l.orphans.delete(key)
    }
  }

  const armResync = (): void => {
    if (!loop) return
    const base = opts.resyncMs ?? 600_000
    const jitter = opts.resyncJitter ?? 0.1
    loop.resync = clock.setTimeout(() => {
      void resync().finally(armResync)
    }, Math.max(1, Math.round(base * (1 + jitter * (2 * Math.random() - 1)))))
  }

  return {
    runOnce,
    plan,
    start() {
      if (loop) return Promise.resolve()
      const queue = createWorkQueue({ clock, backoff: opts.backoff })
      loop = { queue, orphans: new Map(), batch: new Map(), done: Promise.resolve() }
      loop.done = runWorkers(queue, workers, loopHandler, (key, err) => {
        logger.error(`reconcile of ${key} failed outside the controller`, err)
        queue.addRateLimited(key)
      })
      return resync().finally(armResync)
    },
    enqueue(key) {
      splitKey(key)
      loop?.queue.add(key)
    },
    async enqueueAll(keys) {
      for (const k of keys) splitKey(k)
      await queueBatch(keys, false)
    },
    resyncNow: () => resync(),
    async stop() {
      const l = loop
      if (!l) return
      loop = undefined
      if (l.resync !== undefined) clock.clearTimeout(l.resync)
      await l.queue.shutDownWithDrain()
      await l.done
    },
    metrics: () => loop?.queue.metrics() ?? { depth: 0, adds: 0, retries: 0, inFlight: 0, delayed: 0 },
  }
}
