/**
 * The pure App plan: observation + manifest → one action (create | update | replace | noop).
 * What apply does is stated explicitly by the action's typed detail (AppStep); a dependency that
 * is not ready is an explicit `wait` the runtime honours without calling apply. Never secrets.
 */
import type { AppManifest, ClusterSpec, ManifestSet } from '../../src/model/types.js'
import { diffGuest, worstImpact } from '../../src/plan/diff.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Action, ControllerContext, Wait } from '../../src/runtime/controller.js'
import { deployChanges, summarizeDeploy, type DeploySummary } from '../../src/plan/deploy.js'
import { appLan, deployHash, desiredGuest } from './desired.js'
import { HA_KEY, haChange } from './ha.js'
import type { AppObservation } from './observation.js'
import { markRefusals } from './refusals.js'
import { REPLACE_NOTE, type Replacement } from './replace.js'
import { mountPointKeys } from '../lxc/volumes.js'
import { updateNote } from './safe-update.js'

/** Where the App's guest is. */
export interface GuestAt {
  vmid: number
  node: string
}

/** The facts of a guest whose config was read, as `update` needs them. */
export interface SeenGuest extends GuestAt {
  /** Config digest planned against (sent with the PUT so a concurrent edit fails). */
  digest?: string
  status: string
  /** The marker's current specHash (description is rewritten with the new one last). */
  markerSpecHash: string
  /** Stored rootfs/mp[n] values (volume ids, no secrets), for option-only changes. */
  volumes: Record<string, string>
  /** The snapshot's `hastate` when the guest is an HA resource. */
  hastate?: string
}

/**
 * What apply has to do for one App, decided by plan. One variant per situation, each with exactly
 * the data it needs; apply switches over `step` exhaustively.
 */
export type AppStep =
  /** `spec.suspend`: nothing is reconciled (noop). */
  | { step: 'suspended' }
  /** The action carries `wait` (noop): the runtime requeues without calling apply. */
  | { step: 'wait' }
  /** Converged (noop). `checkedAt` is set when observe read the full config (a deep check). */
  | { step: 'in-sync'; guest: GuestAt; checkedAt?: number }
  /** Our create task is still running (noop): look again shortly. */
  | { step: 'await-create'; guest: GuestAt }
  /** No guest: create, start, deploy (create). `pendingVmid` reuses an interrupted create's vmid. */
  | { step: 'create'; pendingVmid?: number }
  /**
   * Config, power or deploy changes (update). `deploy`: re-push compose/.env and `up`.
   * `protect`: a running app is updated: take a rollback point first per update.strategy
   * (safe-update.ts) and time its health gate with update.healthTimeout.
   */
  | { step: 'update'; guest: SeenGuest; deploy: boolean; protect: boolean; checkedAt: number }
  /** This spec was rolled back after a failed update (noop): not retried until the spec changes. */
  | { step: 'rolled-back'; guest: GuestAt }
  /**
   * A change only a new guest can make (replace, replace.ts): backup, new guest, volumes moved,
   * health, old guest destroyed. `resume`: a replacement in flight (extra.replacing) is finished
   * or undone. Refused when a change carries `refused` (refusals.ts).
   */
  | { step: 'replace'; guest: GuestAt; running: boolean; resume?: Replacement }
  /** Deployed but not yet healthy, nothing else to change (noop): probe again. */
  | { step: 'check-health'; guest: GuestAt; deployStartedAt?: number }
  /** Converged in Proxmox, but the marker or the memory lag behind the spec (noop): write the marker. */
  | { step: 'write-marker'; guest: GuestAt }

/** What every App action carries besides its step. */
export interface AppDetailBase {
  /** Digest of compose/env/secret references (see deployHash). */
  deployHash: string
  /** The template as written in the spec/defaults. */
  templateSpec: string
}

/** Controller-private plan details carried in `Action.detail`. */
export type AppDetail = AppDetailBase & AppStep

/** An App action: typed detail and field changes. */
export type AppAction = Action<AppDetail, PlanFieldChange>

/**
 * A replacement interrupted while the state directory was lost, recovered from the guests that
 * carry the app's marker (the store's record is gone). Pure. With one extra guest:
 * - the preferred guest has a complete marker, the other an empty one (created, never switched
 *   to): undo, back to the preferred guest with the other's volumes;
 * - both complete (the crash came after the switch): the one whose marker has this spec's hash
 *   is the app; the other is destroyed, but only when it holds no volume (they were moved);
 * - anything else is `ambiguous`: a person decides (never a guess that could destroy data).
 */
