/**
 * The pure App plan: observation + manifest → actions (create | update | replace | noop). Apply
 * reads everything it needs from `Action.detail` (never secrets).
 */
import type { AppManifest, ClusterSpec } from '../../src/model/types.js'
import { diffGuest, worstImpact } from '../../src/plan/diff.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Action, ControllerContext } from '../../src/runtime/controller.js'
import { deployHash, desiredGuest } from './desired.js'
import type { AppObservation } from './observation.js'

/** What apply has to do, decided by plan. */
export type AppMode = 'wait' | 'creating' | 'create' | 'update' | 'replace' | 'health' | 'marker' | 'converged' | 'suspended'

/** Controller-private plan details carried in `Action.detail`. */
export interface AppDetail {
  mode: AppMode
  wait?: { reason: string; message: string; requeueAfterMs: number }
  vmid?: number
  node?: string
  digest?: string
  status?: string
  /** vmid recorded by an earlier, interrupted create (reuse it). */
  pendingVmid?: number
  /** Re-push compose/.env and run `up`. */
  deploy: boolean
  deployHash: string
  /** The template as written in the spec/defaults. */
  templateSpec: string
  /** Deploy time of the deploy being health-checked (ms epoch). */
  deployStartedAt?: number
  /** The marker's current specHash (description is rewritten with the new one last). */
  markerSpecHash?: string
  /** Set when observe read the full config (not the snapshot fast path): when it did. */
  checkedAt?: number
  /** Stored rootfs/mp[n] values (volume ids, no secrets), for option-only changes. */
  observedVolumes?: Record<string, string>
}

/** The template setting that applies to this app. */
export const templateSpecOf = (app: AppManifest, cluster: ClusterSpec): string => app.spec.template ?? cluster.defaults.template

const SECRET_PATHS = (app: AppManifest): PlanFieldChange[] =>
  Object.keys(app.spec.secrets)
    .sort()
    .map((k) => ({ path: `secrets.${k}`, impact: 'live' as const, sensitive: true }))

function creationChanges(app: AppManifest, cluster: ClusterSpec): PlanFieldChange[] {
  const s = app.spec
  const c: PlanFieldChange[] = [
    { path: 'hostname', after: s.hostname, impact: 'live' },
    { path: 'resources.cores', after: s.resources.cores, impact: 'live' },
    { path: 'resources.memory', after: s.resources.memory, impact: 'live' },
    { path: 'resources.swap', after: s.resources.swap, impact: 'live' },
    { path: 'resources.disk', after: s.resources.disk, impact: 'live' },
    { path: 'resources.storage', after: s.resources.storage ?? cluster.defaults.storage, impact: 'live' },
    { path: 'network.bridge', after: s.network.bridge ?? cluster.defaults.bridge, impact: 'live' },
    { path: 'network.ip', after: s.network.ip, impact: 'live' },
    { path: 'template', after: templateSpecOf(app, cluster), impact: 'live' },
    { path: 'state', after: s.state, impact: 'live' },
  ]
  if (s.node) c.push({ path: 'node', after: s.node, impact: 'live' })
  for (const v of s.volumes) c.push({ path: `volumes.${v.name}`, after: `${v.path} (${v.size} GiB)`, impact: 'live' })
  for (const k of Object.keys(s.env).sort()) c.push({ path: `env.${k}`, after: s.env[k], impact: 'live' })
  c.push(...SECRET_PATHS(app))
  return c
}

function action(app: AppManifest, type: Action['type'], changes: PlanFieldChange[], detail: AppDetail, summary?: string): Action {
  return { type, key: `App/${app.metadata.name}`, kind: 'App', name: app.metadata.name, changes, summary, detail: detail as unknown as Record<string, unknown> }
}

