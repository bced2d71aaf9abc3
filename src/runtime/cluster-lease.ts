/**
 * The cluster lease (DESIGN §9): two runs that change a cluster never act at once, whatever
 * folder, state dir or machine they run from. The lease lives in Proxmox itself, where every
 * client sees it, as a resource pool named `proximity-lease-<owner>` (one lease per Proximity
 * installation on a cluster; installations with different owners never touch each other's
 * guests). `POST /pools` of an existing pool fails with "already exists", and PVE checks and
 * creates under its cluster-wide config lock, so creating the pool is an atomic test-and-set.
 * The pool's `comment` holds the holder (who, host, pid), a random nonce, since and expiry.
 *
 * - **Acquire**: create the pool with our record, then read it back and compare nonces.
 * - **Held by another**: wait (polling) or fail naming the holder (LeaseHeldError shape).
 * - **Expiry and takeover**: a holder renews (`PUT /pools` comment) every ttl/3. A crashed
 *   holder stops renewing, its lease expires by itself, and a waiter takes it over once it is
 *   `skewMs` past its expiry (room for clock differences between machines), or at once when the
 *   holder ran on this host and its pid is gone. Takeover is delete + re-create, which is not
 *   atomic, so it runs under a second pool, `proximity-lease-<owner>-takeover`, created the same
 *   atomic way: only the creator of the guard may delete the expired lease, and only after
 *   reading it again and finding the same expired nonce.
 * - **Renewal** refuses to extend a lease that already expired on the holder's own clock, or
 *   whose nonce changed: the holder is told (LeaseLostError, `signal` aborted) and must stop.
 * - **Release** deletes the pool if the nonce is still ours; idempotent.
 * - **Settling**: a holder that crashed (or was interrupted) may leave a create task running in
 *   Proxmox; while it runs, the new guest shows only `lock: create` and no marker. After taking
 *   the lease we therefore wait (bounded) until no guest in our vmid range is locked `create`,
 *   so find-before-create by marker sees every guest a previous holder started.
 *
 * Why pending-create records may stay in each state dir: the guest marker is the truth. With
 * one holder at a time, a run that does not know another's pending create (other checkout,
 * other state dir, lost state dir) looks for the App's guest by marker before creating, and the
 * marker is written with the create itself (empty specHash). The one moment a guest cannot be
 * recognised is while its create task runs (the config shows only `lock: create`); a live holder
 * waits for its own tasks, and a new holder waits for those left running (settling), so nobody
 * looks for a guest in that window.
 *
 * Remaining race, narrowed but not closed: the guard itself can be left by a taker that crashed
 * mid-takeover; it expires like the lease and is removed by whoever finds it expired. Two
 * waiters that both remove a stale guard at the same moment and both re-read the same expired
 * lease before either deletes it could both take it over. Each then reads the lease back after
 * creating it and only one finds its own nonce, unless their delete/create/read steps interleave
 * exactly; the loser also finds out at its first renewal (ttl/3). It needs a crashed holder, a
 * crashed taker and two simultaneous waiters. Renewal has a smaller window of the same kind: a
 * holder that renews between a taker's re-read and its delete keeps acting until its next
 * renewal finds the new nonce. Clocks that differ by more than `skewMs` widen both windows.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { PveApiError } from '../providers/proxmox/errors.js'
import type { PveClient } from '../providers/proxmox/types.js'
import type { Lease, LeaseHeldError as LeaseHeldErrorShape } from '../store/types.js'

/** The Proxmox calls the lease uses. */
export type LeasePve = Pick<PveClient, 'pools' | 'createPool' | 'updatePool' | 'deletePool' | 'clusterGuests'>

export interface ClusterLeaseOptions {
  pve: LeasePve
  /** `Cluster.spec.owner`: the lease is per installation on the cluster. */
  owner: string
  /** Who acts, for the waiting side's messages, e.g. `proximity apply by alice@laptop (pid 42)`. */
  holder: string
  /** @default 30000 */
  ttlMs?: number
  /** Clock difference allowed between clients: an expired lease is taken over this long after its expiry. @default 5000 */
  skewMs?: number
  /** Poll interval while waiting for a held lease. @default 1000 */
  pollMs?: number
  /** After taking the lease, wait at most this long for creates a previous holder left running. @default 120000 */
  settleMs?: number
  /** Only guests in this vmid range count when settling (default: every guest). */
  vmidRange?: { min: number; max: number }
  /** @default Date.now */
  now?: () => number
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>
  /** @default os.hostname() */
  host?: string
  /** @default process.pid */
  pid?: number
  /** Whether a pid on this host is still running. @default process.kill(pid, 0) */
  isAlive?: (pid: number) => boolean
}