export function recoverReplacement(app: AppManifest, o: AppObservation): Replacement | 'ambiguous' | undefined {
  const g = o.guest
  const dup = o.duplicates ?? []
  if (!g || dup.length === 0) return undefined
  if (dup.length > 1) return 'ambiguous'
  const other = dup[0]!
  const hash = (x: typeof g): string => x.marker?.specHash ?? ''
  const at = (x: typeof g) => ({ vmid: x.vmid, node: x.node })
  const base = { revision: '', volumes: [] as string[], startedAt: o.now }
  if (hash(g) !== '' && hash(other) === '' && g.node === other.node) {
    return { ...base, specHash: '', from: { ...at(g), running: app.spec.state === 'running' }, to: at(other), volumes: mountPointKeys(other.config ?? {}), phase: 'undo', reason: 'a replacement was interrupted and the state directory was lost' }
  }
  const [fresh, stale] = hash(g) === app.specHash ? [g, other] : hash(other) === app.specHash ? [other, g] : [undefined, undefined]
  if (fresh && stale && hash(stale) !== '' && mountPointKeys(stale.config ?? {}).length === 0) {
    return { ...base, specHash: app.specHash, from: { ...at(stale), running: false }, to: at(fresh), phase: 'cleanup' }
  }
  return 'ambiguous'
}

/** Fields a replacement of the guest changes (replace.ts); other forcing fields stay refused. */
const REPLACEABLE: ReadonlySet<string> = new Set(['template', 'resources.storage', 'unprivileged'])

/** The template setting that applies to this app. */
export const templateSpecOf = (app: AppManifest, cluster: ClusterSpec): string => app.spec.template ?? cluster.defaults.template

const SECRET_PATHS = (app: AppManifest): PlanFieldChange[] =>
  Object.keys(app.spec.secrets)
    .sort()
    .map((k) => ({ path: `secrets.${k}`, impact: 'live' as const, sensitive: true }))

function creationChanges(app: AppManifest, cluster: ClusterSpec, lan?: ReturnType<typeof appLan>): PlanFieldChange[] {
  const s = app.spec
  const c: PlanFieldChange[] = [
    { path: 'hostname', after: s.hostname, impact: 'live' },
    { path: 'resources.cores', after: s.resources.cores, impact: 'live' },
    { path: 'resources.memory', after: s.resources.memory, impact: 'live' },
    { path: 'resources.swap', after: s.resources.swap, impact: 'live' },
    { path: 'resources.disk', after: s.resources.disk, impact: 'live' },
    { path: 'resources.storage', after: s.resources.storage ?? cluster.defaults.storage, impact: 'live' },
    { path: 'network.bridge', after: lan?.bridge ?? s.network.bridge ?? cluster.defaults.bridge, impact: 'live' },
    ...(lan ? [{ path: 'network.appliance', after: `${lan.appliance} (MAC ${lan.mac})`, impact: 'live' as const }] : []),
    { path: 'network.ip', after: s.network.ip, impact: 'live' },
    { path: 'template', after: templateSpecOf(app, cluster), impact: 'live' },
    { path: 'state', after: s.state, impact: 'live' },
  ]
  if (s.node) c.push({ path: 'node', after: s.node, impact: 'live' })
  else if (s.placement) c.push({ path: 'placement', after: `${s.placement.strategy} over ${s.placement.nodes.join(', ')}`, impact: 'live' })
  if (s.ha.enabled) c.push({ path: 'ha.enabled', key: HA_KEY, after: true, impact: 'live', note: `HA resource added (state ${s.state === 'running' ? 'started' : 'stopped'})` })
  // A catalog app's default expose does nothing without an appliance (an explicit one is refused by validate): say so.
  if (!lan && s.expose.length > 0) {
    c.push({ path: 'expose', after: `port ${s.expose.map((x) => x.port).join(', ')} not published`, impact: 'live', note: 'needs network.appliance: an Appliance\'s reverse proxy publishes expose ports' })
  }
  for (const v of s.volumes) c.push({ path: `volumes.${v.name}`, after: `${v.path} (${v.size} GiB)`, impact: 'live' })
  for (const k of Object.keys(s.env).sort()) c.push({ path: `env.${k}`, after: s.env[k], impact: 'live' })
  c.push(...SECRET_PATHS(app))
  return c
}

