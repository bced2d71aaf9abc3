/**
 * The pure Appliance plan: observation + manifest (+ the Apps that join it) → one action.
 * Config files show as change lines (describeFileChanges), never their text (issue 12 §5).
 */
import type { ApplianceManifest, ClusterSpec } from '../../src/model/types.js'
import { diffGuest } from '../../src/plan/diff.js'
import type { PlanFieldChange } from '../../src/plan/types.js'
import type { Action, ControllerContext } from '../../src/runtime/controller.js'
import { applianceConfig, renderAppliance, SETUP_VERSION } from './desired.js'
import type { ApplianceObservation } from './observation.js'
import { ApplianceRenderError, changedFiles, describeFileChanges, type ApplianceFileId } from './render/index.js'

/** Where the appliance's guest is. */
export interface ApplianceGuestAt {
  vmid: number
  node: string
}

/** What apply has to do, decided by plan. */
export type ApplianceStep =
  /** The LAN cannot be rendered (noop): apply reports the located error (Stalled). */
  | { step: 'invalid'; message: string }
  /** Our create task is still running (noop). */
  | { step: 'await-create'; guest: ApplianceGuestAt }
  /** A node has network changes we did not queue (noop + wait): we never apply those. */
  | { step: 'wait' }
  /** No guest: bridges, create, start, setup, files, services (create). */
  | { step: 'create'; pendingVmid?: number }
  /** Bridges, guest config, power, setup, files, services (update); health afterwards. */
  | { step: 'converge'; guest: ApplianceGuestAt & { digest?: string; status: string }; config: string[]; restart: boolean; start: boolean; setup: boolean; files: ApplianceFileId[] }
  /** Nothing to change (noop): probe health. */
  | { step: 'in-sync'; guest: ApplianceGuestAt; writeMarker: boolean; check: boolean }

/** Controller-private action detail. */
export type ApplianceDetail = ApplianceStep & {
  /** Nodes whose LAN bridge Proximity must create (or apply, when created but pending). */
  bridges: { node: string; create: boolean }[]
  /** App → address to keep (what the appliance hands out now). */
  previous: Record<string, string>
  templateSpec: string
}

export type ApplianceAction = Action<ApplianceDetail, PlanFieldChange>

const PREFIX_OF = (line: string): string => line.slice(0, line.indexOf(':'))

/** One field change per file change line: path = service, after = the line's change (`+ dhcp-host web 10.44.0.10`). */
export function fileChangeLines(before: Partial<Record<ApplianceFileId, string>>, after: Partial<Record<ApplianceFileId, string>>): PlanFieldChange[] {
  return describeFileChanges(before, after).map((l) => ({ path: PREFIX_OF(l), after: l.slice(l.indexOf(':') + 2), impact: 'live' as const }))
}

function action(a: ApplianceManifest, type: Action['type'], changes: PlanFieldChange[], detail: ApplianceDetail, summary?: string, wait?: Action['wait']): ApplianceAction {
  return { type, key: `Appliance/${a.metadata.name}`, kind: 'Appliance', name: a.metadata.name, changes, ...(summary ? { summary } : {}), ...(wait ? { wait } : {}), detail }
}

