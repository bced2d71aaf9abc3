/**
 * The controller contract (DESIGN §5, STYLE "One controller") and what a reconcile may use.
 * Controllers live in `controllers/<kind>/` and are registered at start-up; `src/` never
 * imports them.
 */
import type { ClusterSpec, Kind, Manifest, ManifestSet, SecretRef } from '../model/types.js'
import type { ClusterGuest, PveClient } from '../providers/proxmox/types.js'
import type { NodeShellPool } from '../providers/ssh/types.js'
import type { AuditEntry, Condition, StateStore } from '../store/types.js'
import type { PlacementLedger } from './placements.js'

/** How a change lands (DESIGN §4). Ordered from mildest to worst. */
export type Impact = 'live' | 'restart' | 'replace' | 'data-loss'

export interface FieldChange {
  /** Manifest-facing path, e.g. `resources.memory`, `tags`, `state`. */
  path: string
  before?: unknown
  after?: unknown
  impact: Impact
  /** Render as `(sensitive)`; before/after must then be undefined or digests. */
  sensitive?: boolean
  /** This field alone forces a replacement (rendered `# forces replacement`). */
  forcesReplacement?: boolean
}

export type ActionType = 'create' | 'update' | 'replace' | 'delete' | 'noop'

/**
 * Why an object cannot progress this pass (a dependency not ready, an appliance not there yet).
 * Plan states it on a `noop` action; the runtime then requeues the key after `requeueAfterMs`
 * without calling apply (a Waiting outcome), and `plan` shows `message` as a note.
 */
export interface Wait {
  /** PascalCase condition reason, e.g. `DependencyNotReady`. */
  reason: string
  message: string
  requeueAfterMs: number
}

/**
 * One planned step for one object; `changes` lists the fields behind it. `D` is the controller's
 * own detail type (a discriminated union per controller), `C` its field-change type: apply gets
 * back exactly what plan built, so no controller casts `detail`.
 */
export interface Action<D = unknown, C extends FieldChange = FieldChange> {
  type: ActionType
  key: string
  kind: Kind
  name: string
  changes: C[]
  /** Human summary, e.g. `stop guest 104`, `re-apply compose`. */
  summary?: string
  /** Set (on a `noop`) when the object has to wait; see Wait. */
  wait?: Wait
  /** Controller-private details needed by apply (never secrets). */
  detail?: D
}

/**
 * Where a kind keeps its far-end identity (App and Appliance: `vmid`, `node`; a backup job: its
 * job id). Written to `status.inventory`; shown by `get`/`describe`.
 */
export type Inventory = Readonly<Record<string, string | number | boolean | undefined>>

/** A domain condition a controller sets (Ready, Reconciling and Stalled belong to the runtime). */
export type DomainCondition = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>

/** What a reconcile reports back; the runtime turns it into conditions, history and events. */
export interface Result {
  /** Ready=True when true. */
  ready: boolean
  /** PascalCase reason for Ready (e.g. `Succeeded`, `Suspended`, `HealthCheckFailed`). */
  reason: string
  message: string
  /** Come back after this long even on success (polling, health waits). */
  requeueAfterMs?: number
  /** Merged into `status.inventory` (same as `ctx.status.inventory`). */
  inventory?: Inventory
  /** Domain conditions to set (same as `ctx.status.condition`). */
  conditions?: DomainCondition[]
  /** Non-empty when something changed (drives events). */
  changed?: string[]
  /** Merged into controller memory `status.extra` (same as `ctx.status.remember`). */
  extra?: Record<string, unknown>
}

/**
 * What a reconcile learns on its way, kept in the object's status whatever the attempt ends
 * with — success, waiting, transient or stalled (STYLE "status written on every exit path").
 * A failed health gate records its condition and memory here and then throws. Calls merge:
 * the last value of a condition type or an extra/inventory field wins. Never put secrets here.
 */
