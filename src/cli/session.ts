/**
 * The production wiring of a reconcile session (DESIGN §4–§6): target, Proxmox client, node
 * shells, state store, secret resolver, semaphores, the controller registry, the per-pass
 * ControllerContext factory, the apply lease and the revision. `close()` releases everything
 * (lease, SSH connections, embedded sandbox, pending store writes) and is safe to call on every
 * exit path, more than once.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { existsSync } from 'node:fs'
import { appendFile, mkdir } from 'node:fs/promises'
import { hostname, userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import type { CliContext } from './context.js'
import { resolveTarget, TargetError, type Target } from './target.js'
import { computeRevision } from './revision.js'
import { resolveKeyLocation, type KeyLocation } from './key-location.js'
import { createSecretResolver, obtainKey } from './secret-resolver.js'
import { silentProgress, type ProgressReporter } from './progress.js'
import type { ManifestSet } from '../model/types.js'
import type { ClusterSnapshot, Controller, PassContext, SecretResolver, Semaphores } from '../runtime/controller.js'
import type { BackoffOptions } from '../runtime/backoff.js'
import type { Reconciler } from '../runtime/reconciler.js'
import type { RuntimeLogger } from '../runtime/logger.js'
import { redactSecrets } from '../store/redact.js'
import { StalledError } from '../runtime/errors.js'
import type { PveClient } from '../providers/proxmox/types.js'
import type { NodeShell, NodeShellPool } from '../providers/ssh/types.js'
import type { Lease, StateStore } from '../store/types.js'

/** Heavy modules are imported lazily so `validate`, `get` and `--help` start fast. */
const secretsModule = () => import('../manifest/secrets.js')

/** `--state-dir` resolved against the working directory; default `<cwd>/.proximity`. */
export function resolveStateDir(ctx: Pick<CliContext, 'cwd'>, value: string | undefined): string {
  return resolve(ctx.cwd, value ?? '.proximity')
}

/**
 * Where the secret key is (issue 7: never created in the state dir): see resolveKeyLocation in
 * ./key-location.ts. `notice` is set when a key from an old location is used.
 */
export function resolveKeyFile(env: NodeJS.ProcessEnv, cwd: string, stateDir: string): KeyLocation {
  return resolveKeyLocation(env, cwd, stateDir)
}

export interface SessionOptions {
  ctx: CliContext
  set: ManifestSet
  /** The `-f` inputs, for the revision. */
  paths: string[]
  stateDir: string
  dryRun?: boolean
  progress?: ProgressReporter
  /** Task latency of an embedded sandbox. */
  sandboxTaskLatencyMs?: number | Record<string, number>
  /** Pre-resolved target (tests, benches); otherwise resolveTarget runs. */
  target?: Target
  /**
   * Take the apply lease before anything else (before the embedded sandbox loads its state, so a
   * waiting apply never works from a stale copy). Plans against the sandbox take it too.
   */
  lease?: { waitMs: number; onWait?: (holder: Lease) => void }
}

/** Everything one pass of the reconciler needs, plus the apply lease. */
export interface Session {
  target: Target
  store: StateStore
  pve: PveClient
  shells: NodeShellPool
  secrets: SecretResolver
  semaphores: Semaphores
  controllers: Controller[]
  revision: string
  set: ManifestSet
  /**
   * Builds the context of one pass: takes ONE cluster snapshot (`GET /cluster/resources?type=vm`)
   * shared by every object of the pass (the reconciler derives per-key contexts from it).
   */
  newContext(opts: { dryRun: boolean }): Promise<PassContext>
  /** A reconciler over this session's controllers, store, set and context factory. */
  reconciler(opts?: { workers?: number; backoff?: BackoffOptions }): Reconciler
  /**
   * Takes the apply lease (renewed in the background) or throws the store's LeaseHeldError.
   * Prefer `SessionOptions.lease`, which takes it before the working store is read.
   */
  acquireLease(waitMs: number, onWait?: (holder: Lease) => void): Promise<Lease>
  /** Idempotent cleanup: lease, SSH, sandbox, store. */
  close(): Promise<void>
}

const LEASE_TTL_MS = 30_000