/** Plans one Appliance. Pure. */
export function planAppliance(a: ApplianceManifest, o: ApplianceObservation, ctx: Pick<ControllerContext, 'cluster' | 'set'>): ApplianceAction[] {
  const cluster: ClusterSpec = ctx.cluster.spec
  const base = { previous: o.previous, templateSpec: cluster.defaults.template }
  if (o.steady && o.guest) return [action(a, 'noop', [], { ...base, bridges: [], step: 'in-sync', guest: { vmid: o.guest.vmid, node: o.guest.node }, writeMarker: false, check: false })]
  const bridges = o.bridges.filter((b) => b.state === 'missing' || (b.state === 'ours' && !b.active)).map((b) => ({ node: b.node, create: b.state === 'missing' }))
  const d = { ...base, bridges }
  let rendered
  try {
    rendered = renderAppliance(a, ctx.set, cluster.owner, o.previous)
  } catch (err) {
    if (!(err instanceof ApplianceRenderError)) throw err
    return [action(a, 'noop', [], { ...d, step: 'invalid', message: err.message }, err.message)]
  }
  const blocked = o.bridges.find((b) => b.foreignPending && (b.state === 'missing' || !b.active))
  if (blocked) {
    const message = `node ${blocked.node} has network changes Proximity did not make; apply or revert them in Proxmox before the LAN bridge ${a.spec.lan.bridge} can be created`
    return [action(a, 'noop', [], { ...d, step: 'wait' }, message, { reason: 'ForeignNetworkChanges', message, requeueAfterMs: 30_000 })]
  }
  const notActive = o.bridges.find((b) => b.state === 'foreign' && !b.active)
  if (notActive) {
    const message = `bridge ${a.spec.lan.bridge} on node ${notActive.node} was not created by Proximity and is not applied yet; apply it in Proxmox`
    return [action(a, 'noop', [], { ...d, step: 'wait' }, message, { reason: 'BridgeNotReady', message, requeueAfterMs: 30_000 })]
  }
  const bridgeChanges: PlanFieldChange[] = bridges.map((b) => ({ path: 'lan.bridge', after: `${a.spec.lan.bridge} on ${b.node}${b.create ? '' : ' (apply pending)'}`, impact: 'live' }))
  const afterText = Object.fromEntries(rendered.files.map((f) => [f.id, f.content])) as Partial<Record<ApplianceFileId, string>>
  const g = o.guest

  if (o.creating && g) return [action(a, 'noop', [], { ...d, step: 'await-create', guest: { vmid: g.vmid, node: g.node } }, `guest ${g.vmid} is being created`)]
  if (!g || !g.config) {
    const pendingVmid = o.pendingCreate && !o.pendingVmidTaken ? o.pendingCreate.vmid : undefined
    const changes: PlanFieldChange[] = [
      ...bridgeChanges,
      { path: 'guest', after: `alpine, wan ${a.spec.wan.bridge} ${a.spec.wan.ip}, lan ${a.spec.lan.bridge} ${a.spec.lan.gateway}`, impact: 'live' },
      { path: 'packages', after: 'dnsmasq caddy nftables', impact: 'live' },
      ...fileChangeLines({}, afterText),
    ]
    return [action(a, 'create', changes, { ...d, step: 'create', ...(pendingVmid !== undefined ? { pendingVmid } : {}) })]
  }

  const at = { vmid: g.vmid, node: g.node }
  const desired = applianceConfig(a, cluster, g.marker?.specHash ?? '')
  const { description: _d, ...compared } = desired
  const configChanges = diffGuest({ config: compared, state: 'running' }, { config: g.config, status: g.status, pendingKeys: g.pendingKeys })
  const start = configChanges.some((c) => c.key === 'state')
  const config = [...new Set(configChanges.filter((c) => c.key && c.key !== 'state').map((c) => c.key as string))]
  const restart = configChanges.some((c) => c.impact === 'restart')
  const setup = o.extra.setupVmid !== g.vmid || o.extra.setupVersion !== SETUP_VERSION
  const hashes = o.hashes ?? {}
  const files = o.hashes ? changedFiles(rendered.files, hashes).map((f) => f.id) : rendered.files.map((f) => f.id)
  const before: Partial<Record<ApplianceFileId, string>> = {}
  for (const f of rendered.files) if (hashes[f.id] !== undefined) before[f.id] = hashes[f.id] === f.hash ? f.content : o.current[f.id] ?? ''
  const changes: PlanFieldChange[] = [
    ...bridgeChanges,
    ...configChanges,
    ...(setup ? [{ path: 'packages', after: 'dnsmasq caddy nftables', impact: 'live' as const }] : []),
    ...(files.length ? fileChangeLines(before, afterText) : []),
  ]
  if (changes.length > 0 || bridges.length > 0) {
    return [action(a, 'update', changes, { ...d, step: 'converge', guest: { ...at, ...(g.digest ? { digest: g.digest } : {}), status: g.status }, config, restart, start, setup, files }, `appliance guest ${g.vmid} on ${g.node}`)]
  }
  return [action(a, 'noop', [], { ...d, step: 'in-sync', guest: at, writeMarker: g.marker?.specHash !== a.specHash || o.extra.appliedSpecHash !== a.specHash, check: true })]
}