export interface StatusRecorder {
  /** Sets a domain condition (types Ready, Reconciling and Stalled are ignored). */
  condition(c: DomainCondition): void
  /** Merges fields into controller memory (`status.extra`); a field set to `undefined` is dropped. */
  remember(extra: Record<string, unknown>): void
  /** Merges fields into `status.inventory`. */
  inventory(inv: Inventory): void
}

/** Cluster settings after defaults (Cluster manifest, environment, or the sandbox). */
export interface ResolvedCluster {
  spec: ClusterSpec
  /** Where it came from, for messages: `Cluster/home`, `environment`, `sandbox`. */
  origin: string
}

/** One `GET /cluster/resources?type=vm` taken at the start of a pass. */
export interface ClusterSnapshot {
  takenAt: number
  guests: ClusterGuest[]
}

/**
 * Bounded concurrency (DESIGN §4). A controller names the resource it queues on: `resource` is a
 * class of operations of that kind (App: `create`, `start`; a restore: `restore`), each with its
 * own per-node slots, so creates on a node do not wait for starts on it.
 */
export interface Semaphores {
  /** Runs `fn` holding a slot of `resource` on `node` (limit: Cluster.concurrency.perNode). */
  node<T>(node: string, resource: string, fn: () => Promise<T>): Promise<T>
  /** Runs `fn` holding a per-storage slot (limit: Cluster.concurrency.perStorage). */
  storage<T>(storage: string, fn: () => Promise<T>): Promise<T>
}

export interface SecretResolver {
  /** Plaintext of a secret reference, in memory only. `generate` values come from the store or are created once. */
  resolve(key: string, name: string, ref: SecretRef): Promise<string>
  /** Keyed digest of a value, for comparisons and specHash. */
  digest(value: string): string
  /**
   * Records a generated secret found in a guest (its `.env`) when the store has none, e.g. after
   * the state directory was lost, so the store heals and later reads need no guest. Stored sealed;
   * never overwrites a stored value; a no-op in dry runs.
   */
  remember?(key: string, name: string, value: string): Promise<void>
  /**
   * Every secret value of object `key` that can be had without creating anything (sealed, env
   * and file refs resolved; generated ones from the store or seen in this session), for
   * redacting text that comes back from a guest or Proxmox (./redact-values.ts). Never throws
   * for a secret it cannot resolve: it is left out.
   */
  known?(key: string): Promise<{ name: string; value: string }[]>
}

/**
 * Phases the runtime reports for every kind: `queued`, `observing` (before observe), `deleting`
 * (before finalize), `waiting` (a result that is not Ready yet and comes back later, unless the
 * controller names its own `waitingPhase`), `done` and `failed`.
 */
export const RUNTIME_PHASES = ['queued', 'observing', 'deleting', 'waiting', 'done', 'failed'] as const
export type RuntimePhase = (typeof RUNTIME_PHASES)[number]

/**
 * A progress phase: a runtime phase or one a controller declares in `Controller.phases`
 * (App: `creating`, `starting`, `installing` …). Lower-case, shown as is.
 */
export type ProgressPhase = RuntimePhase | (string & {})

/** The context of one pass, shared by its keys (the runtime derives a ControllerContext per key). */
export type PassContext = Omit<ControllerContext, 'status'>

/** What a reconcile of one key may use. */
export interface ControllerContext {
  pve: PveClient
  shells: NodeShellPool
  store: StateStore
  /** The whole desired set (for dependsOn and cross references). */
  set: ManifestSet
  cluster: ResolvedCluster
  /** `main@sha1:<sha>` or `local@sha256:<digest of the manifest set>` */
  revision: string
  secrets: SecretResolver
  semaphores: Semaphores
  /**
   * The nodes chosen for guests created in this pass so far, shared by its concurrent creates
   * (spread placement decides from the snapshot plus this). Absent: the snapshot alone.
   */
  placements?: PlacementLedger
  /** The pass's cluster snapshot; refresh with `refreshSnapshot` after creating guests. */
  snapshot: ClusterSnapshot
  refreshSnapshot(): Promise<ClusterSnapshot>
  /** Status of another object (for dependsOn). */
  statusOf(key: string): { ready: boolean; reason?: string } | undefined
  audit(entry: Omit<AuditEntry, 'time' | 'key' | 'revision'>): void
  progress(key: string, phase: ProgressPhase, detail?: string): void
  now(): number
  /** true for `--dry-run`: observe and plan only. */
  dryRun: boolean
  /**
   * Replaces every secret value of the object being reconciled with `(sensitive)` in `text`
   * (command output, task logs, error messages from a guest or Proxmox). Set on per-key
   * contexts by the runtime; absent means nothing to redact.
   */
  redact?(text: string): Promise<string>
  /** This key's status recorder: kept on every exit path (see StatusRecorder). */
  status: StatusRecorder
}

