/**
 * Public surface of the Proxmox VE simulator (DESIGN §7), used by tests, the embedded sandbox
 * and `proximity sandbox start`. Implemented in index.ts (`startSimulator`).
 */
import type { SimRequestLogEntry } from './contracts.js'

export interface SimulatorOptions {
  /** Number of nodes (`pve1`, `pve2`, … ; a single node is named `pve`). @default 1 */
  nodes?: number
  /** Serve plain HTTP instead of HTTPS. @default false */
  http?: boolean
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 0 */
  port?: number
  /** SSH node port; 0 picks a free port. @default 0 */
  sshPort?: number
  /**
   * JSON file holding the simulator state (guests, storages, tasks, …). Also the folder where the
   * TLS certificate, SSH host key and client key are kept (beside it). Omitted: in memory only,
   * with keys generated into a temp dir.
   */
  statePath?: string
  /** Duration of async tasks in ms, one figure or per task type (`vzcreate`, `vzstart`, …). @default 50 */
  taskLatencyMs?: number | Record<string, number>
  /** Delay applied to every 401, like real PVE's 3 s. @default 0 */
  authFailureDelayMs?: number
  /** Lag of `/cluster/resources` status/name/metrics in ms (REFERENCE trap 12). @default 0 */
  resourcesLagMs?: number
  /** Serve the fault-control endpoint under `/_sim/` (loopback only). @default false */
  faultsEndpoint?: boolean
  /** Clock for timestamps and lags. @default Date.now */
  now?: () => number
  /**
   * Check every successful response against its route's `returns` schema (shape-check.ts) and
   * answer 500 `simulator response drift: …` instead of a drifted body. For tests. @default false
   */
  verifyResponses?: boolean
}

export interface FaultRule {
  /** HTTP method or '*' */
  method: string
  /** Route template (`/nodes/{node}/lxc`) or a RegExp source matched against the path. */
  route: string
  /** What to do: an HTTP error, drop the connection, add latency, or a lock timeout error. */
  action:
    | { type: 'error'; status: number; message: string }
    | { type: 'drop' }
    | { type: 'latency'; ms: number }
    | { type: 'lockTimeout' }
  /** Fire this many times, then remove the rule. */
  count?: number
  /** Fire with this probability (0..1). @default 1 */
  probability?: number
  /** Only requests after the handler ran (e.g. drop the response of a successful create). */
  afterHandler?: boolean
}

export interface FaultApi {
  add(rule: FaultRule): string
  remove(id: string): void
  clear(): void
  /** Make the next task(s) of a type fail with `message` (e.g. `vzcreate`). */
  failTask(type: string, message: string, count?: number): void
  /** Node offline: every request proxied to it answers 595. */
  setNodeOffline(node: string, offline: boolean): void
  /** Edit a guest's config behind Proximity's back (as another client would). */
  editGuest(vmid: number, changes: Record<string, string | number>): void
  /** Set a guest's power state behind Proximity's back. */
  setGuestStatus(vmid: number, status: 'running' | 'stopped'): void
  /** Move a guest to another node (like a migration or HA relocation). */
  migrateGuest(vmid: number, node: string): void
  /** Set a lock on a guest (e.g. a stale `backup` lock). */
  lockGuest(vmid: number, lock: string | undefined): void
  /** Make a compose service inside a container report unhealthy (or healthy again). */
  setServiceHealth(vmid: number, project: string, service: string, health: 'healthy' | 'unhealthy' | 'starting'): void
  /**
   * Make the next `count` reloads/restarts of an appliance service (dnsmasq, caddy, nftables)
   * inside a container fail with `message` although the config passes its check (as a Caddy
   * reload whose port is taken does); the service keeps its old config.
   */
  failServiceReload(vmid: number, service: 'dnsmasq' | 'caddy' | 'nftables', message: string, count?: number): void
}

export interface RequestLog {
  entries(): SimRequestLogEntry[]
  clear(): void
  /** Entries whose method is not GET (and SSH commands that change state). */
  mutating(): SimRequestLogEntry[]
}

export interface SimulatorInfo {
  /** e.g. `https://127.0.0.1:8006` */
  endpoint: string
  host: string
  port: number
  /** SHA-256 fingerprint of the TLS certificate, colon-separated upper-case hex; '' with http. */
  fingerprint: string
  /** PEM of the self-signed certificate ('' with http). */
  caPem: string
  tokenId: string
  tokenSecret: string
  /** root@pam password */
  password: string
  ssh: {
    host: string
    port: number
    user: string
    /** Path of the client private key file (OpenSSH format). */
    privateKeyFile: string
    privateKey: string
    /** Host key fingerprint, `SHA256:<base64>` as OpenSSH prints it. */
    hostKey: string
  }
  nodes: string[]
}

export interface RunningSimulator extends SimulatorInfo {
  faults: FaultApi
  log: RequestLog
  /** Number of guests per node etc., for tests and benches. */
  guests(): { vmid: number; node: string; status: string; tags?: string; description?: string; lock?: string; config: Record<string, string | number> }[]
  /** Adds a guest directly (fast bench/test setup); `owned: false` means foreign. */
  seedGuest(g: { vmid: number; node?: string; config: Record<string, string | number>; status?: 'running' | 'stopped' }): void
  /** Persist state now. */
  save(): Promise<void>
  stop(): Promise<void>
}
