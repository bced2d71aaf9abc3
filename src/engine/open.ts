/**
 * The production composition root (DESIGN §1 `engine/`): takes the lease when asked, opens the
 * state store, finds the secret key, resolves the target (starting the embedded sandbox when
 * there is no Cluster), loads the controllers and creates the engine. `plan`, `apply`, `serve`,
 * the tests and the benches all open the engine here. `close()` releases everything (lease, SSH
 * connections, embedded sandbox, pending store writes) and is safe on every exit path.
 */
import { mkdir } from 'node:fs/promises'
import { hostname, userInfo } from 'node:os'
import type { Controller } from '../runtime/controller.js'
import type { Clock } from '../runtime/clock.js'
import type { RuntimeLogger } from '../runtime/logger.js'
import type { BackoffOptions } from '../runtime/backoff.js'
import type { Lease, StateStore } from '../store/types.js'
import type { HeldClusterLease } from '../runtime/cluster-lease.js'
import type { PveHttpClient } from '../providers/proxmox/client.js'
import type { PveRequestEvent } from '../providers/proxmox/engine.js'
import { resolveTarget, TargetError, type Target } from './target.js'
import { createSecretResolver, obtainKey } from './secret-resolver.js'
import { resolveKeyFile } from './key-file.js'
import { createEngine } from './engine.js'
import type { ManifestSource, SourceLoaded } from './sources/types.js'
import type { Engine, ProgressSink } from './types.js'

export interface OpenEngineOptions {
  source: ManifestSource
  /** The first good load of `source`. */
  initial: SourceLoaded
  stateDir: string
  /** The environment the target and secret refs are read from (only the CLI passes process.env). */
  env: NodeJS.ProcessEnv
  /** Relative paths (key file) resolve against this. */
  cwd: string
  /** One-line notices for people (sandbox in use, waiting for the lease). */
  announce: (line: string) => void
  /** Plans and dry runs: a missing generated secret is made up in memory, never stored. */
  dryRun?: boolean
  progress?: ProgressSink
  /** Task latency of an embedded sandbox. */
  sandboxTaskLatencyMs?: number | Record<string, number>
  /** Pre-resolved target (tests, benches); otherwise resolveTarget runs. */
  target?: Target
  /**
   * Take the lease before anything else (before the embedded sandbox loads its state, so a
   * waiting run never works from a stale copy). Runs against the sandbox take it anyway.
   */
  lease?: { waitMs: number; onWait?: (holder: Lease) => void; purpose?: string }
  clock?: Clock
  logger?: RuntimeLogger
  backoff?: BackoffOptions
  /** Every Proxmox API request the engine makes (metrics). */
  onPveRequest?: (e: PveRequestEvent) => void
}

/** An engine opened by openEngine, with the lease it holds (if any). */
export interface OpenedEngine extends Engine {
  readonly stateDir: string
  /** The lease held for the engine's life (renewed in the background), if one was taken. */
  lease(): Lease | undefined
}

const LEASE_TTL_MS = 30_000

