/**
 * The state store (contract: ./types.ts). Layout under the state folder (created 0700):
 *
 * - `state.json`: the snapshot, written by lowdb through a durable atomic adapter
 *   (atomic-file.ts): statuses, pending creates, sealed generated secrets, the events ring, and
 *   the generation `gen` of the log that continues it.
 * - `state.<gen>.log`: every mutation since that snapshot, one JSON line each (op-log.ts).
 *   Mutations apply in memory at once and reach the log in batches (one append + one fdatasync
 *   per `batchMs`), so a write costs what changed, not the whole state. When the log outgrows
 *   twice the snapshot (and `compactMinBytes`), the store compacts: a new snapshot of
 *   generation gen+1, then a fresh log; the old log is removed. Amortised, every byte of state
 *   is rewritten a bounded number of times, so cost stays linear in the number of writes.
 * - `audit.log`: append-only JSON Lines, never rewritten; `lease.json` (+ its mutex `lease.lock`):
 *   the local lease, see lease.ts.
 *
 * Pending creates and generated secrets are flushed before their promise resolves. Opening the
 * store only reads: `plan` and `get` may open it while an apply writes (they see what was
 * durable at the time). Two writers on one folder are kept apart by the apply lease.
 *
 * WARNING: lowdb's node preset (`JSONFilePreset`) silently keeps data in memory when
 * NODE_ENV=test; this store builds `Low` on its own adapter and never uses the preset.
 */
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Low } from 'lowdb'
import type {
  AuditEntry,
  Lease,
  ObjectStatus,
  PendingCreate,
  StateStore,
  StoredEvent,
} from './types.js'
import { AtomicJsonFile, CorruptFileError, tempPrefix } from './atomic-file.js'
import { openAuditLog } from './audit-log.js'
import { createLeaseManager, isProcessAlive } from './lease.js'
import { fileSize, listLogs, openOpLog, removeLogsBefore, replayLog, type OpLog } from './op-log.js'
import { redactSecrets } from './redact.js'
import { createStatusIndex, type StatusIndex } from './status-index.js'

/** The on-disk shape of `state.json` (the snapshot). Version 1 files (no `gen`) read as gen 0. */
export interface StateFile {
  version: 1 | 2
  /** Generation of the log that continues this snapshot. */
  gen?: number
  statuses: Record<string, ObjectStatus>
  pendingCreates: Record<string, PendingCreate>
  /** key → secret name → sealed (JWE compact) value. */
  secrets: Record<string, Record<string, string>>
  /** Oldest first, at most `maxEvents`. */
  events: StoredEvent[]
}

/** One logged mutation (a line of `state.<gen>.log`); each carries the full new value of one key. */
export type StateOp =
  | { t: 'status'; key: string; value: ObjectStatus }
  | { t: 'status-'; key: string }
  | { t: 'pending'; key: string; value: PendingCreate }
  | { t: 'pending-'; key: string }
  | { t: 'secret'; key: string; name: string; value: string }
  | { t: 'event'; value: StoredEvent }

export interface StateStoreOptions {
  /** Coalesce writes made within this many ms. @default 5 */
  batchMs?: number
  /** Events ring buffer size. @default 1000 */
  maxEvents?: number
  /** Do not compact a log smaller than this. @default 4 MiB */
  compactMinBytes?: number
  /** @default Date.now */
  now?: () => number
  /** Lease mutex staleness, see lease.ts. @default 10000 */
  staleLockMs?: number
  /** Lease poll interval while waiting. @default 100 */
  leasePollMs?: number
}

/** The store plus what opening it had to repair. */
export interface OpenedStateStore extends StateStore {
  /** Messages about repairs made on open (e.g. a corrupt state.json moved aside). */
  readonly warnings: string[]
  /** The current lease, if any, without taking it. */
  currentLease(): Promise<Lease | undefined>
}

const emptyState = (): StateFile => ({ version: 2, gen: 0, statuses: {}, pendingCreates: {}, secrets: {}, events: [] })
const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const clone = <T>(v: T): T => structuredClone(v)
const byKey = (a: ObjectStatus, b: ObjectStatus): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

/**
 * Opens (creating the folder if needed) the state store in `dir`: reads the snapshot, replays
 * the log. A state.json that is not valid JSON is moved aside as `state.json.corrupt-<time>`
 * (the logs are still replayed: the store is a cache that can be rebuilt by observing); the
 * repair is reported in `warnings`.
 */