/**
 * Set while a controller method runs. Controllers audit every mutating call themselves, with the
 * object key and the plan step (STYLE "One controller"); the clients' transport-level audit hook
 * records only calls made outside a controller, so each call appears once in the audit log.
 */
const inController = new AsyncLocalStorage<true>()

/** Wraps a controller so its calls run inside `inController` (behaviour unchanged). */
function markControllerCalls(c: Controller): Controller {
  const w: Controller = {
    kind: c.kind,
    phases: c.phases,
    ...(c.waitingPhase !== undefined ? { waitingPhase: c.waitingPhase } : {}),
    ...(c.watches !== undefined ? { watches: c.watches } : {}),
    observe: (ctx, obj) => inController.run(true, () => c.observe(ctx, obj)),
    plan: (obj, observed, ctx) => c.plan(obj, observed, ctx),
    apply: (ctx, obj, actions) => inController.run(true, () => c.apply(ctx, obj, actions)),
    finalize: (ctx, record) => inController.run(true, () => c.finalize(ctx, record)),
  }
  if (c.orphans) w.orphans = (ctx, o) => inController.run(true, () => c.orphans!(ctx, o))
  if (c.planDelete) w.planDelete = (record) => c.planDelete!(record)
  return w
}

/**
 * Opens a session: resolves the target (starting the sandbox if needed), opens the store, builds
 * the clients and loads the controllers. On failure everything opened so far is closed again.
 */
