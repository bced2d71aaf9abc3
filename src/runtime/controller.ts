/**
 * The controller contract (DESIGN §5, STYLE "One controller") and what a reconcile may use.
 * Controllers live in `controllers/<kind>/` and are registered at start-up; `src/` never
 * imports them.
 */
import type { ClusterSpec, Kind, Manifest, ManifestSet, SecretRef } from '../model/types.js'
import type { ClusterGuest, PveClient } from '../providers/proxmox/types.js'
import type { NodeShellPool } from '../providers/ssh/types.js'
import type { AuditEntry, Condition, StateStore } from '../store/types.js'

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

/** One planned step for one object; `changes` lists the fields behind it. */
export interface Action {
  type: ActionType
  key: string
  kind: Kind
  name: string
  changes: FieldChange[]
  /** Human summary, e.g. `stop guest 104`, `re-apply compose`. */
  summary?: string
  /** Controller-private details needed by apply (never secrets). */
  detail?: Record<string, unknown>
}

/** What a reconcile reports back; the runtime turns it into conditions, history and events. */
export interface Result {
  /** Ready=True when true. */
  ready: boolean
  /** PascalCase reason for Ready (e.g. `Succeeded`, `Suspended`, `HealthCheckFailed`). */
  reason: string
  message: string
  /** Come back after this long even on success (polling, health waits). */
  requeueAfterMs?: number
  inventory?: { vmid?: number; node?: string; [k: string]: unknown }
  /** Domain conditions to set (e.g. UpdateRolledBack). */
  conditions?: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[]
  /** Non-empty when something changed (drives events). */
  changed?: string[]
  extra?: Record<string, unknown>
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

export interface Semaphores {
  /** Runs `fn` holding a per-node slot for `op` (limit: Cluster.concurrency.perNode). */
  node<T>(node: string, op: 'create' | 'start' | 'restore', fn: () => Promise<T>): Promise<T>
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
}

export type ProgressPhase =
  | 'queued'
  | 'observing'
  | 'creating'
  | 'configuring'
  | 'starting'
  | 'installing'
  | 'deploying'
  | 'waiting-health'
  | 'healthy'
  | 'updating'
  | 'stopping'
  | 'deleting'
  | 'done'
  | 'failed'

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
}

/** A guest we own whose manifest is gone (a deletion candidate). */
export interface OrphanRecord {
  key: string
  kind: Kind
  name: string
  vmid: number
  node: string
  deletionPolicy: 'Backup' | 'Delete' | 'Retain'
}

export interface Controller<M extends Manifest = Manifest, O = unknown> {
  kind: Kind
  /** Read only. */
  observe(ctx: ControllerContext, obj: M): Promise<O>
  /** Pure. An empty array or only `noop` actions means converged. */
  plan(obj: M, observed: O, ctx: Pick<ControllerContext, 'cluster' | 'set' | 'secrets'>): Action[]
  /** Idempotent: executes the actions (re-observing where needed). Throws Transient/Waiting/Stalled errors. */
  apply(ctx: ControllerContext, obj: M, actions: Action[]): Promise<Result>
  /** Owned guests with no manifest (read from the snapshot). */
  orphans?(ctx: ControllerContext): Promise<OrphanRecord[]>
  /** Plans the deletion of an orphan (pure). */
  planDelete?(record: OrphanRecord): Action
  /** Deletion honouring deletionPolicy; "already gone" is success. */
  finalize(ctx: ControllerContext, record: OrphanRecord): Promise<Result>
  /**
   * Cross-object triggers (pure): keys of this controller's kind to look at again when the object
   * `changed` (any kind) changed, e.g. the Apps whose `dependsOn` names it. The runtime queues
   * them in one-shot runs and in the daemon loop. Optional: no triggers.
   */
  requeueOnChange?(changed: string, set: ManifestSet): string[]
}