/** Plans one App. Pure: same inputs, same actions. */
export function planApp(app: AppManifest, o: AppObservation, ctx: Pick<ControllerContext, 'cluster' | 'secrets'>): Action[] {
  const cluster = ctx.cluster.spec
  const dHash = deployHash(app, (v) => ctx.secrets.digest(v))
  const templateSpec = templateSpecOf(app, cluster)
  const base: AppDetail = { mode: 'converged', deploy: false, deployHash: dHash, templateSpec }
  const g = o.guest

  if (app.spec.suspend) return [action(app, 'noop', [], { ...base, mode: 'suspended' }, 'suspended; nothing is reconciled')]
  if (app.spec.network.appliance) {
    const message = `appliance ${app.spec.network.appliance} is not available yet`
    return [action(app, 'noop', [], { ...base, mode: 'wait', wait: { reason: 'DependencyNotReady', message, requeueAfterMs: 30_000 } }, message)]
  }
  if (o.notReady.length > 0) {
    const message = `waiting for ${o.notReady.map((d) => `App/${d.name}`).join(', ')} to be ready`
    return [action(app, 'noop', [], { ...base, mode: 'wait', wait: { reason: 'DependencyNotReady', message, requeueAfterMs: 5_000 } }, message)]
  }
  if (o.steady && g) return [action(app, 'noop', [], { ...base, mode: 'converged', vmid: g.vmid, node: g.node })]
  if (o.creating && g) return [action(app, 'noop', [], { ...base, mode: 'creating', vmid: g.vmid, node: g.node }, `guest ${g.vmid} is being created`)]

  if (!g || !g.config) {
    const pendingVmid = o.pendingCreate && !o.pendingVmidTaken ? o.pendingCreate.vmid : undefined
    return [action(app, 'create', creationChanges(app, cluster), { ...base, mode: 'create', deploy: true, pendingVmid })]
  }

  const markerSpecHash = g.marker?.specHash ?? ''
  const desired = desiredGuest(app, cluster, { markerSpecHash })
  const changes = diffGuest(desired, { config: g.config, status: g.status, pendingKeys: g.pendingKeys })
  // Only an explicit spec.template change forces replacement: a new Cluster default applies to new guests only.
  if (app.spec.template && o.extra.templateSpec && o.extra.templateSpec !== app.spec.template) {
    changes.push({ key: 'ostemplate', path: 'template', before: o.extra.templateSpec, after: app.spec.template, impact: 'replace', forcesReplacement: true })
  }
  const applied = o.extra.appliedSpecHash
  const deploy = app.spec.state === 'running' && (o.extra.deployHash !== undefined ? o.extra.deployHash !== dHash : applied !== app.specHash)
  if (deploy) {
    changes.push({ path: 'deploy', before: o.extra.deployHash ? 'previous compose/env' : undefined, after: 're-push compose and .env, compose up', impact: 'live', sensitive: Object.keys(app.spec.secrets).length > 0 })
  }
  const observedVolumes: Record<string, string> = {}
  for (const [k, v] of Object.entries(g.config)) if (k === 'rootfs' || /^mp\d+$/.test(k)) observedVolumes[k] = String(v)
  const detail: AppDetail = { ...base, vmid: g.vmid, node: g.node, digest: g.digest, status: g.status, deploy, markerSpecHash, observedVolumes, checkedAt: o.now }

  if (changes.length > 0) {
    const type = worstImpact(changes) === 'replace' || changes.some((c) => c.forcesReplacement) ? 'replace' : 'update'
    return [action(app, type, changes, { ...detail, mode: type === 'replace' ? 'replace' : 'update' }, `guest ${g.vmid} on ${g.node}`)]
  }
  // Deployed but not yet healthy: keep checking (no visible change).
  if (app.spec.state === 'running' && o.extra.healthy === false && o.extra.deployHash === dHash) {
    return [action(app, 'noop', [], { ...detail, mode: 'health', deployStartedAt: o.extra.deployStartedAt }, 'waiting for the health check')]
  }
  if (markerSpecHash !== app.specHash || applied !== app.specHash) return [action(app, 'noop', [], { ...detail, mode: 'marker' })]
  return [action(app, 'noop', [], detail)]
}
