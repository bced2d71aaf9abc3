/**
 * `createPveClient`: the `PveClient` port over HTTPS, built on the typed proxmox-api proxy with
 * our own engine (engine.ts). Casts where the PVE 8 typings are wrong (REFERENCE trap 5, 23).
 */
import { proxmoxApi, type Proxmox } from 'proxmox-api'
import { networkSideMethods } from './client-extras.js'
import { PveApiError } from './errors.js'
import { PveEngine, type PveAuth, type PveEngineOptions, type PveRequestEvent, type PveRetryOptions } from './engine.js'
import type { PveTlsOptions } from './tls.js'
import type {
  AplInfoItem, ClusterGuest, LxcConfig, NodeInfo, PveClient, StorageContentItem, TaskResult, Upid,
} from './types.js'
import { readTaskLog, waitForTask, type TaskLogLine, type WaitTaskExtraOptions } from './wait-task.js'
import type { PveEnvelope } from './wire.js'

/** One mutating call, for the audit log. Never carries parameter values. */
export interface PveAuditEntry {
  /** `POST /nodes/{node}/lxc` */
  action: string
  /** `lxc/101`, `node/pve`, `storage/local`, `backup-job/x`, … */
  target?: string
  upid?: string
  result: 'ok' | 'error'
  /** The (secret-free) error message. */
  error?: string
}

export interface PveClientOptions {
  /** `https://host:8006`; a missing port means 8006. */
  endpoint: string
  tls?: PveTlsOptions
  auth: PveAuth
  /** Per-request timeout. @default 30_000 */
  timeoutMs?: number
  retry?: PveRetryOptions
  /** Called for every POST/PUT/DELETE the client makes. */
  audit?: (entry: PveAuditEntry) => void
  /** Called for every HTTP attempt (metrics). */
  onRequest?: (event: PveRequestEvent) => void
  /** @default Date.now */
  now?: () => number
  /** Advanced engine options (ticket refresh, jitter, dispatcher). */
  engine?: Partial<Omit<PveEngineOptions, 'endpoint' | 'tls' | 'auth'>>
}

/** Our client: the `PveClient` port plus raw envelopes and lifecycle. */
export interface PveHttpClient extends PveClient {
  readonly engine: PveEngine
  /** The typed proxmox-api proxy over the same engine, for calls the port does not wrap. */
  readonly api: Proxmox.Api
  waitTask(node: string, upid: Upid, opts?: WaitTaskExtraOptions): Promise<TaskResult>
  /** A task log page with the envelope's `total`. */
  taskLog(node: string, upid: Upid, opts?: { start?: number; limit?: number }): Promise<{ lines: TaskLogLine[]; total: number }>
  /** `GET /nodes/{node}/network` with the envelope's pending `changes` diff. */
  nodeNetwork(node: string, type?: string): Promise<PveEnvelope<Record<string, unknown>[]>>
  close(): Promise<void>
}

type Params = Record<string, string | number | boolean>

/**
 * Builds a client. Validates endpoint, tls and auth at once (throws a short error), opens no
 * connection until the first call. Every method rejects with `PveApiError`; `waitTask` also with
 * `PveTaskError` / `PveTaskTimeoutError`.
 */