function action(app: AppManifest, type: Action['type'], changes: PlanFieldChange[], detail: AppDetail, summary?: string, wait?: Wait): AppAction {
  return { type, key: `App/${app.metadata.name}`, kind: 'App', name: app.metadata.name, changes, summary, ...(wait ? { wait } : {}), detail }
}

const at = (g: GuestAt): GuestAt => ({ vmid: g.vmid, node: g.node })

/** Plans one App. Pure: same inputs, same actions. */
/** What was deployed, by service, image and env key (secrets as keyed digests), for plan lines. */
export const deploySummaryOf = (app: AppManifest, digest: (value: string) => string): DeploySummary =>
  summarizeDeploy({ compose: app.spec.source.compose, env: Object.fromEntries(Object.entries(app.spec.env).map(([k, v]) => [k, String(v)])), secrets: app.spec.secrets }, digest)

export function planApp(app: AppManifest, o: AppObservation, ctx: Pick<ControllerContext, 'cluster' | 'secrets'> & { set?: Pick<ManifestSet, 'appliances'> }): AppAction[] {
  const cluster = ctx.cluster.spec
  const base: AppDetailBase = { deployHash: deployHash(app, (v) => ctx.secrets.digest(v)), templateSpec: templateSpecOf(app, cluster) }
  const g = o.guest

  if (app.spec.suspend) return [action(app, 'noop', [], { ...base, step: 'suspended' }, 'suspended; nothing is reconciled')]
  const lan = appLan(app, ctx.set, cluster.owner)
  if (app.spec.network.appliance && (o.applianceNotReady || !lan)) {
    const message = o.applianceNotReady ?? `appliance ${app.spec.network.appliance} is not in the manifest set`
    return [action(app, 'noop', [], { ...base, step: 'wait' }, message, { reason: 'DependencyNotReady', message, requeueAfterMs: 10_000 })]
  }
  if (o.restoring) {
    const message = `a Restore of App ${app.metadata.name} is in progress`
    return [action(app, 'noop', [], { ...base, step: 'wait' }, message, { reason: 'RestoreInProgress', message, requeueAfterMs: 5_000 })]
  }
  if (o.notReady.length > 0) {
    const message = `waiting for ${o.notReady.map((d) => `App/${d.name}`).join(', ')} to be ready`
    return [action(app, 'noop', [], { ...base, step: 'wait' }, message, { reason: 'DependencyNotReady', message, requeueAfterMs: 5_000 })]
  }
  // A replacement in flight is finished (or undone) before anything else (replace.ts).
  const recovered = o.extra.replacing ? undefined : recoverReplacement(app, o)
  if (recovered === 'ambiguous') {
    const vmids = [g, ...(o.duplicates ?? [])].filter((x) => x !== undefined).map((x) => x.vmid)
    const message = `guests ${vmids.join(', ')} all carry the marker of App ${app.metadata.name} and the state directory does not say which one is the app; destroy the ones you do not want (their volumes first if they hold data)`
    return [action(app, 'noop', [], { ...base, step: 'wait' }, message, { reason: 'DuplicateGuests', message, requeueAfterMs: 60_000 })]
  }
  const replacing = o.extra.replacing ?? recovered
  if (replacing) {
    const to = replacing.to ? `guest ${replacing.to.vmid}` : 'a new guest'
    const what =
      replacing.phase === 'cleanup'
        ? `finishing the replacement: the old guest ${replacing.from.vmid} is destroyed`
        : replacing.phase === 'undo' || replacing.specHash !== app.specHash
          ? `undoing the unfinished replacement of guest ${replacing.from.vmid} by ${to}`
          : `resuming the replacement of guest ${replacing.from.vmid} by ${to} (${replacing.phase})`
    const change: PlanFieldChange = { path: 'guest', before: replacing.from.vmid, after: replacing.to?.vmid, impact: 'replace', note: what }
    return [action(app, 'replace', [change], { ...base, step: 'replace', guest: { vmid: replacing.from.vmid, node: replacing.from.node }, running: replacing.from.running, resume: replacing }, what)]
  }
  if (o.steady && g) return [action(app, 'noop', [], { ...base, step: 'in-sync', guest: at(g) })]
  if (o.creating && g) return [action(app, 'noop', [], { ...base, step: 'await-create', guest: at(g) }, `guest ${g.vmid} is being created`)]

  if (!g || !g.config) {
    const pendingVmid = o.pendingCreate && !o.pendingVmidTaken ? o.pendingCreate.vmid : undefined
    const changes = creationChanges(app, cluster, lan)
    if (o.templateMissing) for (const c of changes) if (c.path === 'template') c.refused = o.templateMissing
    return [action(app, 'create', changes, { ...base, step: 'create', ...(pendingVmid !== undefined ? { pendingVmid } : {}) })]
  }

  const rolled = o.extra.rolledBack
  if (rolled && rolled.specHash === app.specHash && app.spec.state === 'running') {
    return [action(app, 'noop', [], { ...base, step: 'rolled-back', guest: at(g) }, `the update to ${rolled.revision} was rolled back (${rolled.reason}); not retried until the spec changes`)]
  }
  const markerSpecHash = g.marker?.specHash ?? ''
  const desired = desiredGuest(app, cluster, { markerSpecHash, ...(lan ? { lan } : {}) })
  const changes = diffGuest(desired, { config: g.config, status: g.status, pendingKeys: g.pendingKeys })
  // Only an explicit spec.template change forces replacement: a new Cluster default applies to new guests only.
  if (app.spec.template && o.extra.templateSpec && o.extra.templateSpec !== app.spec.template) {
    changes.push({ key: 'ostemplate', path: 'template', before: o.extra.templateSpec, after: app.spec.template, impact: 'replace', forcesReplacement: true, ...(o.templateMissing ? { refused: o.templateMissing } : {}) })
  }
  const ha = haChange(app, g.hastate, o.extra.haCreated)
  if (ha) changes.push(ha)
  const applied = o.extra.appliedSpecHash
  const deploy = app.spec.state === 'running' && (o.extra.deployHash !== undefined ? o.extra.deployHash !== base.deployHash : applied !== app.specHash)
  if (deploy) {
    changes.push(...deployChanges(o.extra.deployed, deploySummaryOf(app, (v) => ctx.secrets.digest(v))))
  }

  // A volume stays on the storage it was made on: a new resources.storage moves the root disk (a
  // new guest) and the volumes are handed over as they are, so their storage is not a change.
  for (let i = changes.length - 1; i >= 0; i--) if (/^mp\d+$/.test(changes[i]!.key ?? '') && changes[i]!.path.endsWith('.storage')) changes.splice(i, 1)
  // What apply will not do is decided here, shown by plan and refused by apply (refusals.ts).
  markRefusals(changes, { replaceable: (c) => REPLACEABLE.has(c.path) })
  if (changes.length > 0) {
    const protect = deploy && g.status === 'running' && o.extra.deployHash !== undefined
    const summary = `guest ${g.vmid} on ${g.node}${deploy && g.status === 'running' && o.extra.deployHash !== undefined ? `: ${updateNote(app)}` : ''}`
    if (worstImpact(changes) === 'replace' || changes.some((c) => c.forcesReplacement)) {
      const refused = changes.some((c) => c.refused)
      return [action(app, 'replace', changes, { ...base, step: 'replace', guest: at(g), running: g.status === 'running' }, refused ? summary : `guest ${g.vmid} on ${g.node}: ${REPLACE_NOTE}`)]
    }
    const volumes: Record<string, string> = {}
    for (const [k, v] of Object.entries(g.config)) if (k === 'rootfs' || /^mp\d+$/.test(k)) volumes[k] = String(v)
    const seen: SeenGuest = { ...at(g), digest: g.digest, status: g.status, markerSpecHash, volumes, ...(g.hastate !== undefined ? { hastate: g.hastate } : {}) }
    return [action(app, 'update', changes, { ...base, step: 'update', guest: seen, deploy, protect, checkedAt: o.now }, summary)]
  }
  // Deployed but not yet healthy: keep checking (no visible change).
  if (app.spec.state === 'running' && o.extra.healthy === false && o.extra.deployHash === base.deployHash) {
    return [action(app, 'noop', [], { ...base, step: 'check-health', guest: at(g), deployStartedAt: o.extra.deployStartedAt }, 'waiting for the health check')]
  }
  if (markerSpecHash !== app.specHash || applied !== app.specHash) return [action(app, 'noop', [], { ...base, step: 'write-marker', guest: at(g) })]
  return [action(app, 'noop', [], { ...base, step: 'in-sync', guest: at(g), checkedAt: o.now })]
}