/** Thrown when another live holder has the lease (same shape as the store's LeaseHeldError). */
export class ClusterLeaseHeldError extends Error implements LeaseHeldErrorShape {
  override readonly name = 'LeaseHeldError'
  constructor(readonly holder: Lease, readonly poolid: string) {
    super(`another apply is running (${describeHolder(holder)}); it holds the cluster lease, pool ${poolid}: remove that pool only if the run is gone`)
  }
}

/** Thrown by renew when the lease is no longer ours: the caller must stop acting. */
export class ClusterLeaseLostError extends Error {
  override readonly name = 'LeaseLostError'
  constructor(message: string, readonly holder?: Lease) {
    super(message)
  }
}

/** A pool with the lease's name exists but does not hold a Proximity lease. */
export class ForeignLeasePoolError extends Error {
  override readonly name = 'ForeignLeasePoolError'
  constructor(readonly poolid: string) {
    super(`pool ${poolid} exists but holds no proximity lease; remove it, or set a different Cluster.spec.owner`)
  }
}

/** `owner …, pid N on host H, since T; expires at E` — who holds a lease, for messages. */
export function describeHolder(h: Lease): string {
  return `owner ${h.owner}, pid ${h.pid} on host ${h.host}, since ${h.acquiredAt}; expires at ${h.expiresAt} unless renewed`
}

/** The pool holding the lease of installation `owner`. */
export const leasePoolId = (owner: string): string => `proximity-lease-${owner}`
const guardPoolId = (owner: string): string => `${leasePoolId(owner)}-takeover`

const PREFIX = 'proximity lease '

/** The pool comment that stores a lease. */
export const formatLeaseComment = (l: Lease): string => `${PREFIX}${JSON.stringify(l)}`

/** Parses a lease pool comment; undefined when it is not one. */
export function parseLeaseComment(comment: string | undefined): Lease | undefined {
  if (!comment?.startsWith(PREFIX)) return undefined
  try {
    const v = JSON.parse(comment.slice(PREFIX.length)) as Partial<Lease>
    if (typeof v.nonce !== 'string' || typeof v.expiresAt !== 'string' || Number.isNaN(Date.parse(v.expiresAt))) return undefined
    return { owner: String(v.owner ?? 'unknown'), nonce: v.nonce, acquiredAt: String(v.acquiredAt ?? ''), expiresAt: v.expiresAt, pid: Number(v.pid ?? 0), host: String(v.host ?? 'unknown') }
  } catch {
    return undefined
  }
}

const isAlreadyExists = (e: unknown): boolean => e instanceof PveApiError && e.isAlreadyExists()
const isNotFound = (e: unknown): boolean => e instanceof PveApiError && e.isNotFound()

/** Reads a lease pool: the lease, `'missing'`, or `'foreign'` (a pool that is not a lease). */
async function readPool(pve: LeasePve, poolid: string): Promise<Lease | 'missing' | 'foreign'> {
  try {
    const [p] = await pve.pools(poolid)
    if (!p) return 'missing'
    return parseLeaseComment(p.comment) ?? 'foreign'
  } catch (e) {
    if (isNotFound(e)) return 'missing'
    throw e
  }
}

/** The current holder of `owner`'s lease on the cluster, if any (expired ones included). Read only. */
export async function readClusterLease(pve: LeasePve, owner: string): Promise<Lease | undefined> {
  const l = await readPool(pve, leasePoolId(owner))
  return typeof l === 'string' ? undefined : l
}