export async function openSession(opts: SessionOptions): Promise<Session> {
  const { ctx, set, stateDir } = opts
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
    const [sec, { createPveClient }, { openStateStore }, { createSemaphores }] = await Promise.all([
      secretsModule(),
      import('../providers/proxmox/client.js'),
      import('../store/state-store.js'),
      import('../runtime/semaphore.js'),
    ])
    // The lease lives in its own store handle: the working store is opened only once the lease is
    // held, so a run that waited for another one never starts from a stale copy of the state.
    // Opened only by runs that take the lease (apply, and anything using the sandbox).
    let leaseStore: StateStore | undefined
    let lease: Lease | undefined
    let renewTimer: NodeJS.Timeout | undefined
    cleanups.push(async () => {
      if (renewTimer) clearInterval(renewTimer)
      if (lease) await leaseStore?.releaseLease(lease)
      lease = undefined
      await leaseStore?.close()
    })
    const takeLease = async (waitMs: number, onWait?: (holder: Lease) => void): Promise<Lease> => {
      if (lease) return lease
      leaseStore ??= await openStateStore(stateDir)
      const owner = `proximity apply by ${safeUser()}@${hostname()} (pid ${process.pid})`
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
    const sandbox = !opts.target && !set.cluster && !ctx.env.PROXIMITY_ENDPOINT
    if (opts.lease) await takeLease(opts.lease.waitMs, opts.lease.onWait)
    else if (sandbox) await takeLease(30_000, (h) => ctx.stderr.write(`waiting for another run using the sandbox (owner ${h.owner})\n`))
    const store = await openStateStore(stateDir)
    cleanups.push(async () => {
      await store.flush()
      await store.close()
    })
    const keyInfo = resolveKeyFile(ctx.env, ctx.cwd, stateDir)
    const key = await obtainKey(sec, keyInfo.path, keyInfo.autoCreate || opts.target?.sandbox !== undefined)
    const target =
      opts.target ??
      (await resolveTarget({
        set,
        env: ctx.env,
        cwd: ctx.cwd,
        stateDir,
        announce: (l) => ctx.stderr.write(`${l}\n`),
        sandboxTaskLatencyMs: opts.sandboxTaskLatencyMs,
        resolveSecret: async (ref, baseDir, field) => {
          try {
            return await sec.resolveSecretRef(ref, { key, env: ctx.env, baseDir })
          } catch (e) {
            throw new TargetError(`Cluster ${field}: ${(e as Error).message}`)
          }
        },
      }))
    cleanups.push(() => target.close())
    const revision = await computeRevision(opts.paths, set, ctx.cwd)
    const pve = createPveClient({
      endpoint: target.pve.endpoint,
      tls: target.pve.tls,
      auth: target.pve.auth,
      audit: (e) => {
        if (!inController.getStore()) store.appendAudit({ action: e.action, target: e.target, upid: e.upid, result: e.result, error: e.error, revision })
      },
    })
    cleanups.push(() => pve.close())
    const ssh = target.ssh
    const shells = ssh
      ? lazyShellPool(async () => {
          const { createNodeShellPool } = await import('../providers/ssh/client.js')
          return createNodeShellPool({
            host: ssh.host,
            port: ssh.port,
            user: ssh.user,
            privateKey: ssh.privateKey,
            hostKey: ssh.hostKey,
            audit: (e: { action: string; target: string; result: 'ok' | 'error'; error?: string }) => {
              if (!inController.getStore()) store.appendAudit({ action: e.action, target: e.target, result: e.result, error: e.error, revision })
            },
          })
        })
      : noShellPool()
    cleanups.push(() => shells.closeAll())
    const spec = target.cluster.spec
    const semaphores = createSemaphores({ perNode: spec.concurrency.perNode, perStorage: spec.concurrency.perStorage })
    const secrets = createSecretResolver(sec, { set, store, key, env: ctx.env, keyPath: keyInfo.path, dryRun: opts.dryRun })
    const { registerControllers } = await import('../../controllers/index.js')
    const controllers: Controller[] = (registerControllers() as Controller[]).map(markControllerCalls)
    const progress = opts.progress ?? silentProgress

    const newContext = async (o: { dryRun: boolean }): Promise<PassContext> => {
      const c: PassContext = {
        pve,
        shells,
        store,
        set,
        cluster: target.cluster,
        revision,
        secrets,
        semaphores,
        snapshot: { takenAt: Date.now(), guests: await pve.clusterGuests() },
        async refreshSnapshot(): Promise<ClusterSnapshot> {
          // Assigned on the pass context: per-key contexts inherit it through the prototype.
          c.snapshot = { takenAt: Date.now(), guests: await pve.clusterGuests() }
          return c.snapshot
        },
        statusOf(k: string) {
          const st = store.getStatus(k)
          if (!st) return undefined
          const ready = st.conditions.find((x) => x.type === 'Ready')
          return { ready: ready?.status === 'True', reason: ready?.reason }
        },
        audit(entry) {
          store.appendAudit({ ...entry, revision })
        },
        progress: (k, phase, detail) => progress.update(k, phase, detail),
        now: () => Date.now(),
        dryRun: o.dryRun,
      }
      return c
    }
    const { createReconciler } = await import('../runtime/reconciler.js')
    const reconciler = (o: { workers?: number; backoff?: BackoffOptions } = {}): Reconciler =>
      createReconciler({
        controllers,
        store,
        manifests: () => set,
        context: (pass) => newContext({ dryRun: pass.dryRun }),
        logger: cliLogger(ctx, stateDir),
        options: { workers: o.workers ?? 8, backoff: o.backoff, deleteThreshold: spec.deleteThreshold },
      })

    let closed = false
    return {
      target,
      store,
      pve,
      shells,
      secrets,
      semaphores,
      controllers,
      revision,
      set,
      newContext,
      reconciler,
      acquireLease: takeLease,
      async close() {
        if (closed) return
        closed = true
        await runCleanups()
      },
    }
  } catch (e) {
    await runCleanups()
    throw e
  }
}

/**
 * The runtime logger of the CLI: one short line on stderr (secret-looking values redacted);
 * stacks of unexpected errors go to `<stateDir>/errors.log`, never to the terminal.
 */
function cliLogger(ctx: CliContext, stateDir: string): RuntimeLogger {
  const line = (prefix: string, msg: string): void => {
    ctx.stderr.write(`${prefix}${redactSecrets(msg.split('\n')[0])}\n`)
  }
  return {
    error(message, err) {
      line('error: ', message)
      if (err instanceof Error && err.stack) {
        const text = `${new Date().toISOString()} ${redactSecrets(`${message}\n${err.stack}`)}\n`
        void appendFile(join(stateDir, 'errors.log'), text, { mode: 0o600 }).catch(() => undefined)
      }
    },
    warn: (m) => line('warning: ', m),
    info: () => {},
  }
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}

/**
 * A pool that loads ssh2 and connects only when the first node command runs: a steady-state
 * plan or resync runs none, so it pays neither the import nor a connection.
 */
