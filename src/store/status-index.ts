/**
 * In-memory indexes over the stored statuses, kept up to date by every put and delete (and by
 * log replay), so the lookups a reconcile makes per key cost O(1) instead of a scan and a deep
 * copy of every status: statuses by kind, and the keys whose inventory names a vmid.
 */
import type { ObjectStatus } from './types.js'

export interface StatusIndex {
  /** Adds (or re-adds) a status; the previous version must have been removed first. */
  put(s: ObjectStatus): void
  /** Forgets a status (no-op for undefined). */
  remove(s: ObjectStatus | undefined): void
  /** The stored objects of `kind` (all kinds when undefined), in no particular order; not copies. */
  list(kind?: string): ObjectStatus[]
  /** Keys of `kind` whose inventory names `vmid`. */
  keysByVmid(kind: string, vmid: number): string[]
}

export function createStatusIndex(): StatusIndex {
  const byKind = new Map<string, Map<string, ObjectStatus>>()
  const byVmid = new Map<string, Map<number, Set<string>>>()
  return {
    put(s) {
      let m = byKind.get(s.kind)
      if (!m) byKind.set(s.kind, (m = new Map()))
      m.set(s.key, s)
      const vmid = s.inventory?.vmid
      if (typeof vmid !== 'number') return
      let v = byVmid.get(s.kind)
      if (!v) byVmid.set(s.kind, (v = new Map()))
      let keys = v.get(vmid)
      if (!keys) v.set(vmid, (keys = new Set()))
      keys.add(s.key)
    },
    remove(s) {
      if (!s) return
      byKind.get(s.kind)?.delete(s.key)
      const vmid = s.inventory?.vmid
      if (typeof vmid !== 'number') return
      const v = byVmid.get(s.kind)
      const keys = v?.get(vmid)
      if (!keys) return
      keys.delete(s.key)
      if (keys.size === 0) v!.delete(vmid)
    },
    list(kind) {
      if (kind !== undefined) return [...(byKind.get(kind)?.values() ?? [])]
      return [...byKind.values()].flatMap((m) => [...m.values()])
    },
    keysByVmid(kind, vmid) {
      return [...(byVmid.get(kind)?.get(vmid) ?? [])]
    },
  }
}