/** A lease this process holds. */
export interface HeldClusterLease {
  readonly lease: Lease
  readonly poolid: string
  /** Aborted when the lease is lost (taken over, or not renewed before it expired). */
  readonly signal: AbortSignal
  /** Extends the lease by its ttl, or throws ClusterLeaseLostError (and aborts `signal`). */
  renew(): Promise<void>
  /** Renews every ttl/3 in the background until released; `onLost` hears of a loss once. */
  keepAlive(onLost?: (e: Error) => void): void
  /** Stops renewing and deletes the lease if it is still ours. Idempotent; never throws for "already gone". */
  release(): Promise<void>
}

function defaultIsAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the cluster lease, waiting up to `waitMs` (0: one try) while another run holds it;
 * `onWait` is called once with the holder when waiting starts. Throws ClusterLeaseHeldError
 * naming the holder when the wait ends, ForeignLeasePoolError for a foreign pool of the same
 * name, and PveApiError when Proxmox cannot be reached. Then waits for creates a previous holder
 * left running (see "Settling" above).
 */
export async function acquireClusterLease(
  opts: ClusterLeaseOptions,
  wait: { waitMs?: number; onWait?: (holder: Lease) => void } = {},
): Promise<HeldClusterLease> {
  const pve = opts.pve
  const now = opts.now ?? Date.now
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const ttlMs = opts.ttlMs ?? 30_000
  const skewMs = opts.skewMs ?? 5000
  const pollMs = opts.pollMs ?? 1000
  const host = opts.host ?? hostname()
  const pid = opts.pid ?? process.pid
  const isAlive = opts.isAlive ?? defaultIsAlive
  const poolid = leasePoolId(opts.owner)
  const guardId = guardPoolId(opts.owner)
  if (!(ttlMs > 0)) throw new RangeError('lease ttl must be positive')

  const record = (ttl = ttlMs): Lease => {
    const t = now()
    return { owner: opts.holder, nonce: randomBytes(16).toString('hex'), acquiredAt: new Date(t).toISOString(), expiresAt: new Date(t + ttl).toISOString(), pid, host }
  }
  /** Past its expiry plus the skew allowance, or its holder is a dead process on this host. */
  const takeable = (l: Lease): boolean => now() > Date.parse(l.expiresAt) + skewMs || (l.host === host && l.pid !== pid && !isAlive(l.pid))

  /** Creates `id` holding `mine` and reads it back: true when it is ours. */
  const createAndVerify = async (id: string, mine: Lease): Promise<boolean | 'exists'> => {
    try {
      await pve.createPool(id, formatLeaseComment(mine))
    } catch (e) {
      if (isAlreadyExists(e)) return 'exists'
      throw e
    }
    const back = await readPool(pve, id)
    return typeof back !== 'string' && back.nonce === mine.nonce
  }
  const deleteIfStill = async (id: string, nonce: string): Promise<void> => {
    const cur = await readPool(pve, id)
    if (typeof cur === 'string' || cur.nonce !== nonce) return
    await pve.deletePool(id).catch((e: unknown) => {
      if (!isNotFound(e)) throw e
    })
  }

  /** Takes over an expired lease under the guard; false when someone else moved first. */
  const takeOver = async (expired: Lease, mine: Lease): Promise<boolean> => {
    const guard = record()
    const got = await createAndVerify(guardId, guard)
    if (got !== true) {
      if (got === 'exists') {
        const g = await readPool(pve, guardId)
        // A guard left by a taker that crashed mid-takeover expires like a lease.
        if (typeof g !== 'string' && takeable(g)) await deleteIfStill(guardId, g.nonce)
      }
      return false
    }
    try {
      const again = await readPool(pve, poolid)
      if (typeof again === 'string' || again.nonce !== expired.nonce || !takeable(again)) return false
      await pve.deletePool(poolid).catch((e: unknown) => {
        if (!isNotFound(e)) throw e
      })
      return (await createAndVerify(poolid, mine)) === true
    } finally {
      await deleteIfStill(guardId, guard.nonce).catch(() => undefined)
    }
  }

  /** One attempt: our lease, or the live holder. */
  const tryOnce = async (): Promise<Lease | { busy: Lease }> => {
    for (let i = 0; i < 5; i++) {
      const mine = record()
      const created = await createAndVerify(poolid, mine)
      if (created === true) return mine
      const cur = await readPool(pve, poolid)
      if (cur === 'missing') continue // released between our create and read: try again
      if (cur === 'foreign') throw new ForeignLeasePoolError(poolid)
      if (created === false && cur.nonce !== mine.nonce) return { busy: cur } // lost a takeover race
      if (!takeable(cur)) return { busy: cur }
      if (await takeOver(cur, mine)) return mine
      const after = await readPool(pve, poolid)
      if (typeof after !== 'string') return { busy: after }
    }
    throw new Error(`cannot take the cluster lease ${poolid}: it keeps changing hands; try again`)
  }

  const deadline = now() + (wait.waitMs ?? 0)
  let told = false
  let lease: Lease
  for (;;) {
    const r = await tryOnce().catch((e: unknown) => {
      if (e instanceof PveApiError && e.isAuth()) {
        throw new Error(`cannot take the cluster lease (pool ${poolid}): ${e.message}; the api token needs Pool.Allocate on /pool/${poolid}`, { cause: e })
      }
      throw e
    })
    if (!('busy' in r)) {
      lease = r
      break
    }
    if (now() >= deadline) throw new ClusterLeaseHeldError(r.busy, poolid)
    if (!told) {
      told = true
      wait.onWait?.(r.busy)
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - now())))
  }

  await settle(pve, opts, now, sleep)
  return holdLease(pve, lease, poolid, ttlMs, now)
}

