/**
 * Observe and plan for Restore (read-only, then pure). Observe finds the App's guest (shared guest
 * machinery) and lists the backups of the storages that may hold it (the default backup storage
 * and every BackupPolicy storage, one listing each); nothing is read once the outcome of this
 * spec is known.
 */
import type { AppManifest, RestoreManifest } from '../../src/model/types.js'
import type { Action, ControllerContext } from '../../src/runtime/controller.js'
import { appIdentity } from '../app/desired.js'
import { listGuestBackups } from '../lxc/backup.js'
import { findGuest, type ObservedGuest } from '../lxc/index.js'
import type { BackupEntry } from '../../src/model/vzdump.js'
import type { RestoreExtra, RestoreInFlight, RestoreOutcome } from './memory.js'
import { chooseBackup, type BackupChoice } from './select.js'

/** The store key of a Restore. */
export const restoreKey = (name: string): string => `Restore/${name}`

export interface RestoreObservation {
  extra: RestoreExtra
  /** The outcome already recorded for this specHash. */
  done?: RestoreOutcome
  /** A run of this spec in flight. */
  inFlight?: RestoreInFlight
  app?: AppManifest
  guest?: ObservedGuest
  choice?: BackupChoice
}

/** What apply does for one Restore. */
export type RestoreStep =
  | { step: 'done'; outcome: RestoreOutcome }
  | { step: 'refuse'; reason: string; message: string; volid?: string }
  | { step: 'restore'; vmid: number; node: string; running: boolean; volid: string; revision?: string; markerSpecHash: string; resume?: RestoreInFlight }
  | { step: 'await-health'; vmid: number; node: string; inFlight: RestoreInFlight }

export type RestoreAction = Action<RestoreStep>

/** Observes one Restore. Read-only. */
export async function observeRestore(ctx: ControllerContext, r: RestoreManifest): Promise<RestoreObservation> {
  const extra = { ...((ctx.store.getStatus(restoreKey(r.metadata.name))?.extra ?? {}) as RestoreExtra) }
  const done = extra.outcomes?.[r.specHash]
  if (done) return { extra, done }
  const app = ctx.set.apps.find((a) => a.metadata.name === r.spec.app)
  if (!app) return { extra }
  const found = await findGuest(ctx, appIdentity(app.metadata.name), { desiredState: app.spec.state, steady: () => false })
  const guest = found.found === 'guest' || found.found === 'steady' ? found.guest : undefined
  const inFlight = extra.inFlight?.specHash === r.specHash ? extra.inFlight : undefined
  if (!guest || inFlight?.phase === 'restored') return { extra, app, guest, inFlight }
  const entries = await backupsFor(ctx, r, guest)
  const want = inFlight ? inFlight.volid : r.spec.backup
  return { extra, app, guest, inFlight, choice: chooseBackup(entries, want, { owner: ctx.cluster.spec.owner, app: app.metadata.name, vmid: guest.vmid }) }
}

/** One backup listing per storage that may hold the app's backups (on the guest's node). */
async function backupsFor(ctx: ControllerContext, r: RestoreManifest, g: ObservedGuest): Promise<BackupEntry[]> {
  const storages = new Set<string>([ctx.cluster.spec.defaults.backupStorage])
  for (const p of ctx.set.backupPolicies) if (p.spec.storage) storages.add(p.spec.storage)
  const named = /^([a-z][a-z0-9\-_.]*[a-z0-9]):backup\//i.exec(r.spec.backup)?.[1]
  if (named) storages.add(named)
  const out: BackupEntry[] = []
  for (const s of [...storages].sort()) out.push(...(await listGuestBackups(ctx, g.node, s)))
  return out
}

const act = (r: RestoreManifest, type: Action['type'], step: RestoreStep, summary: string, changes: Action['changes'] = []): RestoreAction => ({
  type,
  key: restoreKey(r.metadata.name),
  kind: 'Restore',
  name: r.metadata.name,
  changes,
  summary,
  detail: step,
})

/** Plans one Restore. Pure. */
export function planRestore(r: RestoreManifest, o: RestoreObservation): RestoreAction[] {
  if (o.done) return [act(r, 'noop', { step: 'done', outcome: o.done }, `ran once: ${o.done.result.toLowerCase()}${o.done.volid ? ` (${o.done.volid})` : ''}; change the spec to restore again`)]
  if (!o.app) return [act(r, 'noop', { step: 'refuse', reason: 'AppNotFound', message: `App ${r.spec.app} is not in the manifests; a Restore needs the App it restores` }, `App ${r.spec.app} is not in the manifests`)]
  if (!o.guest) return [act(r, 'noop', { step: 'refuse', reason: 'GuestNotFound', message: `App ${r.spec.app} has no guest to restore into; apply the App first` }, `App ${r.spec.app} has no guest`)]
  const g = o.guest
  if (o.inFlight?.phase === 'restored') return [act(r, 'noop', { step: 'await-health', vmid: g.vmid, node: g.node, inFlight: o.inFlight }, 'waiting for the health check')]
  const c = o.choice
  if (!c || !c.ok) {
    const message = c && !c.ok ? c.message : 'no backup listing'
    return [act(r, 'noop', { step: 'refuse', reason: c && !c.ok ? c.reason : 'BackupNotFound', message, ...(r.spec.backup !== 'latest' ? { volid: r.spec.backup } : {}) }, message)]
  }
  const revision = c.notes.revision
  const step: RestoreStep = { step: 'restore', vmid: g.vmid, node: g.node, running: g.status === 'running', volid: c.entry.volid, ...(revision !== undefined ? { revision } : {}), markerSpecHash: g.marker?.specHash ?? '', ...(o.inFlight ? { resume: o.inFlight } : {}) }
  const summary = `restore guest ${g.vmid} of App ${r.spec.app} in place from ${c.entry.volid}${revision ? ` (revision ${revision})` : ''}; a safety backup is taken first`
  return [act(r, 'update', step, summary, [{ path: 'backup', after: c.entry.volid, impact: 'restart' }])]
}
