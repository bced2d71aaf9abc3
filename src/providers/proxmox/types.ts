/**
 * The Proxmox port: what controllers may ask of a Proxmox VE cluster. Implemented over HTTP by
 * `createPveClient` (client.ts) using `proxmox-api` with our own request engine (engine.ts).
 * Controllers depend on this interface only; tests point it at the simulator.
 *
 * Conventions: every async Proxmox task returns its UPID and callers wait with `waitTask`;
 * failures are `PveApiError` (errors.ts) whose predicates controllers branch on.
 */

export type Upid = string

/** One item of `GET /cluster/resources?type=vm`. */
export interface ClusterGuest {
  id: string
  type: 'lxc' | 'qemu'
  vmid: number
  node: string
  status: 'running' | 'stopped' | 'unknown' | string
  name?: string
  tags?: string
  lock?: string
  template?: number
  maxmem?: number
  maxcpu?: number
  maxdisk?: number
  hastate?: string
}

/** `GET …/lxc/{vmid}/config`: typed values plus `digest`. */
export type LxcConfig = Record<string, string | number> & { digest: string }

export interface TaskStatus {
  upid: Upid
  node: string
  status: 'running' | 'stopped'
  exitstatus?: string
  type: string
  id: string
  user: string
  starttime: number
}

export interface TaskResult {
  upid: Upid
  /** `OK` or `WARNINGS: n` (anything else is thrown as a PveTaskError). */
  exitstatus: string
}

export interface StorageContentItem {
  volid: string
  content: string
  format: string
  size: number
  ctime?: number
  vmid?: number
  notes?: string
  protected?: number
  subtype?: string
}

export interface AplInfoItem {
  template: string
  package: string
  version: string
  os: string
  section: string
  headline: string
  type: string
}

export interface NodeInfo {
  node: string
  status: 'online' | 'offline' | 'unknown'
  maxmem?: number
  mem?: number
  maxcpu?: number
  cpu?: number
}

/** One item of `GET /nodes/{node}/network` (pending state when changes are queued). */
export interface NodeNetworkIface {
  iface: string
  type: string
  method?: string
  /** Absent for a not-yet-applied interface. */
  active?: number
  autostart?: number
  address?: string
  netmask?: string
  cidr?: string
  gateway?: string
  bridge_ports?: string
  bridge_vlan_aware?: number
  comments?: string
  [key: string]: unknown
}

/** One CT firewall rule; every item carries the same list-wide `digest` (REFERENCE §4.6). */
export interface FirewallRule {
  pos: number
  type: 'in' | 'out' | 'forward' | 'group' | string
  action: string
  enable?: number
  macro?: string
  proto?: string
  source?: string
  dest?: string
  sport?: string
  dport?: string
  iface?: string
  log?: string
  comment?: string
  digest?: string
}

/** One HA resource (`ct:101`). */
export interface HaResource {
  sid: string
  type: string
  state?: string
  max_restart?: number
  max_relocate?: number
  failback?: number
  comment?: string
  digest?: string
}

/** A pool, with members when read by id. */
export interface PoolInfo {
  poolid: string
  comment?: string
  members?: { id: string; vmid?: number; node?: string; type: string; status?: string; name?: string }[]
}

/** One item of `GET /nodes/{node}/tasks`. */
export interface TaskListItem {
  upid: Upid
  node: string
  type: string
  id: string
  user: string
  starttime: number
  endtime?: number
  /** `OK`, `WARNINGS: n`, the error text, or `RUNNING` (source=active). */
  status?: string
}

export interface WaitTaskOptions {
  /** @default 500 */
  pollMs?: number
  /** @default 600_000 */
  timeoutMs?: number
  /** Called on every poll with the status, for live progress. */
  onProgress?: (status: TaskStatus) => void
}

/**
 * Typed wrappers for the calls Proximity makes. Params are passed through as Proxmox names them
 * (`net0`, `rootfs`, `features`, …); booleans are sent as 0/1. All methods reject with
 * `PveApiError` (HTTP failures) or `PveTaskError` (waitTask on a failed task).
 */
export interface PveClient {
  version(): Promise<{ version: string; release: string; repoid: string }>
  nodes(): Promise<NodeInfo[]>
  /** `GET /cluster/resources?type=vm` — one read for every guest on every node. */
  clusterGuests(): Promise<ClusterGuest[]>
  /** `GET /cluster/resources?type=storage` */
  clusterStorages(): Promise<{ storage: string; node: string; content: string; plugintype: string; status: string; shared: number }[]>
  /** `GET /cluster/nextid` (the server sends a string; this returns a number). */
  nextId(vmid?: number): Promise<number>

