/**
 * The lowdb-backed state store (contract: ./types.ts). Layout under the state folder (default
 * `.proximity/`, created 0700): `state.json` (statuses, pending creates, sealed generated
 * secrets, an events ring buffer), `audit.log` (append-only JSON Lines), `lease.json` (+ its
 * short-lived mutex `lease.lock`). Mutations apply in memory at once and reach disk in batches
 * (one atomic write per `batchMs`); pending creates and generated secrets are flushed before
 * their promise resolves.
 */
import { mkdir, readdir, rename, unlink } from 'node:fs/promises'
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
import { redactSecrets } from './redact.js'

/** The on-disk shape of `state.json`. */
export interface StateFile {
  version: 1
  statuses: Record<string, ObjectStatus>
  pendingCreates: Record<string, PendingCreate>
  /** key → secret name → sealed (JWE compact) value. */
  secrets: Record<string, Record<string, string>>
  /** Oldest first, at most `maxEvents`. */
  events: StoredEvent[]
}

export interface StateStoreOptions {
  /** Coalesce writes made within this many ms. @default 5 */
  batchMs?: number
  /** Events ring buffer size. @default 1000 */
  maxEvents?: number
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

const emptyState = (): StateFile => ({ version: 1, statuses: {}, pendingCreates: {}, secrets: {}, events: [] })
const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const clone = <T>(v: T): T => structuredClone(v)

/**
 * Opens (creating if needed) the state store in `dir`. A state.json that is not valid JSON is
 * moved aside as `state.json.corrupt-<time>` and the store starts empty (it is a cache that can
 * be rebuilt by observing); the repair is reported in `warnings`.
 */
export async function openStateStore(dir: string, opts: StateStoreOptions = {}): Promise<OpenedStateStore> {
  const batchMs = opts.batchMs ?? 5
  const maxEvents = opts.maxEvents ?? 1000
  const now = opts.now ?? Date.now
  const warnings: string[] = []
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const stateFile = join(dir, 'state.json')
  await removeDeadTempFiles(dir, stateFile)

  const db = new Low<StateFile>(new AtomicJsonFile<StateFile>(stateFile), emptyState())
  try {
    await db.read()
  } catch (e) {
    if (!(e instanceof CorruptFileError)) throw e
    const aside = `${stateFile}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`
    await rename(stateFile, aside)
    warnings.push(`state.json was not valid JSON; moved it to ${aside} and started empty`)
    db.data = emptyState()
  }
  db.data = { ...emptyState(), ...db.data }
  const data = (): StateFile => db.data

  const audit = await openAuditLog(join(dir, 'audit.log'))
  const leases = createLeaseManager(dir, { now, staleLockMs: opts.staleLockMs, pollMs: opts.leasePollMs })

  let dirty = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  let lastError: unknown

  const writeState = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer)
      timer = undefined
    }
    chain = chain
      .catch(() => {})
      .then(async () => {
        if (!dirty) return
        dirty = false
        try {
          await db.write()
        } catch (e) {
          dirty = true
          throw e
        }
      })
    return chain
  }
  const schedule = (): void => {
    if (closed) throw new Error('state store is closed')
    dirty = true
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
      const s = data().statuses[key]
      return s ? clone(s) : undefined
    },
    listStatus: (kind) =>
      Object.values(data().statuses)
        .filter((s) => kind === undefined || s.kind === kind)
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map(clone),
    putStatus(status) {
      data().statuses[status.key] = clone(status)
      schedule()
    },
    deleteStatus(key) {
      if (!(key in data().statuses)) return
      delete data().statuses[key]
      schedule()
    },
    addEvent(e) {
      const ev: StoredEvent = {
        time: e.time ?? new Date(now()).toISOString(),
        key: e.key,
        type: e.type,
        reason: e.reason,
        message: redactSecrets(e.message),
      }
      const events = data().events
      events.push(ev)
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents)
      schedule()
    },
    listEvents(o = {}) {
      let evs = data().events
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
      const p = data().pendingCreates[key]
      return p ? clone(p) : undefined
    },
    listPendingCreates: () => Object.values(data().pendingCreates).map(clone),
    async putPendingCreate(p) {
      data().pendingCreates[p.key] = clone(p)
      schedule()
      await flush()
    },
    async clearPendingCreate(key) {
      if (!(key in data().pendingCreates)) return
      delete data().pendingCreates[key]
      schedule()
      await flush()
    },
    getGeneratedSecret: (key, name) => data().secrets[key]?.[name],
    async putGeneratedSecret(key, name, sealed) {
      if (!JWE_COMPACT.test(sealed)) throw new TypeError(`refusing to store generated secret ${name} of ${key}: value is not sealed (JWE compact)`)
      ;(data().secrets[key] ??= {})[name] = sealed
      schedule()
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
      await audit.close()
    },
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