export function createPveClient(opts: PveClientOptions): PveHttpClient {
  const now = opts.now ?? Date.now
  const engine = new PveEngine({
    ...opts.engine,
    endpoint: opts.endpoint,
    auth: opts.auth,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
    now,
  })
  const api = proxmoxApi(engine)
  const node = (n: string) => api.nodes.$(n)
  const ct = (n: string, vmid: number) => api.nodes.$(n).lxc.$(vmid)

  /** Runs one mutating call and reports it to the audit hook. */
  async function mutate<T>(action: string, target: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call()
      const upid = typeof result === 'string' && result.startsWith('UPID:') ? result : undefined
      opts.audit?.({ action, ...(target ? { target } : {}), ...(upid ? { upid } : {}), result: 'ok' })
      return result
    } catch (err) {
      opts.audit?.({ action, ...(target ? { target } : {}), result: 'error', error: err instanceof Error ? err.message : 'unknown error' })
      throw err
    }
  }

  const upidOf = (value: unknown, where: string): Upid => {
    if (typeof value === 'string' && value.startsWith('UPID:')) return value
    throw new PveApiError({ kind: 'protocol', status: 200, reason: 'no upid', message: `${where}: expected a task id, got ${JSON.stringify(value)}`, method: where.split(' ')[0]!, pathTemplate: where.split(' ')[1]! })
  }

  const client: PveHttpClient = {
    engine,
    api,

    async version() {
      return (await api.version.$get()) as { version: string; release: string; repoid: string }
    },
    async nodes() {
      return (await api.nodes.$get()) as NodeInfo[]
    },
    async clusterGuests() {
      const items = (await api.cluster.resources.$get({ type: 'vm' })) as unknown as ClusterGuest[]
      return items.filter((i) => i.type === 'lxc' || i.type === 'qemu')
    },
    async clusterStorages() {
      const items = (await api.cluster.resources.$get({ type: 'storage' })) as unknown as Record<string, unknown>[]
      return items.filter((i) => i['type'] === 'storage') as unknown as Awaited<ReturnType<PveClient['clusterStorages']>>
    },
    async nextId(vmid) {
      const raw = (await api.cluster.nextid.$get(vmid === undefined ? {} : { vmid })) as unknown
      const id = Number(raw)
      if (!Number.isSafeInteger(id)) {
        throw new PveApiError({ kind: 'protocol', status: 200, reason: 'bad nextid', message: `GET /cluster/nextid: expected a vmid, got ${JSON.stringify(raw)}`, method: 'GET', pathTemplate: '/cluster/nextid' })
      }
      return id
    },

    async lxcConfig(n, vmid, o) {
      return (await ct(n, vmid).config.$get(o?.current === undefined ? {} : { current: o.current })) as unknown as LxcConfig
    },
    async lxcPending(n, vmid) {
      return (await ct(n, vmid).pending.$get()) as Awaited<ReturnType<PveClient['lxcPending']>>
    },
    async lxcStatus(n, vmid) {
      return (await ct(n, vmid).status.current.$get()) as unknown as Awaited<ReturnType<PveClient['lxcStatus']>>
    },
    async createLxc(n, params) {
      const target = params['vmid'] !== undefined ? `lxc/${params['vmid']}` : `node/${n}`
      return mutate('POST /nodes/{node}/lxc', target, async () => upidOf(await node(n).lxc.$post(params as never), 'POST /nodes/{node}/lxc'))
    },
    async updateLxcConfig(n, vmid, params) {
      await mutate('PUT /nodes/{node}/lxc/{vmid}/config', `lxc/${vmid}`, () => ct(n, vmid).config.$put(params as never))
    },
    async startLxc(n, vmid) {
      return mutate('POST /nodes/{node}/lxc/{vmid}/status/start', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).status.start.$post(), 'POST /nodes/{node}/lxc/{vmid}/status/start'))
    },
    async stopLxc(n, vmid) {
      return mutate('POST /nodes/{node}/lxc/{vmid}/status/stop', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).status.stop.$post(), 'POST /nodes/{node}/lxc/{vmid}/status/stop'))
    },
    async shutdownLxc(n, vmid, timeoutS) {
      const p = timeoutS === undefined ? {} : { timeout: timeoutS }
      return mutate('POST /nodes/{node}/lxc/{vmid}/status/shutdown', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).status.shutdown.$post(p), 'POST /nodes/{node}/lxc/{vmid}/status/shutdown'))
    },
    async rebootLxc(n, vmid) {
      return mutate('POST /nodes/{node}/lxc/{vmid}/status/reboot', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).status.reboot.$post(), 'POST /nodes/{node}/lxc/{vmid}/status/reboot'))
    },
    async deleteLxc(n, vmid, o) {
      const p: { purge?: boolean; force?: boolean } = {}
      if (o?.purge !== undefined) p.purge = o.purge
      if (o?.force !== undefined) p.force = o.force
      return mutate('DELETE /nodes/{node}/lxc/{vmid}', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).$delete(p), 'DELETE /nodes/{node}/lxc/{vmid}'))
    },
    async resizeLxc(n, vmid, disk, size) {
      return mutate('PUT /nodes/{node}/lxc/{vmid}/resize', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).resize.$put({ disk: disk as 'rootfs', size }), 'PUT /nodes/{node}/lxc/{vmid}/resize'))
    },
    async moveLxcVolume(n, vmid, volume, target) {
      const p: { volume: 'mp0'; 'target-vmid': number; 'target-volume': 'mp0'; digest?: string; 'target-digest'?: string } = { volume: volume as 'mp0', 'target-vmid': target.vmid, 'target-volume': (target.volume ?? volume) as 'mp0' }
      if (target.digest !== undefined) p.digest = target.digest
      if (target.targetDigest !== undefined) p['target-digest'] = target.targetDigest
      return mutate('POST /nodes/{node}/lxc/{vmid}/move_volume', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).move_volume.$post(p), 'POST /nodes/{node}/lxc/{vmid}/move_volume'))
    },
    async lxcInterfaces(n, vmid) {
      return (await ct(n, vmid).interfaces.$get()) as unknown as Awaited<ReturnType<PveClient['lxcInterfaces']>>
    },
    async lxcHasFeature(n, vmid, feature) {
      const r = (await ct(n, vmid).feature.$get({ feature })) as unknown as { hasFeature?: number | boolean }
      return r.hasFeature === 1 || r.hasFeature === true
    },
    async listSnapshots(n, vmid) {
      return (await ct(n, vmid).snapshot.$get()) as unknown as Awaited<ReturnType<PveClient['listSnapshots']>>
    },
    async createSnapshot(n, vmid, snapname, description) {
      const p = description === undefined ? { snapname } : { snapname, description }
      return mutate('POST /nodes/{node}/lxc/{vmid}/snapshot', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).snapshot.$post(p), 'POST /nodes/{node}/lxc/{vmid}/snapshot'))
    },
    async deleteSnapshot(n, vmid, snapname) {
      return mutate('DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).snapshot.$(snapname).$delete(), 'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}'))
    },
    async rollbackSnapshot(n, vmid, snapname, o) {
      const p = o?.start === undefined ? {} : { start: o.start }
      return mutate('POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback', `lxc/${vmid}`, async () => upidOf(await ct(n, vmid).snapshot.$(snapname).rollback.$post(p), 'POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback'))
    },

    async storageContent(n, storage, o) {
      const p: { content?: string; vmid?: number } = {}
      if (o?.content !== undefined) p.content = o.content
      if (o?.vmid !== undefined) p.vmid = o.vmid
      return (await node(n).storage.$(storage).content.$get(p)) as unknown as StorageContentItem[]
    },
    async deleteVolume(n, storage, volid) {
      return mutate('DELETE /nodes/{node}/storage/{storage}/content/{volume}', `storage/${storage}`, async () => upidOf(await node(n).storage.$(storage).content.$(volid).$delete(), 'DELETE /nodes/{node}/storage/{storage}/content/{volume}'))
    },
    async updateVolume(n, storage, volid, params) {
      const p: { notes?: string; protected?: boolean } = {}
      if (params.notes !== undefined) p.notes = params.notes
      if (params.protected !== undefined) p.protected = params.protected
      await mutate('PUT /nodes/{node}/storage/{storage}/content/{volume}', `storage/${storage}`, () => node(n).storage.$(storage).content.$(volid).$put(p))
    },
    async aplinfo(n) {
      return (await node(n).aplinfo.$get()) as unknown as AplInfoItem[]
    },
    async downloadTemplate(n, storage, template) {
      return mutate('POST /nodes/{node}/aplinfo', `storage/${storage}`, async () => upidOf(await node(n).aplinfo.$post({ storage, template }), 'POST /nodes/{node}/aplinfo'))
    },
    async vzdump(n, params) {
      const target = params['vmid'] !== undefined ? `lxc/${params['vmid']}` : `node/${n}`
      return mutate('POST /nodes/{node}/vzdump', target, async () => {
        const res = (await node(n).vzdump.$post(params as never)) as unknown
        return res === 'OK' ? 'OK' : upidOf(res, 'POST /nodes/{node}/vzdump')
      })
    },

    async listBackupJobs() {
      return (await api.cluster.backup.$get()) as unknown as Record<string, unknown>[]
    },
    async createBackupJob(params) {
      const target = typeof params['id'] === 'string' ? `backup-job/${params['id']}` : 'backup-job'
      await mutate('POST /cluster/backup', target, () => api.cluster.backup.$post(params as never))
    },
    async updateBackupJob(id, params) {
      await mutate('PUT /cluster/backup/{id}', `backup-job/${id}`, () => api.cluster.backup.$(id).$put(params as never))
    },
    async deleteBackupJob(id) {
      await mutate('DELETE /cluster/backup/{id}', `backup-job/${id}`, () => api.cluster.backup.$(id).$delete())
    },

    ...networkSideMethods(api, mutate),

    waitTask(n, upid, o) {
      return waitForTask(engine, n, upid, o, now)
    },
    taskLog(n, upid, o) {
      return readTaskLog(engine, n, upid, o?.start ?? 0, o?.limit ?? 50)
    },
    async nodeNetworkChanges(n) {
      return (await engine.requestRaw<unknown>('GET', `/nodes/${encodeURIComponent(n)}/network`, '/nodes/{node}/network')).changes ?? ''
    },
    nodeNetwork(n, type) {
      return engine.requestRaw<Record<string, unknown>[]>('GET', `/nodes/${encodeURIComponent(n)}/network`, '/nodes/{node}/network', type === undefined ? undefined : { type })
    },
    close() {
      return engine.close()
    },
  }
  return client
}

export type { Params as PveParams }
export { parseUpid, formatProxmoxSize } from './upid.js'
export { fingerprintOf } from './tls.js'
