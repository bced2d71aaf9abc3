/**
 * The status API over a running engine: the StatusSource the API reads (manifests of the last
 * good set joined with the store's statuses, the revision and source state, readiness), the
 * change notifications it streams, and the Prometheus metrics fed from the engine's events.
 */
import type { Engine, EngineEvent } from '../engine/types.js'
import type { EngineMetrics } from '../runtime/metrics.js'
import type { ObjectStatus } from '../store/types.js'
import { createStoreStatusSource } from './store-status-source.js'
import type { ApiChange, StatusSource } from './status-source.js'

export interface EngineSourceOptions {
  engine: Engine
  metrics?: EngineMetrics
  /** Webhook deliveries (GitOps). */
  deliveries?: () => Record<string, unknown>[]
  /** Extra facts about the source (git URL, head, last fetch) for `/api/v1/revision`. */
  sourceInfo?: () => Record<string, unknown>
  now?: () => number
}

export interface EngineSource extends StatusSource {
  /** Stops following the engine. */
  close(): void
  /** Records a Proxmox request outcome for readiness (the target answers). */
  pveAnswered(ok: boolean, status: number): void
}

const ATTEMPT_RESULT: Record<string, 'success' | 'error' | 'requeue' | 'requeue_after'> = {
  Succeeded: 'success',
  Failed: 'error',
  Stalled: 'error',
  Waiting: 'requeue_after',
}

/** Follows `engine` for the API: statuses, events, revision, readiness and metrics. */
export function createEngineSource(o: EngineSourceOptions): EngineSource {
  const { engine, metrics } = o
  const now = o.now ?? Date.now
  const listeners = new Set<(c: ApiChange) => void>()
  let lastResync: string | undefined
  let firstPassDone = false
  let pve: { ok: boolean; status: number; at: number } | undefined
  const publish = (c: ApiChange): void => {
    for (const l of listeners) l(c)
  }
  const observeStatus = (s: ObjectStatus | undefined, key: string): void => {
    if (!metrics) return
    const [kind, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
    if (!s) {
      metrics.objectGone(kind, name)
      return
    }
    const ready = s.conditions.find((c) => c.type === 'Ready')?.status === 'True'
    metrics.objectReady(kind, name, ready)
    const h = s.history[0]
    if (h) metrics.reconcileDone(kind, ATTEMPT_RESULT[h.result] ?? 'error', h.durationMs / 1000)
    if (kind === 'App') metrics.appInfo(name, { ...(typeof s.inventory?.vmid === 'number' ? { vmid: s.inventory.vmid } : {}), ...(typeof s.inventory?.node === 'string' ? { node: s.inventory.node } : {}) })
  }
  // Objects known at start (a restarted serve) are in the metrics before the first change.
  for (const s of engine.store.listStatus()) if (s.kind !== 'Source') observeStatus(s, s.key)

  const off = engine.on((e: EngineEvent) => {
    switch (e.type) {
      case 'status':
        observeStatus(e.status, e.key)
        publish({ type: e.key.startsWith('Source/') ? 'source' : 'status', key: e.key })
        break
      case 'event':
        publish({ type: 'event', key: e.event.key, data: e.event })
        break
      case 'revision':
        publish({ type: 'revision', data: { revision: e.revision, previous: e.previous } })
        break
      case 'source':
        publish({ type: 'source', data: { revision: e.state.revision, invalid: e.state.invalid ? e.state.invalid.errors.length : 0 } })
        break
      case 'resync':
        lastResync = e.at
        firstPassDone = true
        metrics?.resynced(Date.parse(e.at))
        break
    }
  })

  const store = createStoreStatusSource({
    store: engine.store,
    manifests: () => engine.current().set,
    managedKinds: new Set(engine.controllers.map((c) => c.kind)),
    revision: () => {
      const st = engine.sourceState()
      return {
        revision: st.revision,
        source: st.kind,
        inputs: st.inputs,
        ...(st.invalid ? { invalid: { since: st.invalid.since, errors: st.invalid.errors.length } } : {}),
        ...(o.sourceInfo?.() ?? {}),
      }
    },
    readiness: async () => {
      const fresh = pve && now() - pve.at < 120_000
      const checks = [
        { name: 'store', ok: true },
        { name: 'engine', ok: engine.ready(), ...(engine.ready() ? {} : { message: 'starting or shutting down' }) },
        { name: 'first-pass', ok: firstPassDone, ...(firstPassDone ? {} : { message: 'the first resync has not been queued yet' }) },
        {
          name: 'target',
          ok: fresh ? pve!.ok : firstPassDone,
          ...(fresh && !pve!.ok ? { message: `the last Proxmox request failed (HTTP ${pve!.status || 'no answer'})` } : {}),
        },
      ]
      return { ready: checks.every((c) => c.ok), checks }
    },
    lastResync: () => lastResync,
    onChange: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    ...(o.deliveries ? { deliveries: o.deliveries } : {}),
    // The last backup of every app, as the BackupPolicy controller observed it (newest first).
    backups: () =>
      engine.store
        .listStatus('BackupPolicy')
        .flatMap((s) => Object.entries((s.extra?.lastBackups ?? {}) as Record<string, Record<string, unknown>>).map(([target, b]): Record<string, unknown> => ({ target, policy: s.name, ...b })))
        .sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? ''))),
  })
  return {
    ...store,
    close: off,
    pveAnswered(ok, status) {
      pve = { ok, status, at: now() }
    },
  }
}