export async function openStateStore(dir: string, opts: StateStoreOptions = {}): Promise<OpenedStateStore> {
  const batchMs = opts.batchMs ?? 5
  const maxEvents = opts.maxEvents ?? 1000
  const compactMinBytes = opts.compactMinBytes ?? 4 * 1024 * 1024
  const now = opts.now ?? Date.now
  const warnings: string[] = []
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const stateFile = join(dir, 'state.json')
  await removeDeadTempFiles(dir, stateFile)

  const db = new Low<StateFile>(new AtomicJsonFile<StateFile>(stateFile), emptyState())
  // A writer may compact while we read (new snapshot, old log removed): read again if the
  // snapshot file changed under us, so a reader never misses the ops of a removed log.
  let loaded: Loaded | undefined
  for (let tries = 0; !loaded; tries++) {
    const before = await inode(stateFile)
    const l = await loadState(db, dir, stateFile, maxEvents, now, warnings)
    if (tries >= 4 || (await inode(stateFile)) === before) loaded = l
  }
  const { state, index, applyOp } = loaded
  let { snapshotBytes } = loaded
  const { gen, logBytes } = loaded
  let log: OpLog = openOpLog(dir, gen, logBytes)

  const audit = await openAuditLog(join(dir, 'audit.log'))
  const leases = createLeaseManager(dir, { now, staleLockMs: opts.staleLockMs, pollMs: opts.leasePollMs })

  /** Log lines of mutations applied in memory but not yet written. */
  let queued: string[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  let lastError: unknown

  /** A new snapshot of generation gen+1 (lowdb, atomic), then a fresh log; the old log goes. */
  const compact = async (): Promise<void> => {
    const next = log.gen + 1
    db.data = { ...state, version: 2, gen: next }
    await db.write()
    snapshotBytes = await fileSize(stateFile)
    await log.close()
    log = openOpLog(dir, next, 0)
    await removeLogsBefore(dir, next)
  }
  const writeState = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer)
      timer = undefined
    }
    chain = chain
      .catch(() => {})
      .then(async () => {
        if (queued.length === 0) return
        const lines = queued.join('')
        queued = []
        try {
          await log.write(lines)
        } catch (e) {
          queued.unshift(lines)
          throw e
        }
        // Ops applied while the snapshot is written stay queued for the next log: not lost.
        if (log.bytes > compactMinBytes && log.bytes > 2 * snapshotBytes) await compact()
      })
    return chain
  }
  /** Applies `op` in memory now and queues it for the log. */
  const mutate = (op: StateOp): void => {
    if (closed) throw new Error('state store is closed')
    applyOp(op)
    queued.push(`${JSON.stringify(op)}\n`)
    if (timer) return
    timer = setTimeout(() => {
      timer = undefined
      writeState().catch((e) => {
        lastError = e
      })
    }, batchMs)
  }
  const flush = async (): Promise<void> => {
    await Promise.all([writeState(), audit.flush()])
    if (lastError) {
      const e = lastError
      lastError = undefined
      throw e
    }
  }

  return {
    dir,
    warnings,
    getStatus: (key) => {
      const s = state.statuses[key]
      return s ? clone(s) : undefined
    },
    listStatus: (kind) => index.list(kind).sort(byKey).map(clone),
    viewStatus: (kind) => index.list(kind),
    peekStatus: (key) => state.statuses[key],
    keysByVmid: (kind, vmid) => index.keysByVmid(kind, vmid),
    putStatus(status) {
      mutate({ t: 'status', key: status.key, value: clone(status) })
    },
    deleteStatus(key) {
      if (!(key in state.statuses)) return
      mutate({ t: 'status-', key })
    },
    addEvent(e) {
      const ev: StoredEvent = {
        time: e.time ?? new Date(now()).toISOString(),
        key: e.key,
        type: e.type,
        reason: e.reason,
        message: redactSecrets(e.message),
      }
      mutate({ t: 'event', value: ev })
    },
    listEvents(o = {}) {
      let evs = state.events
      if (o.key !== undefined) evs = evs.filter((e) => e.key === o.key)
      if (o.limit !== undefined) evs = evs.slice(Math.max(0, evs.length - o.limit))
      return evs.map(clone)
    },
    appendAudit(e) {
      const entry: AuditEntry = { ...e, time: e.time ?? new Date(now()).toISOString() }
      audit.append(entry)
    },
    readAudit: (o) => audit.read(o),
    getPendingCreate: (key) => {
      const p = state.pendingCreates[key]
      return p ? clone(p) : undefined
    },
    listPendingCreates: () => Object.values(state.pendingCreates).map(clone),
    async putPendingCreate(p) {
      mutate({ t: 'pending', key: p.key, value: clone(p) })
      await flush()
    },
    async clearPendingCreate(key) {
      if (!(key in state.pendingCreates)) return
      mutate({ t: 'pending-', key })
      await flush()
    },
    getGeneratedSecret: (key, name) => state.secrets[key]?.[name],
    async putGeneratedSecret(key, name, sealed) {
      if (!JWE_COMPACT.test(sealed)) throw new TypeError(`refusing to store generated secret ${name} of ${key}: value is not sealed (JWE compact)`)
      mutate({ t: 'secret', key, name, value: sealed })
      await flush()
    },
    acquireLease: (owner, ttlMs, o) => leases.acquire(owner, ttlMs, o),
    renewLease: (lease, ttlMs) => leases.renew(lease, ttlMs),
    releaseLease: (lease) => leases.release(lease),
    currentLease: () => leases.current(),
    flush,
    async close() {
      if (closed) return
      await flush()
      closed = true
      await log.close()
      await audit.close()
    },
  }
}

