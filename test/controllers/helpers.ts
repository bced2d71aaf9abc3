/**
 * Test harness for controller convergence tests: the real simulator, the real PveClient over
 * HTTPS, the real SSH pool, a real state store, and the runtime's own attempt machinery
 * (src/runtime/attempt.ts: observe → plan → wait → apply → status on every exit path), so status
 * is built exactly as in production. Only the pass context is assembled here.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { appController } from '../../controllers/app/index.js'
import { restoreController } from '../../controllers/restore/index.js'
import { applianceController } from '../../controllers/appliance/index.js'
import type { AnyController } from '../../src/runtime/attempt.js'
import type { AppManifest, ApplianceManifest, AppSpec, ClusterSpec, ManifestSet } from '../../src/model/types.js'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import { createNodeShellPool } from '../../src/providers/ssh/index.js'
import type { NodeShellPool } from '../../src/providers/ssh/types.js'
import { createAttempter, readinessOf } from '../../src/runtime/attempt.js'
import { createReconciler, type Reconciler } from '../../src/runtime/reconciler.js'
import type { Action, ControllerContext, Result } from '../../src/runtime/controller.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { createSemaphores } from '../../src/runtime/semaphore.js'
import { createStatusRecorder } from '../../src/runtime/status.js'
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js'
import { openStateStore, type OpenedStateStore } from '../../src/store/state-store.js'
import type { AuditEntry, StateStore } from '../../src/store/types.js'

export const OWNER = 'test-owner'

export function clusterSpec(over: Partial<ClusterSpec> = {}): ClusterSpec {
  return {
    endpoint: 'https://127.0.0.1:8006',
    tls: {},
    auth: {},
    defaults: { storage: 'local-lvm', templateStorage: 'local', backupStorage: 'local', bridge: 'vmbr0', template: 'alpine-3.22', resources: { cores: 1, memory: 512, swap: 512, disk: 8 } },
    vmidRange: { min: 100, max: 199 },
    concurrency: { perNode: 2, perStorage: 1 },
    owner: OWNER,
    ...over,
  }
}

/** A normalised App manifest (as the loader would hand it over), with its specHash. */
export function app(name: string, over: Partial<AppSpec> = {}): AppManifest {
  const spec: AppSpec = {
    source: { compose: { services: { web: { image: 'nginx:1.27-alpine', ports: ['8080:80'] } } } },
    resources: { cores: 1, memory: 512, swap: 512, disk: 8 },
    network: { ip: 'dhcp' },
    hostname: name,
    expose: [],
    env: { GREETING: 'hello' },
    secrets: {},
    volumes: [],
    state: 'running',
    update: { strategy: 'snapshot', rollback: true, healthTimeout: 60_000 },
    deletionPolicy: 'Backup',
    suspend: false,
    ha: { enabled: false },
    dependsOn: [],
    ...over,
  }
  const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex')
  return { apiVersion: 'proximity/v1alpha1', kind: 'App', metadata: { name }, spec, source: { file: `${name}.yaml`, line: 1, column: 1 }, specHash }
}

export interface Harness {
  sim: RunningSimulator
  pve: PveHttpClient
  shells: NodeShellPool
  store: OpenedStateStore
  ctx: ControllerContext
  audit: AuditEntry[]
  setApps(apps: AppManifest[]): void
  setAppliances(appliances: ApplianceManifest[]): void
  /** One runtime attempt at an Appliance of the set (a fresh snapshot first). */
  reconcileAppliance(a: ApplianceManifest): Promise<Outcome>
  /** Moves the controllers' clock forward (deep checks, health timeouts). */
  advance(ms: number): void
  /** Forgets generated secret values (as if the state dir were lost). */
  forgetGeneratedSecrets(): void
  /** One runtime attempt at `a` (a fresh snapshot first); status is written by the runtime. */
  reconcile(a: AppManifest): Promise<Outcome>
  /** One runtime attempt at any key of the set (a Restore, …), a fresh snapshot first. */
  reconcileKey(key: string): Promise<Outcome>
  /** One pass over `apps`: one snapshot, then one runtime attempt per app, in order. */
  pass(apps: AppManifest[]): Promise<Outcome[]>
  /** The runtime's reconciler over the apps set with setApps (runOnce: retries, backoff, stalls). */
  reconciler(): Reconciler
  applyUntilReady(a: AppManifest, maxPasses?: number): Promise<Outcome>
  close(): Promise<void>
}

export interface Outcome {
  actions: Action[]
  result?: Result
  /** The typed error the attempt ended with (Transient, Waiting or Stalled). */
  error?: Error
}

