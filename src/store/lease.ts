/**
 * The local lease of one state folder (DESIGN §9: a crashed holder's lease expires by itself).
 * A real cluster's apply lease lives in Proxmox (runtime/cluster-lease.ts), where every client
 * sees it; this one serialises the runs that share the embedded sandbox, which lives inside the
 * process (its state file is loaded at start and saved at exit), so only a lock beside that file
 * can keep two processes apart. `lease.json` holds the current lease; every read-modify-write of it happens under a
 * short mutex, `lease.lock`, created with an exclusive create (`open(…, 'wx')`), which is atomic
 * between processes on a local filesystem. The mutex is held for milliseconds; one left by a
 * crashed process is broken once its pid is gone (same host) or it is older than `staleLockMs`.
 */
import { open, readFile, rename, stat, unlink, link } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Lease, LeaseHeldError as LeaseHeldErrorShape } from './types.js'
import { writeFileAtomic } from './atomic-file.js'

/** Thrown when another live holder has the lease. */
export class LeaseHeldError extends Error implements LeaseHeldErrorShape {
  override readonly name = 'LeaseHeldError'
  constructor(readonly holder: Lease) {
    super(
      `another apply is running (owner ${holder.owner}, pid ${holder.pid} on host ${holder.host}, since ${holder.acquiredAt}); it expires at ${holder.expiresAt}`,
    )
  }
}

/** Thrown by renew when the lease was taken over (it had expired): the caller must stop acting. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError'
  constructor(readonly holder: Lease | undefined) {
    super(
      holder
        ? `the apply lease was taken over by ${holder.owner} (pid ${holder.pid} on host ${holder.host}); stop and re-run`
        : 'the apply lease is gone (it expired or was released); stop and re-run',
    )
  }
}

export interface LeaseOptions {
  /** @default Date.now */
  now?: () => number
  /** A mutex older than this is treated as left by a crash. @default 10000 */
  staleLockMs?: number
  /** Poll interval while waiting for a held lease. @default 100 */
  pollMs?: number
}

export interface LeaseManager {
  acquire(owner: string, ttlMs: number, opts?: { waitMs?: number }): Promise<Lease>
  /** Extends the lease (updates `lease.expiresAt` in place) or throws LeaseLostError. */
  renew(lease: Lease, ttlMs: number): Promise<void>
  /** Gives the lease up if it is still ours; idempotent. */
  release(lease: Lease): Promise<void>
  /** The current lease, if any (expired ones included), for `doctor`-style output. */
  current(): Promise<Lease | undefined>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** True unless `pid` is known to be gone (EPERM means it exists under another user). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

interface LockInfo {
  pid: number
  host: string
  nonce: string
}

/** Creates the lease manager for a state folder. */
export function createLeaseManager(dir: string, opts: LeaseOptions = {}): LeaseManager {
  const now = opts.now ?? Date.now
  const staleLockMs = opts.staleLockMs ?? 10_000
  const pollMs = opts.pollMs ?? 100
  const leaseFile = join(dir, 'lease.json')
  const lockFile = join(dir, 'lease.lock')
  const host = hostname()

  const isDead = (info: { pid: number; host: string } | undefined): boolean =>
    !!info && info.host === host && !isProcessAlive(info.pid)

  /** Breaks a stale mutex; the rename makes sure only one breaker removes the same file. */
  const breakIfStale = async (): Promise<void> => {
    const info = await readJson<LockInfo>(lockFile)
    let age: number
    try {
      age = now() - (await stat(lockFile)).mtimeMs
    } catch {
      return
    }
    // An empty/unreadable lock is a create torn by a crash only once it has had time to be written.
    if (!(isDead(info) || age > staleLockMs || (!info && age > 1000))) return
    const aside = `${lockFile}.stale.${randomBytes(4).toString('hex')}`
    try {
      await rename(lockFile, aside)
    } catch {
      return
    }
    const moved = await readJson<LockInfo>(aside)
    if (info && moved && moved.nonce !== info.nonce) {
      // We moved a fresh lock taken after our check: put it back.
      await link(aside, lockFile).catch(() => {})
    }
    await unlink(aside).catch(() => {})
  }

  const withLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    const mine: LockInfo = { pid: process.pid, host, nonce: randomBytes(8).toString('hex') }
    const deadline = now() + staleLockMs + 5000
    for (;;) {
      try {
        const fh = await open(lockFile, 'wx', 0o600)
        try {
          await fh.writeFile(JSON.stringify(mine))
        } finally {
          await fh.close()
        }
        break
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        if (now() > deadline) throw new Error(`cannot lock ${lockFile}: it stays held; remove it if no proximity process runs`)
        await breakIfStale()
        await sleep(2 + Math.random() * 8)
      }
    }
    try {
      return await fn()
    } finally {
      const held = await readJson<LockInfo>(lockFile)
      if (held?.nonce === mine.nonce) await unlink(lockFile).catch(() => {})
    }
  }

  const usable = (l: Lease | undefined): l is Lease =>
    !!l && typeof l.nonce === 'string' && Date.parse(l.expiresAt) > now() && !isDead(l)

  const tryAcquire = (owner: string, ttlMs: number): Promise<Lease | LeaseHeldError> =>
    withLock(async () => {
      const cur = await readJson<Lease>(leaseFile)
      if (usable(cur)) return new LeaseHeldError(cur)
      const t = now()
      const lease: Lease = {
        owner,
        nonce: randomBytes(16).toString('hex'),
        acquiredAt: new Date(t).toISOString(),
        expiresAt: new Date(t + ttlMs).toISOString(),
        pid: process.pid,
        host,
      }
      await writeFileAtomic(leaseFile, `${JSON.stringify(lease, null, 2)}\n`)
      return lease
    })

  return {
    async acquire(owner, ttlMs, o = {}) {
      if (!(ttlMs > 0)) throw new RangeError('lease ttl must be positive')
      const deadline = now() + (o.waitMs ?? 0)
      for (;;) {
        const r = await tryAcquire(owner, ttlMs)
        if (!(r instanceof LeaseHeldError)) return r
        if (now() >= deadline) throw r
        await sleep(Math.min(pollMs, Math.max(1, deadline - now())))
      }
    },
    renew: (lease, ttlMs) =>
      withLock(async () => {
        const cur = await readJson<Lease>(leaseFile)
        if (!cur || cur.nonce !== lease.nonce) throw new LeaseLostError(cur)
        const next: Lease = { ...cur, expiresAt: new Date(now() + ttlMs).toISOString() }
        await writeFileAtomic(leaseFile, `${JSON.stringify(next, null, 2)}\n`)
        lease.expiresAt = next.expiresAt
      }),
    release: (lease) =>
      withLock(async () => {
        const cur = await readJson<Lease>(leaseFile)
        if (cur?.nonce === lease.nonce) await unlink(leaseFile).catch(() => {})
      }),
    current: () => readJson<Lease>(leaseFile),
  }
}
