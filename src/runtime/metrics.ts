/**
 * Prometheus metrics (prom-client) under the names controller-runtime and client-go users already
 * alert on, plus Proxmox API calls, per-object readiness and a per-app info metric that carries
 * pve-exporter's guest id (`id="lxc/105"`) so dashboards can join the two. One registry per
 * engine; `text()` renders the exposition format.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface EngineMetrics {
  readonly registry: Registry
  reconcileDone(controller: string, result: 'success' | 'error' | 'requeue' | 'requeue_after', seconds: number): void
  queueAdded(name: string): void
  queueRetried(name: string): void
  queueDepth(name: string, depth: number): void
  queueWaited(name: string, seconds: number): void
  /** Sets the queue series from a queue's running totals (counters advance by the difference). */
  queueTotals(name: string, totals: { depth: number; adds: number; retries: number }): void
  pveRequest(method: string, route: string, status: number, seconds: number): void
  objectReady(kind: string, name: string, ready: boolean): void
  objectGone(kind: string, name: string): void
  appInfo(name: string, info: { vmid?: number; node?: string }): void
  resynced(atMs: number): void
  /** The git source's last successful fetch and the head it found. */
  sourceFetched(okAtMs: number | undefined, head: string | undefined, stale: boolean): void
  text(): Promise<string>
  readonly contentType: string
}

export function createEngineMetrics(opts: { processMetrics?: boolean } = {}): EngineMetrics {
  const registry = new Registry()
  if (opts.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry })
    // Gauges named *_total break the exposition conventions (promtool check metrics refuses them).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  }
  const reconcileTotal = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers: [registry] })
  const reconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers: [registry] })
  const reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  })
  const depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers: [registry] })
  const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers: [registry] })
  const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers: [registry] })
  const queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name'],
    buckets: [0.001, 0.01, 0.1, 1, 10, 60, 300],
    registers: [registry],
  })
  const pveTotal = new Counter({ name: 'proximity_pve_requests_total', help: 'Proxmox VE API requests by method, route template and HTTP status', labelNames: ['method', 'route', 'status'], registers: [registry] })
  const pveTime = new Histogram({
    name: 'proximity_pve_request_duration_seconds',
    help: 'Proxmox VE API request latency by method and route template',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const ready = new Gauge({ name: 'proximity_object_ready', help: '1 when the object is Ready, else 0', labelNames: ['kind', 'name'], registers: [registry] })
  const appInfo = new Gauge({ name: 'proximity_app_info', help: 'Managed app and its guest; id matches pve-exporter (lxc/<vmid>)', labelNames: ['name', 'id', 'node'], registers: [registry] })
  const lastResync = new Gauge({ name: 'proximity_last_resync_timestamp_seconds', help: 'Unix time of the last completed resync pass', registers: [registry] })
  const appInfoLabels = new Map<string, { name: string; id: string; node: string }>()
  const lastFetch = new Gauge({ name: 'proximity_source_last_fetch_success_timestamp_seconds', help: 'Unix time of the last successful fetch of the git source', registers: [registry] })
  const sourceStale = new Gauge({ name: 'proximity_source_stale', help: '1 when no fetch of the git source has succeeded for several intervals', registers: [registry] })
  const sourceHead = new Gauge({ name: 'proximity_source_head_info', help: 'The head revision last fetched from the git source', labelNames: ['revision'], registers: [registry] })
  const seenTotals = new Map<string, { adds: number; retries: number }>()

  return {
    registry,
    contentType: registry.contentType,
    reconcileDone(controller, result, seconds) {
      reconcileTotal.inc({ controller, result })
      if (result === 'error') reconcileErrors.inc({ controller })
      reconcileTime.observe({ controller }, seconds)
    },
    queueAdded: (name) => adds.inc({ name }),
    queueRetried: (name) => retries.inc({ name }),
    queueDepth: (name, d) => depth.set({ name }, d),
    queueWaited: (name, s) => queueDuration.observe({ name }, s),
    queueTotals(name, t) {
      const prev = seenTotals.get(name) ?? { adds: 0, retries: 0 }
      depth.set({ name }, t.depth)
      // A restarted queue starts again from 0: count its totals from there.
      const addDelta = t.adds >= prev.adds ? t.adds - prev.adds : t.adds
      const retryDelta = t.retries >= prev.retries ? t.retries - prev.retries : t.retries
      if (addDelta > 0) adds.inc({ name }, addDelta)
      if (retryDelta > 0) retries.inc({ name }, retryDelta)
      seenTotals.set(name, { adds: t.adds, retries: t.retries })
    },
    pveRequest(method, route, status, seconds) {
      pveTotal.inc({ method, route, status: String(status) })
      pveTime.observe({ method, route }, seconds)
    },
    objectReady: (kind, name, r) => ready.set({ kind, name }, r ? 1 : 0),
    objectGone(kind, name) {
      ready.remove({ kind, name })
      if (kind === 'App') {
        const old = appInfoLabels.get(name)
        if (old) appInfo.remove(old)
        appInfoLabels.delete(name)
      }
    },
    appInfo(name, info) {
      const labels = { name, id: info.vmid ? `lxc/${info.vmid}` : '', node: info.node ?? '' }
      const old = appInfoLabels.get(name)
      if (old && (old.id !== labels.id || old.node !== labels.node)) appInfo.remove(old)
      appInfoLabels.set(name, labels)
      appInfo.set(labels, 1)
    },
    resynced: (atMs) => lastResync.set(atMs / 1000),
    sourceFetched(okAtMs, head, stale) {
      if (okAtMs !== undefined) lastFetch.set(okAtMs / 1000)
      sourceStale.set(stale ? 1 : 0)
      if (head) {
        sourceHead.reset()
        sourceHead.set({ revision: head }, 1)
      }
    },
    text: () => registry.metrics(),
  }
}
