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
  lxcInterfaces(node: string, vmid: number): Promise<{ name: string; hwaddr: string; inet?: string }[]>
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

  /** Waits for a task to stop; resolves for `OK` / `WARNINGS: n`, rejects with PveTaskError otherwise. */
  waitTask(node: string, upid: Upid, opts?: WaitTaskOptions): Promise<TaskResult>
}