/** Starts everything; `close()` tears it down. */
export interface HarnessOptions {
  nodes?: number
  cluster?: Partial<ClusterSpec>
  resourcesLagMs?: number
  /** The SSH host key fingerprint to pin. @default the simulator's own */
  hostKey?: string
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ nodes: opts.nodes ?? 1, taskLatencyMs: 5, resourcesLagMs: opts.resourcesLagMs ?? 0 })
  const pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
  const shells = createNodeShellPool({ host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKey: sim.ssh.privateKey, hostKey: opts.hostKey ?? sim.ssh.hostKey })
  const dir = await mkdtemp(join(tmpdir(), 'proximity-ctl-'))
  const store = await openStateStore(dir)
  const audit: AuditEntry[] = []
  const generated = new Map<string, string>()
  let offset = 0
  const set: ManifestSet = { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [] }
  const ctx: ControllerContext = {
    pve,
    shells,
    store,
    set,
    cluster: { spec: clusterSpec(opts.cluster), origin: 'test' },
    revision: 'local@sha256:test',
    secrets: {
      async resolve(key, name, ref) {
        if ('generate' in ref) {
          const id = `${key}/${name}`
          if (!generated.has(id)) generated.set(id, randomBytes(24).toString('base64url').slice(0, ref.generate.length))
          return generated.get(id) as string
        }
        if ('env' in ref) return `env-${ref.env}`
        throw new StalledError('SecretUnavailable', `secret ${name} cannot be resolved in tests`)
      },
      digest: (v) => createHmac('sha256', 'test-key').update(v).digest('hex'),
    },
    semaphores: createSemaphores({ perNode: 2, perStorage: 1 }),
    snapshot: { takenAt: 0, guests: [] },
    async refreshSnapshot() {
      ctx.snapshot = { takenAt: Date.now(), guests: await pve.clusterGuests() }
      return ctx.snapshot
    },
    statusOf: (key) => readinessOf(store, key),
    audit: (e) => audit.push({ ...e, time: new Date().toISOString() }),
    progress: () => {},
    now: () => Date.now() + offset,
    dryRun: false,
    // For controller methods called directly; runtime attempts record into their own recorder.
    status: createStatusRecorder(),
  }

  // Audit entries written by the runtime's per-key contexts land in the store; mirror them here.
  const auditing = new Proxy(store, {
    get(target, prop) {
      if (prop === 'appendAudit') {
        return (e: Parameters<StateStore['appendAudit']>[0]) => {
          audit.push({ ...e, time: e.time ?? new Date().toISOString() })
          target.appendAudit(e)
        }
      }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v
    },
  }) as StateStore
  let current: AppManifest | undefined
  const attempter = createAttempter({
    registry: new Map<string, AnyController>([['App', appController as unknown as AnyController], ['Appliance', applianceController as unknown as AnyController], ['Restore', restoreController as unknown as AnyController]]),
    store: auditing,
    // The set the runtime looks keys up in: the apps set with setApps, plus the one being reconciled.
    manifests: () => (current ? { ...set, apps: [current, ...set.apps.filter((x) => x.metadata.name !== current?.metadata.name)] } : set),
    clock: { now: () => ctx.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
    logger: { error: () => {}, warn: () => {}, info: () => {} },
  })

  const attempt = async (a: AppManifest): Promise<Outcome> => {
    current = a
    // force: a Stalled status does not short-cut the attempt (tests look at what apply does again).
    const r = await attempter.attempt(`App/${a.metadata.name}`, { ctx, orphans: new Map(), prune: false, force: true })
    if (r.outcome === 'bug' || r.outcome === 'skipped') throw r.error instanceof Error ? r.error : new Error(`${r.reason}: ${r.message}`)
    return { actions: r.actions ?? [], result: r.result, ...(r.outcome === 'success' ? {} : { error: r.error as Error }) }
  }

  const reconcileKey = async (key: string): Promise<Outcome> => {
    await ctx.refreshSnapshot()
    current = undefined
    const r = await attempter.attempt(key, { ctx, orphans: new Map(), prune: false, force: true })
    if (r.outcome === 'bug' || r.outcome === 'skipped') throw r.error instanceof Error ? r.error : new Error(`${r.reason}: ${r.message}`)
    return { actions: r.actions ?? [], result: r.result, ...(r.outcome === 'success' ? {} : { error: r.error as Error }) }
  }

  const reconcile = async (a: AppManifest): Promise<Outcome> => {
    await ctx.refreshSnapshot()
    return attempt(a)
  }

  return {
    sim,
    pve,
    shells,
    store,
    ctx,
    audit,
    setApps(apps) {
      set.apps = apps
    },
    setAppliances(appliances) {
      set.appliances = appliances
    },
    async reconcileAppliance(a) {
      await ctx.refreshSnapshot()
      current = undefined
      set.appliances = [a, ...set.appliances.filter((x) => x.metadata.name !== a.metadata.name)]
      const r = await attempter.attempt(`Appliance/${a.metadata.name}`, { ctx, orphans: new Map(), prune: false, force: true })
      if (r.outcome === 'bug' || r.outcome === 'skipped') throw r.error instanceof Error ? r.error : new Error(`${r.reason}: ${r.message}`)
      return { actions: r.actions ?? [], result: r.result, ...(r.outcome === 'success' ? {} : { error: r.error as Error }) }
    },
    advance(ms) {
      offset += ms
    },
    forgetGeneratedSecrets() {
      generated.clear()
    },
    reconcile,
    reconcileKey,
    reconciler() {
      return createReconciler({
        controllers: [appController],
        store: auditing,
        manifests: () => set,
        context: async () => {
          await ctx.refreshSnapshot()
          return ctx
        },
        logger: { error: () => {}, warn: () => {}, info: () => {} },
        options: { workers: 2, backoff: { baseMs: 10, maxMs: 50 } },
      })
    },
    async pass(apps) {
      await ctx.refreshSnapshot()
      const out: Outcome[] = []
      for (const a of apps) out.push(await attempt(a))
      return out
    },
    async applyUntilReady(a, maxPasses = 40) {
      let last: Outcome | undefined
      for (let i = 0; i < maxPasses; i++) {
        last = await reconcile(a)
        if (last.result?.ready) return last
        if (last.error && !(last.error instanceof TransientError)) return last
        await new Promise((r) => setTimeout(r, 50))
      }
      return last as Outcome
    },
    async close() {
      await shells.closeAll()
      await pve.close()
      await store.close()
      await sim.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Simulator log entries that change state (non-GET requests and SSH commands). */
export const mutating = (sim: RunningSimulator): string[] => sim.log.mutating().map((e) => `${e.method} ${e.route}`)
/** All SSH commands in the simulator log. */
export const sshEntries = (sim: RunningSimulator): string[] => sim.log.entries().filter((e) => e.method === 'SSH').map((e) => e.route)