/**
 * Something a controller owns whose manifest is gone: a deletion candidate, as the controller
 * defines it. `detail` is what its finalize needs (App: vmid, node, deletionPolicy; a backup
 * job: its job id), opaque to the runtime.
 */
export interface OrphanRecord<D = unknown> {
  key: string
  kind: Kind
  name: string
  /**
   * True when pruning destroys something (counted by the deletion guard); false when the
   * controller only lets go of it (App `deletionPolicy: Retain`).
   */
  destroys: boolean
  /** What pruning acts on, for messages: `guest 104 on pve`, `backup job nightly`. */
  target: string
  detail: D
}

/** What the runtime tells an orphan scan. */
export interface OrphanScanOptions {
  /**
   * True when the pass may finalize orphans (`--prune`, a pruning daemon). Otherwise the scan only
   * gives keys without a manifest an accurate verdict, and a controller whose scan costs a
   * Proxmox read may answer from the store instead (steady-state budget). @default false
   */
  prune?: boolean
}

/**
 * One kind's controller (DESIGN §5). Type parameters: the manifest `M`, what observe returns `O`,
 * the action detail `D` plan hands to apply, the orphan detail `R`, the field-change type `C`.
 */
export interface Controller<M extends Manifest = Manifest, O = unknown, D = unknown, R = unknown, C extends FieldChange = FieldChange> {
  kind: Kind
  /** Progress phases this kind reports, besides RUNTIME_PHASES, in the order they happen. */
  phases: readonly string[]
  /** Phase shown while a not-Ready result waits for its requeue. @default 'waiting' */
  waitingPhase?: string
  /** Read only. */
  observe(ctx: ControllerContext, obj: M): Promise<O>
  /** Pure. An empty array or only `noop` actions means converged (a `noop` with `wait` means waiting). */
  plan(obj: M, observed: O, ctx: Pick<ControllerContext, 'cluster' | 'set' | 'secrets'>): Action<D, C>[]
  /** Idempotent: executes the actions (re-observing where needed). Throws Transient/Waiting/Stalled errors. Never called for a waiting plan. */
  apply(ctx: ControllerContext, obj: M, actions: Action<D, C>[]): Promise<Result>
  /**
   * Kinds whose objects feed this kind's desired state (BackupPolicy watches App and Appliance:
   * its job lists their vmids). When an object of a watched kind reports changes
   * (`Result.changed`) or is deleted, the runtime queues every object of this kind again, so an
   * App created after its policy ran still joins the job in the same run. @default none
   */
  watches?: readonly Kind[]
  /** Owned objects with no manifest (read from the snapshot). */
  orphans?(ctx: PassContext, opts?: OrphanScanOptions): Promise<OrphanRecord<R>[]>
  /** Plans the deletion of an orphan (pure). */
  planDelete?(record: OrphanRecord<R>): Action<unknown>
  /** Deletion honouring the kind's policy; "already gone" is success. */
  finalize(ctx: ControllerContext, record: OrphanRecord<R>): Promise<Result>
  /**
   * Cross-object triggers (pure): keys of this controller's kind to look at again when the object
   * `changed` (any kind) changed, e.g. the Apps whose `dependsOn` names it. The runtime queues
   * them in one-shot runs and in the daemon loop. Optional: no triggers.
   */
  requeueOnChange?(changed: string, set: ManifestSet): string[]
}
