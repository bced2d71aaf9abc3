/**
 * The state store port (DESIGN §10: a cache, history and audit log that can be rebuilt by
 * observing; truth is git plus Proxmox). Implemented in state-store.ts under the state dir
 * (src/cli/state-dir.ts; by default `~/.local/state/proximity/<target>/`): a snapshot (lowdb, written atomically) plus an append-only log of
 * mutations, so a write costs what changed. Writes are batched and fsync'd; a kill -9 at any
 * moment loses at most the last unflushed batch and never leaves a state that cannot be read.
 * Nothing here ever holds a plaintext secret.
 */

export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  /** PascalCase */
  reason: string
  message: string
  lastTransitionTime: string
  observedGeneration: number
}

export interface HistoryEntry {
  specHash: string
  revision?: string
  firstReconciled: string
  lastReconciled: string
  durationMs: number
  result: 'Succeeded' | 'Failed' | 'Stalled' | 'Waiting'
  message?: string
}

export interface ObjectStatus {
  /** `Kind/name` */
  key: string
  kind: string
  name: string
  generation: number
  observedGeneration: number
  specHash?: string
  conditions: Condition[]
  lastAppliedRevision?: string
  lastAttemptedRevision?: string
  inventory?: { vmid?: number; node?: string; [k: string]: unknown }
  /** Newest first, at most 10. */
  history: HistoryEntry[]
  createdAt: string
  updatedAt: string
  /** Free-form domain data (e.g. last backup, app IP). Never secrets. */
  extra?: Record<string, unknown>
}

export interface StoredEvent {
  time: string
  key: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export interface AuditEntry {
  time: string
  /** e.g. `POST /nodes/{node}/lxc` or `ssh pct exec` */
  action: string
  target?: string
  /** Why: the object key and the plan action that caused it. */
  key?: string
  reason?: string
  revision?: string
  upid?: string
  result: 'ok' | 'error'
  error?: string
}

export interface PendingCreate {
  key: string
  vmid: number
  node: string
  startedAt: string
}

export interface Lease {
  owner: string
  nonce: string
  acquiredAt: string
  expiresAt: string
  pid: number
  host: string
}

export interface LeaseHeldError extends Error {
  holder: Lease
}

export interface StateStore {
  readonly dir: string
  /** A copy of one status. */
  getStatus(key: string): ObjectStatus | undefined
  /** Copies of every status (of `kind`), sorted by key. O(N) deep copies: not for per-key paths. */
  listStatus(kind?: string): ObjectStatus[]
  /**
   * The stored statuses (of `kind`) in no particular order, without copying: for scans made
   * per reconcile (e.g. choosing a deep-check candidate).
   * WARNING: the objects are the store's own; never mutate them (put a changed copy instead).
   */
  viewStatus(kind?: string): readonly Readonly<ObjectStatus>[]
  /**
   * The stored status of `key` without copying, for read-only checks made for every object of a
   * pass (plan, readiness gates). WARNING: the store's own object; never mutate it.
   */
  peekStatus(key: string): Readonly<ObjectStatus> | undefined
  /** Keys of `kind` whose stored inventory names `vmid` (an index: O(1), no copies). */
  keysByVmid(kind: string, vmid: number): string[]
  putStatus(status: ObjectStatus): void
  deleteStatus(key: string): void

  addEvent(e: Omit<StoredEvent, 'time'> & { time?: string }): void
  listEvents(opts?: { key?: string; limit?: number }): StoredEvent[]

  appendAudit(e: Omit<AuditEntry, 'time'> & { time?: string }): void
  readAudit(opts?: { limit?: number }): Promise<AuditEntry[]>

  getPendingCreate(key: string): PendingCreate | undefined
  listPendingCreates(): PendingCreate[]
  /** Persisted immediately (flushed before resolving): a crash after this must still see it. */
  putPendingCreate(p: PendingCreate): Promise<void>
  clearPendingCreate(key: string): Promise<void>

  /** Generated secrets, stored sealed (JWE) only. */
  getGeneratedSecret(key: string, name: string): string | undefined
  putGeneratedSecret(key: string, name: string, sealed: string): Promise<void>

  /**
   * Takes the local lease of this state folder or throws a LeaseHeldError naming the holder. An
   * expired lease is taken over. `renew` extends it; `release` gives it up (idempotent). Used
   * for the embedded sandbox; a real cluster's lease is held in Proxmox (runtime/cluster-lease.ts).
   */
  acquireLease(owner: string, ttlMs: number, opts?: { waitMs?: number }): Promise<Lease>
  renewLease(lease: Lease, ttlMs: number): Promise<void>
  releaseLease(lease: Lease): Promise<void>

  /** Writes pending batched changes to disk. */
  flush(): Promise<void>
  close(): Promise<void>
}