/** Waits (bounded by `settleMs`) until no guest of the range is locked `create`. */
async function settle(pve: LeasePve, opts: ClusterLeaseOptions, now: () => number, sleep: (ms: number) => Promise<void>): Promise<void> {
  const until = now() + (opts.settleMs ?? 120_000)
  const r = opts.vmidRange
  for (let pause = 250; ; pause = Math.min(2000, pause * 2)) {
    const guests = await pve.clusterGuests()
    const creating = guests.some((g) => g.lock === 'create' && (!r || (g.vmid >= r.min && g.vmid <= r.max)))
    if (!creating || now() >= until) return
    await sleep(pause)
  }
}

function holdLease(pve: LeasePve, lease: Lease, poolid: string, ttlMs: number, now: () => number): HeldClusterLease {
  const ctrl = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let released = false
  let onLost: ((e: Error) => void) | undefined
  const lose = (e: ClusterLeaseLostError): never => {
    if (!ctrl.signal.aborted) {
      ctrl.abort(e)
      if (timer) clearInterval(timer)
      onLost?.(e)
    }
    throw e
  }
  const held: HeldClusterLease = {
    lease,
    poolid,
    signal: ctrl.signal,
    async renew() {
      if (ctrl.signal.aborted) throw ctrl.signal.reason as Error
      // Never resurrect an expired lease: a waiter may be taking it over right now.
      if (now() > Date.parse(lease.expiresAt)) lose(new ClusterLeaseLostError(`the cluster lease ${poolid} expired before it could be renewed; stop and re-run`))
      const cur = await readPool(pve, poolid)
      if (typeof cur === 'string' || cur.nonce !== lease.nonce) {
        const by = typeof cur === 'string' ? undefined : cur
        lose(new ClusterLeaseLostError(by ? `the cluster lease was taken over (${describeHolder(by)}); stop and re-run` : `the cluster lease ${poolid} is gone; stop and re-run`, by))
      }
      const expiresAt = new Date(now() + ttlMs).toISOString()
      await pve.updatePool(poolid, { comment: formatLeaseComment({ ...lease, expiresAt }) })
      ;(lease as { expiresAt: string }).expiresAt = expiresAt
    },
    keepAlive(cb) {
      onLost = cb
      if (timer || released) return
      timer = setInterval(() => {
        held.renew().catch((e: unknown) => {
          // A failed read or write is retried at the next tick; the expiry check above ends it.
          if (!(e instanceof ClusterLeaseLostError)) return
        })
      }, Math.max(1, Math.floor(ttlMs / 3)))
      timer.unref()
    },
    async release() {
      if (released) return
      released = true
      if (timer) clearInterval(timer)
      if (ctrl.signal.aborted) return
      const cur = await readPool(pve, poolid).catch(() => 'missing' as const)
      if (typeof cur === 'string' || cur.nonce !== lease.nonce) return
      await pve.deletePool(poolid).catch((e: unknown) => {
        if (!isNotFound(e)) throw e
      })
    },
  }
  return held
}