  lxcConfig(node: string, vmid: number, opts?: { current?: boolean }): Promise<LxcConfig>
  lxcPending(node: string, vmid: number): Promise<{ key: string; value?: unknown; pending?: unknown; delete?: number }[]>
  lxcStatus(node: string, vmid: number): Promise<{ status: 'running' | 'stopped'; lock?: string; name?: string; maxmem?: number; cpus?: number; ha?: { managed: number; state?: string } }>
  createLxc(node: string, params: Record<string, string | number | boolean>): Promise<Upid>
  updateLxcConfig(node: string, vmid: number, params: Record<string, string | number | boolean>): Promise<void>
  startLxc(node: string, vmid: number): Promise<Upid>
  stopLxc(node: string, vmid: number): Promise<Upid>
  shutdownLxc(node: string, vmid: number, timeoutS?: number): Promise<Upid>
  rebootLxc(node: string, vmid: number): Promise<Upid>
  deleteLxc(node: string, vmid: number, opts?: { purge?: boolean; force?: boolean }): Promise<Upid>
  resizeLxc(node: string, vmid: number, disk: string, size: string): Promise<Upid>
  /**
   * `POST …/lxc/{vmid}/move_volume` with `target-vmid`: reassigns mount point `volume` (`mp0`…) of
   * a stopped CT to another CT on the same node, under `target.volume` (default: the same key).
   * The volume is renamed for its new owner; the data stays. `digest`/`targetDigest` guard both configs.
   */
  moveLxcVolume(node: string, vmid: number, volume: string, target: { vmid: number; volume?: string; digest?: string; targetDigest?: string }): Promise<Upid>
  lxcInterfaces(node: string, vmid: number): Promise<{ name: string; hwaddr: string; inet?: string }[]>
  /** `GET /nodes/{node}/lxc/{vmid}/feature` (e.g. `snapshot`): whether every volume of the guest supports it. */
  lxcHasFeature(node: string, vmid: number, feature: 'snapshot' | 'clone' | 'copy'): Promise<boolean>
  listSnapshots(node: string, vmid: number): Promise<{ name: string; snaptime?: number; description?: string; parent?: string }[]>
  createSnapshot(node: string, vmid: number, snapname: string, description?: string): Promise<Upid>
  deleteSnapshot(node: string, vmid: number, snapname: string): Promise<Upid>
  rollbackSnapshot(node: string, vmid: number, snapname: string, opts?: { start?: boolean }): Promise<Upid>

  storageContent(node: string, storage: string, opts?: { content?: string; vmid?: number }): Promise<StorageContentItem[]>
  deleteVolume(node: string, storage: string, volid: string): Promise<Upid>
  updateVolume(node: string, storage: string, volid: string, params: { notes?: string; protected?: boolean }): Promise<void>
  aplinfo(node: string): Promise<AplInfoItem[]>
  downloadTemplate(node: string, storage: string, template: string): Promise<Upid>
  /** Returns a UPID, or the literal 'OK' when every guest lives on another node (REFERENCE trap 16). */
  vzdump(node: string, params: Record<string, string | number | boolean>): Promise<Upid | 'OK'>

  listBackupJobs(): Promise<Record<string, unknown>[]>
  createBackupJob(params: Record<string, string | number | boolean>): Promise<void>
  updateBackupJob(id: string, params: Record<string, string | number | boolean>): Promise<void>
  deleteBackupJob(id: string): Promise<void>

  /** `GET /nodes/{node}/network` (pending state included; see PveHttpClient.nodeNetwork for the diff). */
  nodeNetworks(node: string, type?: string): Promise<NodeNetworkIface[]>
  /**
   * The node's queued (not yet applied) network changes as Proxmox's diff, '' when none
   * (`changes` of `GET /nodes/{node}/network`). Optional: callers that must never apply someone
   * else's changes treat a client without it as "unknown" and rely on the interface list.
   */
  nodeNetworkChanges?(node: string): Promise<string>
  /** `POST /nodes/{node}/network`: queued as a pending change until `applyNetwork`. */
  createNetwork(node: string, params: Record<string, string | number | boolean>): Promise<void>
  /** `PUT /nodes/{node}/network/{iface}` (`type` is required by PVE). Pending until applied. */
  updateNetwork(node: string, iface: string, params: Record<string, string | number | boolean>): Promise<void>
  /** `DELETE /nodes/{node}/network/{iface}`. Pending until applied. */
  deleteNetwork(node: string, iface: string): Promise<void>
  /** `PUT /nodes/{node}/network`: applies pending changes (`srvreload` task). */
  applyNetwork(node: string): Promise<Upid>
  /** `DELETE /nodes/{node}/network`: discards pending changes. */
  revertNetwork(node: string): Promise<void>

  firewallRules(node: string, vmid: number): Promise<FirewallRule[]>
  /** Inserted at `pos` (default 0); `enable` defaults to 0 on PVE, so pass `enable: 1` (trap 18). */
  createFirewallRule(node: string, vmid: number, params: Record<string, string | number | boolean>): Promise<void>
  updateFirewallRule(node: string, vmid: number, pos: number, params: Record<string, string | number | boolean>): Promise<void>
  deleteFirewallRule(node: string, vmid: number, pos: number, digest?: string): Promise<void>
  firewallOptions(node: string, vmid: number): Promise<Record<string, string | number>>
  updateFirewallOptions(node: string, vmid: number, params: Record<string, string | number | boolean>): Promise<void>

  haResources(): Promise<HaResource[]>
  createHaResource(params: Record<string, string | number | boolean>): Promise<void>
  updateHaResource(sid: string, params: Record<string, string | number | boolean>): Promise<void>
  deleteHaResource(sid: string): Promise<void>

  /** All pools, or one pool with its members. */
  pools(poolid?: string): Promise<PoolInfo[]>
  createPool(poolid: string, comment?: string): Promise<void>
  /** `PUT /pools`: add (or with `delete: true` remove) `vms` (a vmid list) to/from a pool. */
  updatePool(poolid: string, params: { vms?: string; comment?: string; delete?: boolean; 'allow-move'?: boolean }): Promise<void>
  deletePool(poolid: string): Promise<void>

  /** `GET /nodes/{node}/tasks` (e.g. `{vmid, source: 'active'}`). */
  listTasks(node: string, params?: Record<string, string | number | boolean>): Promise<TaskListItem[]>

  /** Waits for a task to stop; resolves for `OK` / `WARNINGS: n`, rejects with PveTaskError otherwise. */
  waitTask(node: string, upid: Upid, opts?: WaitTaskOptions): Promise<TaskResult>
}
