import { applyPowerChange } from './ct-runtime.js'
import { fail } from './errors.js'
import { guestName } from './guest-config.js'
import type { Params } from './params.js'
import { performance } from 'node:perf_hooks'
import { saveStateText, type SimGuest, type SimState } from './state.js'
import { TaskRunner } from './tasks.js'

/** Options the core needs (resolved from SimulatorOptions). */
export interface CoreOptions {
  now: () => number
  taskLatencyMs: number | Record<string, number>
  resourcesLagMs: number
  statePath?: string
  takeFailure: (type: string) => string | undefined
  /** The API token the simulator accepts (`user@realm!name`); its user is listed in /access/users. */
  tokenId?: string
  /** SHA-256 fingerprint of the node certificate (`ssl_fingerprint` in `GET /nodes`). */
  sslFingerprint?: string
}

/**
 * The simulator's mutable world: persisted state, the task runner and helpers the routes share.
 * All mutations go through here or through route handlers, which call `markDirty()`.
 */
export class SimCore {
  readonly tasks: TaskRunner
  private saveTimer: NodeJS.Timeout | undefined
  private saving: Promise<void> = Promise.resolve()
  /**
   * State version: bumped on every (possible) change (markDirty, non-GET requests, SSH commands,
   * task bodies), so derived views can be cached until it moves. Never decreases.
   */
  version = 0
  /** How long the last state serialisation took (ms); scales the save debounce. */
  private lastSerialiseMs = 0
  /** Per-node chain serialising vzdump jobs (the global vzdump flock). */
  readonly vzdumpQueue = new Map<string, Promise<void>>()
  /** Nodes answered with 595 (fault injection). */
  readonly offline = new Set<string>()

  constructor(
    public state: SimState,
    readonly opts: CoreOptions,
  ) {
    this.tasks = new TaskRunner({
      latency: (type) => this.latency(type),
      now: opts.now,
      nextPid: () => ++this.state.pidCounter,
      takeFailure: opts.takeFailure,
      onChange: () => this.touch(),
    })
  }

  /** Current time in ms. */
  now(): number {
    return this.opts.now()
  }

  /** Task latency for a type. */
  latency(type: string): number {
    const l = this.opts.taskLatencyMs
    if (typeof l === 'number') return l
    return l[type] ?? l.default ?? 50
  }

  /** Node names. */
  nodeNames(): string[] {
    return Object.keys(this.state.nodes)
  }

  /** Asserts a node exists (PVE answers an unknown node with a hostname lookup failure). */
  requireNode(node: string): void {
    if (!this.state.nodes[node]) throw fail(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`)
  }

  /** A guest by vmid, cluster-wide. */
  guest(vmid: number): SimGuest | undefined {
    return this.state.guests[String(vmid)]
  }

  /** A CT on a given node, or the real not-found 500. */
  guestOn(node: string, vmid: number): SimGuest {
    const g = this.guest(vmid)
    if (!g || g.node !== node || g.type !== 'lxc') throw fail(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`)
    return g
  }

  /** Throws `CT is locked (x)` when the guest has a lock. */
  checkLock(g: SimGuest): void {
    if (g.config.lock !== undefined) throw fail(`CT is locked (${g.config.lock})`)
  }

  /** Changes power state, recording the previous view for the `/cluster/resources` lag. */
  setStatus(g: SimGuest, status: 'running' | 'stopped'): void {
    if (g.status === status) return
    this.noteRrd(g)
    g.status = status
    g.startedAt = status === 'running' ? this.now() : undefined
    applyPowerChange(g.runtime, status, g.config, () => this.now())
    this.markDirty()
  }

  /** Records what the RRD showed before a status/name change. */
  noteRrd(g: SimGuest): void {
    const now = this.now()
    if (now - g.rrd.changedAt >= this.opts.resourcesLagMs) g.rrd = { status: g.created ? g.status : 'unknown', name: g.created ? guestName(g) : undefined, changedAt: now }
  }

  /**
   * Schedules a state save; no-op without a state path. Debounced: a burst of mutations costs one
   * serialisation, and the delay grows with what a serialisation costs (a big state is not
   * re-serialised every 50 ms while guests are being created). `save()`/`stop()` flush at once.
   */
  markDirty(): void {
    this.version++
    if (!this.opts.statePath || this.saveTimer) return
    const delay = Math.min(1000, Math.max(50, Math.ceil(this.lastSerialiseMs * 20)))
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined
      void this.save().catch(() => undefined)
    }, delay)
  }

  /** Invalidates cached views without scheduling a save. */
  touch(): void {
    this.version++
  }

  /** Persists now (serialised with earlier saves). */
  save(): Promise<void> {
    const path = this.opts.statePath
    if (!path) return Promise.resolve()
    if (this.saveTimer) {
      clearTimeout(this.saveTimer)
      this.saveTimer = undefined
    }
    const t0 = performance.now()
    const snapshot = JSON.stringify(this.state)
    this.lastSerialiseMs = performance.now() - t0
    this.saving = this.saving.catch(() => undefined).then(() => saveStateText(path, snapshot))
    return this.saving
  }

  /** Stops timers. */
  close(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer)
    this.saveTimer = undefined
    this.tasks.close()
  }
}

/** What a route handler receives. */
export interface RouteContext {
  core: SimCore
  /** Validated parameters, path parameters included. */
  params: Params
  /** Authenticated id (`root@pam` or `root@pam!proximity`). */
  user: string
  method: string
  template: string
  /** The file of a multipart upload (its name is also the `filename` parameter). */
  upload?: UploadedFile
}

/** A file received in a `multipart/form-data` request. */
export interface UploadedFile {
  name: string
  data: Uint8Array
}

/** A route handler: returns `data` (or an Envelope), throws PveError. */
export type Handler = (ctx: RouteContext) => unknown | Promise<unknown>

/** One served (method, template) pair. */
export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  handler: Handler
  /** Served without authentication (only `POST /access/ticket`). */
  noAuth?: boolean
  /**
   * The last path parameter takes the rest of the path, `/` included (PVE's
   * `fragmentDelimiter => ''`, used for `{storage}/content/{volume}`: a volume id may carry its
   * `/` raw or as `%2F`).
   */
  restParam?: boolean
}

/** String parameter accessor. */
export const str = (p: Params, k: string): string | undefined => (p[k] === undefined ? undefined : String(p[k]))
/** Number parameter accessor. */
export const num = (p: Params, k: string): number | undefined => (p[k] === undefined ? undefined : Number(p[k]))
/** Boolean parameter accessor (0/1). */
export const flag = (p: Params, k: string): boolean => Number(p[k] ?? 0) === 1
