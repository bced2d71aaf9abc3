import { createHash } from 'node:crypto'
import type { SimCore } from '../core.js'
import { fail } from '../errors.js'
import { rootfsBytes } from './shapes.js'

/** A storage every node has (the LVM installer defaults, REFERENCE §4.2.2). */
export interface StorageDef {
  id: string
  type: 'dir' | 'lvmthin'
  content: string[]
  total: number
  /** The type-specific options `storage.cfg` holds (what `GET /storage/{storage}` shows). */
  options: Record<string, string>
}

const GiB = 2 ** 30

/** `local` (dir) and `local-lvm` (lvmthin) on every node. */
export const STORAGES: StorageDef[] = [
  { id: 'local', type: 'dir', content: ['vztmpl', 'iso', 'backup', 'snippets'], total: 100 * GiB, options: { path: '/var/lib/vz' } },
  { id: 'local-lvm', type: 'lvmthin', content: ['rootdir', 'images'], total: 400 * GiB, options: { thinpool: 'data', vgname: 'pve' } },
]

/** A storage by id, or the real 500. */
export function storageDef(id: string): StorageDef {
  const s = STORAGES.find((x) => x.id === id)
  if (!s) throw fail(`storage '${id}' does not exist`)
  return s
}

/** Shuffles content types (the order is a Perl hash order in PVE: unstable, trap 24). */
export function contentText(s: StorageDef): string {
  const c = [...s.content]
  if (Math.random() < 0.5) c.reverse()
  return c.join(',')
}

/**
 * Bytes used on a storage of a node. `lvmUsed` (node → bytes) is the `lvmthin` usage when the
 * caller already summed it over the guests (`/cluster/resources` does, while listing them).
 */
export function storageUsed(core: SimCore, node: string, s: StorageDef, lvmUsed?: Map<string, number>): number {
  if (s.type !== 'dir' && lvmUsed) return lvmUsed.get(node) ?? 0
  if (s.type === 'dir') {
    let used = 0
    for (const v of Object.values(core.state.nodes[node]?.volumes ?? {})) used += v.size
    return used
  }
  let used = 0
  for (const g of Object.values(core.state.guests)) if (g.node === node) used += Math.floor(rootfsBytes(g) * 0.1)
  return used
}

/** The `/cluster/resources` storage item. */
export function storageResource(core: SimCore, node: string, s: StorageDef, lvmUsed?: Map<string, number>): Record<string, unknown> {
  return {
    id: `storage/${node}/${s.id}`,
    type: 'storage',
    storage: s.id,
    node,
    plugintype: s.type,
    status: core.offline.has(node) ? 'unknown' : 'available',
    shared: 0,
    content: contentText(s),
    disk: storageUsed(core, node, s, lvmUsed),
    maxdisk: s.total,
  }
}

/**
 * A storage as `GET /storage[/{storage}]` shows its `storage.cfg` entry (pve-storage
 * API2/Storage/Config.pm `$api_storage_config`): type, options, content and the file digest.
 */
export function storageConfigItem(s: StorageDef): Record<string, unknown> {
  return { storage: s.id, type: s.type, ...s.options, content: contentText(s), digest: STORAGE_CFG_DIGEST }
}

/** storage.cfg never changes in the simulator, so neither does its digest. */
const STORAGE_CFG_DIGEST = createHash('sha1').update(JSON.stringify(STORAGES.map((s) => [s.id, s.type, s.options, s.content]))).digest('hex')
