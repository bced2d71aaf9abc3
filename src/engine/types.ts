/** The engine's public surface (DESIGN §1 `engine/`): what `plan`, `apply`, `serve`, tests and benches call. */
import type { ManifestError, ManifestSet } from '../model/types.js'
import type { ClusterSnapshot, Controller, PassContext, ProgressPhase, Semaphores } from '../runtime/controller.js'
import type { Outcome } from '../runtime/reconciler.js'
import type { WorkQueueMetrics } from '../runtime/queue.js'
import type { PveClient } from '../providers/proxmox/types.js'
import type { NodeShellPool } from '../providers/ssh/types.js'
import type { ObjectStatus, StateStore, StoredEvent } from '../store/types.js'
import type { Target } from './target.js'
import type { ManifestSource } from './sources/types.js'
import type { ComputedPlan } from './plan.js'

/** Which objects a plan or apply looks at. @default every object of the current set */
export interface Selection {
  keys?: string[]
}

export interface PlanOptions {
  /** Also plan deletions of owned guests whose manifest is gone. @default false */
  prune?: boolean
  allowMassDelete?: boolean
  /** Objects observed at once. @default 8 */
  workers?: number
  /**
   * Orphans to keep out of a prune (their manifest file stopped being read: the CLI's
   * source-file guard). They are reported in `ComputedPlan.held`. @default none
   */
  hold?: ReadonlySet<string>
}

export interface ApplyOptions extends PlanOptions {
  /** A plan of this run (from `plan`): apply starts from its snapshot and observations. */
  plan?: ComputedPlan
  /** Give up on objects not Ready after this long. @default 900000 */
  deadlineMs?: number
  /** Attempts per key for transient errors. @default 8 */
  maxAttempts?: number
}

/** What `apply` did. */
export interface ApplyReport {
  plan: ComputedPlan
  /** The keys that were reconciled (changed or not Ready), plus deletions. */
  keys: string[]
  outcomes: Map<string, Outcome>
}

/** Options of the daemon loop. */
export interface RunOptions {
  /** Re-queue every object this often (drift correction). @default 300000 (5 min) */
  resyncMs?: number
  /** ±fraction of jitter on each resync interval. @default 0.1 */
  resyncJitter?: number
  /** Delete owned guests whose manifest is gone. @default false */
  prune?: boolean
  /** Parallel reconciles. @default 8 */
  workers?: number
  /** On shutdown, how long in-flight work may take to finish. @default 30000 */
  graceMs?: number
}

/** The state of the manifest source as the engine sees it. */
export interface SourceState {
  kind: ManifestSource['kind']
  inputs: readonly string[]
  /** The revision being reconciled (the last good one). */
  revision: string
  /** The errors of the latest load when it was rejected (the last good set is still used). */
  invalid?: { errors: ManifestError[]; since: string }
}

/** Change notifications (typed) for the API and its server-sent events. */
export type EngineEvent =
  | { type: 'status'; key: string; status?: ObjectStatus }
  | { type: 'event'; event: StoredEvent }
  | { type: 'revision'; revision: string; previous: string }
  | { type: 'source'; state: SourceState }
  | { type: 'resync'; at: string }

/** The long-lived composition root shared by `plan`, `apply`, `serve`, tests and benches. */
export interface Engine {
  readonly target: Target
  /** The store as the engine writes it (notifying listeners). */
  readonly store: StateStore
  readonly pve: PveClient
  readonly shells: NodeShellPool
  /** Per-node and per-storage limits shared by every run of this engine (backups, creates). */
  readonly semaphores: Semaphores
  readonly controllers: readonly Controller[]
  readonly source: ManifestSource
  /**
   * A pass context over one fresh cluster snapshot, for commands that run a controller's read
   * side outside a reconcile (`diagnose`). `dryRun` makes generated secrets in-memory only.
   * Given `snapshot` (e.g. a plan's), the context reads no new one.
   */
  newContext(opts: { dryRun: boolean; snapshot?: ClusterSnapshot }): Promise<PassContext>
  /** The set being reconciled (the last good load) and its revision. */
  current(): { set: ManifestSet; revision: string }
  sourceState(): SourceState
  /** Observes and plans (read only, one cluster snapshot). */
  plan(selection?: Selection, opts?: PlanOptions): Promise<ComputedPlan>
  /** Plans (or takes `opts.plan`) and reconciles what needs work until Ready, Stalled or given up. */
  apply(selection?: Selection, opts?: ApplyOptions): Promise<ApplyReport>
  /**
   * Loads the source again. A valid set replaces the current one (and, while `run` is going,
   * queues what changed); an invalid one is recorded as the `SourceInvalid` condition of
   * `Source/manifests` and an event, and changes nothing else. Resolves true when it was valid.
   */
  reload(): Promise<boolean>
  /**
   * The daemon loop: resyncs every object at once and then on a jittered timer, follows the
   * source's changes, until `signal` aborts; then stops starting changes, lets in-flight work
   * finish up to `graceMs`, and resolves.
   */
  run(signal: AbortSignal, opts?: RunOptions): Promise<void>
  /** True while `run` is reconciling (not starting, not draining). */
  ready(): boolean
  /** Triggers a resync of the running loop now. */
  resyncNow(): Promise<void>
  /** Queue metrics of the running loop (zeros when not running). */
  metrics(): WorkQueueMetrics
  /** Subscribes to change notifications; returns the unsubscribe function. */
  on(listener: (e: EngineEvent) => void): () => void
  /** Idempotent: closes clients and the store handle the engine opened. */
  close(): Promise<void>
}

/** Receives phase changes from controllers. */
export type ProgressSink = (key: string, phase: ProgressPhase, detail?: string) => void
