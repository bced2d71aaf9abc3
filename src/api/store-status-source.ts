/**
 * A StatusSource over a state store and the current manifest set: what the engine serves to the
 * API. Manifests come from `manifests()` (the last good set); statuses from the store. Objects that
 * are still in the store but no longer declared are listed too (with an empty spec), so a removed
 * manifest's guest stays visible until it is pruned.
 */
import type { Kind, Manifest, ManifestSet } from '../model/types.js'
import type { StateStore } from '../store/types.js'
import type { ObjectView } from './objects.js'
import type { ApiChange, Readiness, StatusSource } from './status-source.js'

export interface StoreStatusSourceOptions {
  store: StateStore
  manifests: () => ManifestSet | undefined
  /** Kinds a controller acts on; others are shown as not managed yet. */
  managedKinds: ReadonlySet<string>
  revision: () => Record<string, unknown>
  readiness: () => Promise<Readiness>
  lastResync: () => string | undefined
  /** Registers a listener for engine changes; returns its remover. */
  onChange: (listener: (c: ApiChange) => void) => () => void
  deliveries?: () => Record<string, unknown>[]
  backups?: () => Record<string, unknown>[]
}

const SET_FIELD: Record<Exclude<Kind, 'Cluster'>, keyof Omit<ManifestSet, 'cluster' | 'roots'>> = {
  App: 'apps',
  Appliance: 'appliances',
  BackupPolicy: 'backupPolicies',
  Restore: 'restores',
}

export function createStoreStatusSource(o: StoreStatusSourceOptions): StatusSource {
  const notManagedReason = (kind: string) => `no controller acts on ${kind} objects in this version; the manifest is validated but not applied`
  return {
    objects(kind) {
      const out = new Map<string, ObjectView>()
      const set = o.manifests()
      const declared = (set?.[SET_FIELD[kind]] ?? []) as Manifest[]
      const managed = o.managedKinds.has(kind)
      for (const m of declared) out.set(m.metadata.name, { manifest: m, ...(managed ? {} : { notManaged: notManagedReason(kind) }) })
      for (const s of o.store.listStatus(kind)) {
        const view = out.get(s.name)
        if (view) view.status = s
        else out.set(s.name, { status: s })
      }
      return out
    },
    object(kind, name) {
      const set = o.manifests()
      const m = ((set?.[SET_FIELD[kind]] ?? []) as Manifest[]).find((x) => x.metadata.name === name)
      const status = o.store.getStatus(`${kind}/${name}`)
      if (!m && !status) return undefined
      const managed = o.managedKinds.has(kind)
      return { ...(m ? { manifest: m } : {}), ...(status ? { status } : {}), ...(m && !managed ? { notManaged: notManagedReason(kind) } : {}) }
    },
    events: (opts) => o.store.listEvents(opts),
    revision: o.revision,
    deliveries: () => o.deliveries?.() ?? [],
    backups: () => o.backups?.() ?? [],
    summary() {
      const set = o.manifests()
      const notManaged: { kind: string; name: string; reason: string }[] = []
      for (const [kind, field] of Object.entries(SET_FIELD)) {
        if (o.managedKinds.has(kind)) continue
        for (const m of (set?.[field] ?? []) as Manifest[]) notManaged.push({ kind, name: m.metadata.name, reason: notManagedReason(kind) })
      }
      const last = o.lastResync()
      return { ...(last ? { lastResync: last } : {}), notManaged }
    },
    readiness: o.readiness,
    subscribe: o.onChange,
  }
}