/** Opens everything and creates the engine; on failure closes what was opened. */
export async function openEngine(opts: OpenEngineOptions): Promise<OpenedEngine> {
  const { stateDir } = opts
  const cleanups: (() => Promise<void>)[] = []
  const runCleanups = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn()
      } catch {
        // cleanup failures must not hide the original outcome
      }
    }
  }
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 })
    const [sec, { openStateStore }] = await Promise.all([import('../manifest/secrets.js'), import('../store/state-store.js')])
    // The lease lives in its own store handle: the working store is opened only once the lease is
    // held, so a run that waited for another one never starts from a stale copy of the state.
    let leaseStore: StateStore | undefined
    let lease: Lease | undefined
    let renewTimer: NodeJS.Timeout | undefined
    // The cluster lease (real targets) talks to Proxmox through its own client: no audit entry
    // per renewal, and it outlives the working client until it is released, last.
    let clusterLease: HeldClusterLease | undefined
    let leasePve: PveHttpClient | undefined
    let resolved: Target | undefined
    cleanups.push(async () => {
      if (renewTimer) clearInterval(renewTimer)
      if (lease && !clusterLease) await leaseStore?.releaseLease(lease)
      lease = undefined
      await leaseStore?.close()
      await clusterLease?.release().catch(() => undefined)
      await leasePve?.close()
    })
    const takeClusterLease = async (t: Target, waitMs: number, onWait?: (holder: Lease) => void, purpose = 'apply'): Promise<Lease> => {
      const [{ acquireClusterLease }, { createPveClient }] = await Promise.all([import('../runtime/cluster-lease.js'), import('../providers/proxmox/client.js')])
      leasePve ??= createPveClient({ endpoint: t.pve.endpoint, tls: t.pve.tls, auth: t.pve.auth })
      clusterLease = await acquireClusterLease({ pve: leasePve, owner: t.cluster.spec.owner, holder: `proximity ${purpose} by ${safeUser()}`, vmidRange: t.cluster.spec.vmidRange }, { waitMs, onWait })
      clusterLease.keepAlive((e) => opts.announce(`error: ${e.message}`))
      lease = clusterLease.lease
      return lease
    }
    const takeLease = async (waitMs: number, onWait?: (holder: Lease) => void, purpose = 'apply'): Promise<Lease> => {
      if (lease) return lease
      // Against a real cluster the lease is held in Proxmox, where every client sees it; the
      // embedded sandbox lives inside this process, so a lock beside its state file serialises it.
      if (resolved && !resolved.sandbox) return takeClusterLease(resolved, waitMs, onWait, purpose)
      leaseStore ??= await openStateStore(stateDir)
      const owner = `proximity ${purpose} by ${safeUser()}@${hostname()} (pid ${process.pid})`
      try {
        lease = await leaseStore.acquireLease(owner, LEASE_TTL_MS, { waitMs: 0 })
      } catch (e) {
        const holder = (e as { holder?: Lease }).holder
        if (!holder || waitMs <= 0) throw e
        onWait?.(holder)
        lease = await leaseStore.acquireLease(owner, LEASE_TTL_MS, { waitMs })
      }
      renewTimer = setInterval(() => {
        if (lease) leaseStore?.renewLease(lease, LEASE_TTL_MS).catch(() => undefined)
      }, LEASE_TTL_MS / 3)
      renewTimer.unref()
      return lease
    }
    const set = opts.initial.set
    const sandbox = !opts.target && !set.cluster && !opts.env.PROXIMITY_ENDPOINT
    if (sandbox && opts.lease) await takeLease(opts.lease.waitMs, opts.lease.onWait, opts.lease.purpose)
    else if (sandbox) await takeLease(30_000, (h) => opts.announce(`waiting for another run using the sandbox (owner ${h.owner})`))
    const keyInfo = resolveKeyFile(opts.env, opts.cwd, stateDir)
    const key = await obtainKey(sec, keyInfo.path, keyInfo.autoCreate || opts.target?.sandbox !== undefined)
    const target =
      opts.target ??
      (await resolveTarget({
        set,
        env: opts.env,
        cwd: opts.cwd,
        stateDir,
        announce: opts.announce,
        sandboxTaskLatencyMs: opts.sandboxTaskLatencyMs,
        resolveSecret: async (ref, baseDir, field) => {
          try {
            return await sec.resolveSecretRef(ref, { key, env: opts.env, baseDir })
          } catch (e) {
            throw new TargetError(`Cluster ${field}: ${(e as Error).message}`)
          }
        },
      }))
    cleanups.push(() => target.close())
    resolved = target
    // A real cluster's lease is taken once the target is known, before the working store is read.
    if (!sandbox && opts.lease) await takeLease(opts.lease.waitMs, opts.lease.onWait, opts.lease.purpose)
    const store = await openStateStore(stateDir)
    cleanups.push(async () => {
      await store.flush()
      await store.close()
    })
    const { registerControllers } = await import('../../controllers/index.js')
    const engine = createEngine({
      target,
      store,
      source: opts.source,
      initial: opts.initial,
      controllers: registerControllers() as Controller[],
      secrets: (currentSet) => createSecretResolver(sec, { set: currentSet, store, key, env: opts.env, keyPath: keyInfo.path, dryRun: opts.dryRun }),
      clock: opts.clock,
      logger: opts.logger,
      progress: opts.progress,
      backoff: opts.backoff,
      ...(opts.onPveRequest ? { onPveRequest: opts.onPveRequest } : {}),
      onClose: runCleanups,
    })
    return Object.assign(engine, { stateDir, lease: () => lease })
  } catch (e) {
    await runCleanups()
    throw e
  }
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}
