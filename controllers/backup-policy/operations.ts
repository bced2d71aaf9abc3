/**
 * One-off backup operations behind `proximity backup now` and `proximity backup list`: a vzdump of
 * an app with notes naming the app, its revision and images (through the per-storage semaphore),
 * and every backup of the set's apps read from the backup storages. The CLI loads this module
 * lazily, as it loads the controller registry.
 */
import { renderNotesTemplate } from '../../src/model/backup-notes.js'
import { hasManagedTag } from '../../src/model/marker.js'
import { backupEntries, type BackupEntry } from '../../src/model/vzdump.js'
import type { AppManifest, BackupPolicyManifest, ClusterSpec, ManifestSet } from '../../src/model/types.js'
import type { ClusterGuest, PveClient, Upid } from '../../src/providers/proxmox/types.js'
import type { Semaphores } from '../../src/runtime/controller.js'
import type { StateStore } from '../../src/store/types.js'
import { compressParam, selects, type BackupTarget } from './desired.js'
import { backupsByTarget, uncoveredTargets, type BackupRecord } from './status.js'

/** What the operations need (a CLI session provides all of it). */
export interface BackupOpsDeps {
  pve: PveClient
  store: StateStore
  set: ManifestSet
  cluster: ClusterSpec
  semaphores: Semaphores
  /** The revision of the manifests, used when the store has no applied revision for an app. */
  revision: string
}

/** The images an app runs (compose `services.*.image`), sorted and unique. */
export function appImages(app: AppManifest): string[] {
  const services = (app.spec.source.compose as { services?: Record<string, { image?: unknown }> }).services ?? {}
  return [...new Set(Object.values(services).map((s) => s?.image).filter((i): i is string => typeof i === 'string'))].sort()
}

/** The first active policy (by name) that selects `app`, if any. */
export function policyFor(set: ManifestSet, app: AppManifest): BackupPolicyManifest | undefined {
  return [...set.backupPolicies]
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .find((p) => !p.spec.suspend && selects(p.spec, { kind: 'App', name: app.metadata.name, labels: app.metadata.labels }))
}

/** A planned one-off backup of one app. */
export interface BackupNowPlan {
  app: string
  vmid: number
  node: string
  storage: string
  params: Record<string, string | number>
  notes: string
  revision: string
}

/**
 * Where and how `app` is backed up now: its guest (store inventory confirmed by `guests`), the
 * storage and mode of the policy covering it (else the cluster's backup storage, snapshot mode),
 * and notes naming the app, its revision (the last applied one) and images. Throws a short
 * message when the app is unknown or has no guest.
 */
export function planBackupNow(deps: Pick<BackupOpsDeps, 'store' | 'set' | 'cluster' | 'revision'>, name: string, guests: readonly ClusterGuest[]): BackupNowPlan {
  const app = deps.set.apps.find((a) => a.metadata.name === name)
  if (!app) {
    const known = deps.set.apps.map((a) => a.metadata.name).sort()
    throw new Error(`no App "${name}" in the manifests${known.length > 0 ? ` (apps: ${known.join(', ')})` : ''}`)
  }
  const st = deps.store.getStatus(`App/${name}`)
  const vmid = st?.inventory?.vmid
  const guest = typeof vmid === 'number' ? guests.find((g) => g.vmid === vmid && hasManagedTag(g.tags)) : undefined
  if (!guest) throw new Error(`App ${name} has no guest yet; run proximity apply first`)
  const policy = policyFor(deps.set, app)
  const storage = policy?.spec.storage ?? deps.cluster.defaults.backupStorage
  const revision = st?.lastAppliedRevision ?? deps.revision
  const notes = renderNotesTemplate({ owner: deps.cluster.owner, app: name, revision, images: appImages(app), trigger: 'manual' })
  return {
    app: name,
    vmid: guest.vmid,
    node: guest.node,
    storage,
    revision,
    notes,
    params: { vmid: guest.vmid, storage, mode: policy?.spec.mode ?? 'snapshot', compress: compressParam(policy?.spec.compress), 'notes-template': notes },
  }
}

/** The outcome of one `backup now`. */
export interface BackupNowResult {
  app: string
  upid?: Upid
  /** Set with `wait`: the archive written. */
  volid?: string
}