function lazyShellPool(create: () => Promise<NodeShellPool>): NodeShellPool {
  let pool: Promise<NodeShellPool> | undefined
  let ready: NodeShellPool | undefined
  const get = (): Promise<NodeShellPool> => {
    pool ??= create().then((p) => (ready = p))
    return pool
  }
  return {
    forNode(node: string): NodeShell {
      const on = async (): Promise<NodeShell> => (await get()).forNode(node)
      return {
        pctExec: async (vmid, argv, o) => (await on()).pctExec(vmid, argv, o),
        pushFile: async (vmid, path, content, o) => (await on()).pushFile(vmid, path, content, o),
        setFeatures: async (vmid, features) => (await on()).setFeatures(vmid, features),
        unlock: async (vmid) => (await on()).unlock(vmid),
        fileSha256: async (vmid, path) => {
          const sh = await on()
          if (!sh.fileSha256) throw new Error('this ssh client cannot hash files')
          return sh.fileSha256(vmid, path)
        },
        nodePackageVersion: async (pkg) => {
          const sh = await on()
          if (!sh.nodePackageVersion) throw new Error('this ssh client cannot query node packages')
          return sh.nodePackageVersion(pkg)
        },
        close: async () => {
          if (ready) await ready.forNode(node).close()
        },
      }
    },
    sessionsOpened: () => ready?.sessionsOpened() ?? 0,
    closeAll: async () => {
      if (pool) await (await pool).closeAll()
    },
  }
}

/** A pool for targets without SSH: any node command is a Stalled error saying what to set. */
function noShellPool(): NodeShellPool {
  const fail = (): never => {
    throw new StalledError('SshNotConfigured', 'no ssh access to the nodes: set spec.ssh in the Cluster manifest or PROXIMITY_SSH_HOST')
  }
  const shell: NodeShell = {
    pctExec: async () => fail(),
    pushFile: async () => fail(),
    setFeatures: async () => fail(),
    unlock: async () => fail(),
    close: async () => {},
  }
  return { forNode: () => shell, sessionsOpened: () => 0, closeAll: async () => {} }
}

// ---------- manifest inputs ----------

/**
 * Loads and validates the `-f` inputs (all-or-nothing). On errors prints every located error
 * to stderr and resolves undefined (the caller exits 1); warnings go to stderr as well.
 */
export async function loadInputs(
  ctx: CliContext,
  paths: string[],
  opts: { stateDir: string; requireKey: boolean },
): Promise<ManifestSet | undefined> {
  const { loadManifests, formatError } = await import('../manifest/index.js')
  const keyInfo = resolveKeyFile(ctx.env, ctx.cwd, opts.stateDir)
  if (keyInfo.notice) ctx.stderr.write(`${keyInfo.notice}\n`) // issue 7: key moved out of the state dir
  const keyFile = existsSync(keyInfo.path) ? keyInfo.path : undefined
  const abs = paths.map((p) => resolve(ctx.cwd, p))
  const res = await loadManifests(abs, { keyFile, requireKey: opts.requireKey })
  const warnings = (res as { warnings?: unknown[] }).warnings ?? []
  for (const w of warnings) ctx.stderr.write(`warning: ${typeof w === 'string' ? w : formatError(w as never)}\n`)
  if (!res.ok) {
    for (const e of res.errors) ctx.stderr.write(`${formatError(e)}\n`)
    const files = new Set(res.errors.map((e) => e.file)).size
    ctx.stderr.write(`${res.errors.length} error${res.errors.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}; nothing was planned or applied\n`)
    return undefined
  }
  // issue 7: an unset {env: NAME} secret is a located error here, before any session opens.
  const { unsetEnvSecrets } = await import('./unset-env-secrets.js')
  const unset = await unsetEnvSecrets(res.set, ctx.env)
  if (unset.length > 0) {
    for (const e of unset) ctx.stderr.write(`${formatError(e)}\n`)
    ctx.stderr.write(`${unset.length} secret${unset.length === 1 ? '' : 's'} not available; nothing was planned or applied\n`)
    return undefined
  }
  return res.set
}

export { computeRevision, localRevision } from './revision.js'
export { createSecretResolver } from './secret-resolver.js'