interface Loaded {
  state: StateFile
  index: StatusIndex
  applyOp: (op: unknown) => void
  gen: number
  logBytes: number
  snapshotBytes: number
}

/** Inode of a file (changes when a compaction renames a new snapshot over it), or undefined. */
async function inode(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).ino
  } catch {
    return undefined
  }
}

/** Reads the snapshot (moving a corrupt one aside) and replays the logs of its generation and later. */
async function loadState(db: Low<StateFile>, dir: string, stateFile: string, maxEvents: number, now: () => number, warnings: string[]): Promise<Loaded> {
  let snapshotOk = true
  try {
    await db.read()
  } catch (e) {
    if (!(e instanceof CorruptFileError)) throw e
    snapshotOk = false
    const aside = `${stateFile}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`
    await rename(stateFile, aside)
    warnings.push(`state.json was not valid JSON; moved it to ${aside} and kept only what the log holds (the rest is re-learnt by observing)`)
    db.data = emptyState()
  }
  const state: StateFile = { ...emptyState(), ...db.data }
  const snapshotBytes = snapshotOk ? await fileSize(stateFile) : 0
  const index = createStatusIndex()
  for (const s of Object.values(state.statuses)) index.put(s)
  const applyOp = (raw: unknown): void => applyStateOp(state, index, maxEvents, raw)
  // Replay the logs of this snapshot's generation and later; older ones are already in it.
  const baseGen = snapshotOk ? (state.gen ?? 0) : 0
  let gen = baseGen
  let logBytes = 0
  for (const l of await listLogs(dir)) {
    if (l.gen < baseGen) continue
    logBytes = await replayLog(l.path, applyOp)
    gen = l.gen
  }
  if (state.events.length > maxEvents) state.events.splice(0, state.events.length - maxEvents)
  return { state, index, applyOp, gen, logBytes, snapshotBytes }
}

/** Applies one op to memory (live mutations and replay share this path). */
function applyStateOp(state: StateFile, index: StatusIndex, maxEvents: number, raw: unknown): void {
  const op = raw as StateOp
  if (!op || typeof op !== 'object') return
  switch (op.t) {
    case 'status':
      if (typeof op.key !== 'string' || !op.value) return
      index.remove(state.statuses[op.key])
      state.statuses[op.key] = op.value
      index.put(op.value)
      return
    case 'status-':
      index.remove(state.statuses[op.key])
      delete state.statuses[op.key]
      return
    case 'pending':
      if (typeof op.key === 'string' && op.value) state.pendingCreates[op.key] = op.value
      return
    case 'pending-':
      delete state.pendingCreates[op.key]
      return
    case 'secret':
      if (typeof op.key === 'string' && typeof op.name === 'string' && typeof op.value === 'string') (state.secrets[op.key] ??= {})[op.name] = op.value
      return
    case 'event':
      if (!op.value) return
      state.events.push(op.value)
      if (state.events.length > maxEvents) state.events.splice(0, state.events.length - maxEvents)
      return
  }
}

/** Removes temp files left by crashed writers (never those of a live process: it may be mid-write). */
async function removeDeadTempFiles(dir: string, stateFile: string): Promise<void> {
  const prefix = tempPrefix(stateFile)
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue
    const pid = Number(name.slice(prefix.length).split('.')[0])
    if (pid !== process.pid && !isProcessAlive(pid)) await unlink(join(dir, name)).catch(() => {})
  }
}