/**
 * Starts the vzdump of `p` holding a slot of its storage (Cluster.concurrency.perStorage); with
 * `wait`, holds it until the task ends and finds the archive (the newest backup of the vmid whose
 * notes name the app). A failed task rejects with Proxmox's message.
 */
export async function runBackupNow(deps: Pick<BackupOpsDeps, 'pve' | 'semaphores' | 'cluster'>, p: BackupNowPlan, opts: { wait: boolean; pollMs?: number }): Promise<BackupNowResult> {
  return deps.semaphores.storage(p.storage, async () => {
    const upid = await deps.pve.vzdump(p.node, p.params)
    if (upid === 'OK') throw new Error(`Proxmox started no backup of guest ${p.vmid} on node ${p.node} (it lives on another node); run it again`)
    if (!opts.wait) return { app: p.app, upid }
    await deps.pve.waitTask(p.node, upid, { pollMs: opts.pollMs ?? 200 })
    const entries = backupEntries(await deps.pve.storageContent(p.node, p.storage, { content: 'backup', vmid: p.vmid }))
    const mine = backupsByTarget(entries, [{ kind: 'App', name: p.app, vmid: p.vmid }], deps.cluster.owner).get(`App/${p.app}`) ?? []
    return { app: p.app, upid, ...(mine[0] ? { volid: mine[0].volid } : {}) }
  })
}

/** One backup as `backup list` shows it. */
export interface ListedBackup extends Omit<BackupRecord, 'time'> {
  app: string
  kind: BackupTarget['kind']
  time: string
}

/**
 * Every backup of the set's apps (and appliances) on the backup storages in use (the policies'
 * and the cluster's default), newest first: one content listing per storage and online node,
 * duplicates of shared storages merged. `uncovered` lists apps no active policy selects.
 */
export async function listBackups(deps: Pick<BackupOpsDeps, 'pve' | 'store' | 'set' | 'cluster'>, guests: readonly ClusterGuest[]): Promise<{ items: ListedBackup[]; uncovered: string[] }> {
  const managed = new Set(guests.filter((g) => hasManagedTag(g.tags)).map((g) => g.vmid))
  const vmidOf = (key: string): number | undefined => {
    const v = deps.store.getStatus(key)?.inventory?.vmid
    return typeof v === 'number' && managed.has(v) ? v : undefined
  }
  const targets: BackupTarget[] = [
    ...deps.set.apps.map((a) => ({ kind: 'App' as const, name: a.metadata.name, labels: a.metadata.labels, vmid: vmidOf(`App/${a.metadata.name}`) })),
    ...deps.set.appliances.map((a) => ({ kind: 'Appliance' as const, name: a.metadata.name, labels: a.metadata.labels, vmid: vmidOf(`Appliance/${a.metadata.name}`) })),
  ]
  const storages = [...new Set([deps.cluster.defaults.backupStorage, ...deps.set.backupPolicies.map((p) => p.spec.storage ?? deps.cluster.defaults.backupStorage)])].sort()
  const nodes = (await deps.pve.nodes()).filter((n) => n.status === 'online').map((n) => n.node).sort()
  const seen = new Map<string, BackupEntry>()
  for (const storage of storages) {
    for (const node of nodes) {
      let items
      try {
        items = await deps.pve.storageContent(node, storage, { content: 'backup' })
      } catch {
        continue // the storage is not available on this node
      }
      for (const e of backupEntries(items)) if (!seen.has(e.volid)) seen.set(e.volid, e)
    }
  }
  const items: ListedBackup[] = []
  for (const [key, list] of backupsByTarget([...seen.values()], targets, deps.cluster.owner)) {
    const slash = key.indexOf('/')
    for (const r of list) items.push({ ...r, kind: key.slice(0, slash) as BackupTarget['kind'], app: key.slice(slash + 1), time: r.time.toISOString() })
  }
  items.sort((a, b) => (a.time === b.time ? (a.volid < b.volid ? -1 : 1) : a.time < b.time ? 1 : -1))
  const uncovered = uncoveredTargets(deps.set.backupPolicies, targets).map((t) => `${t.kind}/${t.name}`)
  return { items, uncovered }
}
