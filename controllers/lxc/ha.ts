/**
 * Proxmox HA for an owned guest (DESIGN §10: failover through PVE HA resources, not a home-made
 * watchdog). A guest kind that wants HA gets one resource `ct:<vmid>` whose requested state
 * follows the object's power state (`started` / `stopped`).
 *
 * Observe never reads HA on its own: the pass snapshot (`/cluster/resources`) already carries
 * `hastate` for every HA-managed guest, so knowing whether a guest is HA-managed costs nothing.
 * The resource Proximity creates carries its owner marker in `comment`; only such a resource is
 * ever removed when HA is turned off (one an administrator added by hand is left alone).
 */
import { encodeMarker, parseMarker } from '../../src/model/marker.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { audited, isAlreadyExists, isNotFound, read } from '../shared/call.js'
import type { GuestIdentity } from './identity.js'

/** The requested state of an HA resource Proximity manages. */
export type HaState = 'started' | 'stopped'

/** The HA service id of a container. */
export const haSid = (vmid: number): string => `ct:${vmid}`

/** The HA state that follows a power state. */
export const haStateFor = (state: 'running' | 'stopped'): HaState => (state === 'running' ? 'started' : 'stopped')

/**
 * What a snapshot's `hastate` says the HA stack is steering the guest to: `started` or `stopped`,
 * or `other` for states that are neither (disabled, ignored, error, fence, freeze). Transitional
 * states count as where they lead (`request_stop` → stopped, `migrate` → started). Pure.
 */
export function haTarget(hastate: string): HaState | 'other' {
  switch (hastate) {
    case 'started':
    case 'starting':
    case 'request_start':
    case 'migrate':
    case 'relocate':
    case 'recovery':
      return 'started'
    case 'stopped':
    case 'stopping':
    case 'request_stop':
      return 'stopped'
    default:
      return 'other'
  }
}

/** The `comment` of a resource Proximity creates: the guest's owner marker (no specHash). */
export const haComment = (id: GuestIdentity, owner: string): string => encodeMarker({ kind: id.kind, name: id.name, owner, specHash: '' })

/** Where the guest is and whose it is. */
export interface HaTarget {
  id: GuestIdentity
  vmid: number
}

/**
 * Adds the HA resource `ct:<vmid>` with `state`, marked as ours. Idempotent: a resource that is
 * already there (a retried POST, or one added by hand) is set to `state` instead, and the
 * result says whether Proximity created it.
 */
export async function addHaResource(ctx: ControllerContext, t: HaTarget, state: HaState): Promise<{ created: boolean }> {
  const sid = haSid(t.vmid)
  const comment = haComment(t.id, ctx.cluster.spec.owner)
  try {
    await audited(ctx, { action: 'POST /cluster/ha/resources', target: `lxc/${t.vmid}`, reason: `ha.enabled (${state})`, what: `add guest ${t.vmid} of ${t.id.label} to HA` }, () =>
      ctx.pve.createHaResource({ sid, state, comment }),
    )
    return { created: true }
  } catch (err) {
    if (!isAlreadyExists(err)) throw err
  }
  const existing = (await read('list HA resources', () => ctx.pve.haResources(), ctx)).find((r) => r.sid === sid)
  const ours = isOurs(t, ctx.cluster.spec.owner, existing?.comment)
  if (existing?.state !== state) await setHaState(ctx, t, state)
  return { created: ours }
}

/** Sets the requested state of the guest's HA resource (`PUT /cluster/ha/resources/ct:<vmid>`). */
export async function setHaState(ctx: ControllerContext, t: HaTarget, state: HaState): Promise<void> {
  await audited(ctx, { action: 'PUT /cluster/ha/resources/{sid}', target: `lxc/${t.vmid}`, reason: `HA state ${state}`, what: `set the HA state of guest ${t.vmid} to ${state}` }, () =>
    ctx.pve.updateHaResource(haSid(t.vmid), { state }),
  )
}

/**
 * Removes the guest's HA resource when Proximity created it (its comment carries our marker), or
 * always with `force` (the guest is about to be destroyed; Proxmox refuses to destroy an
 * HA-managed guest). Returns what happened; "not there" is success.
 */
export async function removeHaResource(ctx: ControllerContext, t: HaTarget, opts: { force?: boolean } = {}): Promise<'removed' | 'absent' | 'foreign'> {
  const sid = haSid(t.vmid)
  const existing = (await read('list HA resources', () => ctx.pve.haResources(), ctx)).find((r) => r.sid === sid)
  if (!existing) return 'absent'
  if (!opts.force && !isOurs(t, ctx.cluster.spec.owner, existing.comment)) return 'foreign'
  try {
    await audited(ctx, { action: 'DELETE /cluster/ha/resources/{sid}', target: `lxc/${t.vmid}`, reason: opts.force ? 'guest deleted' : 'ha.enabled false', what: `remove guest ${t.vmid} of ${t.id.label} from HA` }, () =>
      ctx.pve.deleteHaResource(sid),
    )
  } catch (err) {
    if (isNotFound(err)) return 'absent'
    throw err
  }
  return 'removed'
}

function isOurs(t: HaTarget, owner: string, comment: string | undefined): boolean {
  return t.id.owns(parseMarker(comment), owner)
}
