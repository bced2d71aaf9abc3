/**
 * Shared machinery for kinds whose objects are owned LXC guests — the App controller today, the
 * Appliance controller next. Everything is parameterised by a GuestKind (`{ kind, tag }`); from
 * it and an object name, `guestIdentity` derives the key, marker, tags and message label, so no
 * module here names a kind.
 *
 * How a second guest kind uses it (the Appliance, for instance):
 *
 * ```ts
 * const APPLIANCE: GuestKind = { kind: 'Appliance', tag: 'appliance' }
 * const id = guestIdentity(APPLIANCE, obj.metadata.name)
 * // observe: find the guest (inventory → pending create → marker scan), read-only
 * const found = await findGuest(ctx, id, { desiredState: 'running', steady: (g) => … })
 * // apply, when found.found === 'none': find-before-create with a pending record
 * const created = await createGuest(ctx, {
 *   id, where: { node: obj.spec.node }, templateSpec: ctx.cluster.spec.defaults.template,
 *   params: { hostname, net0, net1, …, tags: id.tags, description: id.description(owner, '') },
 *   pendingVmid: found.pendingCreate?.vmid,
 * })
 * ctx.status.inventory({ vmid: created.vmid, node: created.node })   // kept even if a later step fails
 * await startGuest(ctx, { key: id.key, ...created })
 * const g = guestRef(ctx, id.key, created.vmid, created.node)
 * await push(g, '/etc/dnsmasq.conf', rendered, '0644'); await exec(g, ['rc-service', 'dnsmasq', 'reload'], 'reload dnsmasq')
 * // last: write the marker with the new specHash (id.description(owner, obj.specHash))
 * // orphans / planDelete / finalize: findGuestOrphans(ctx, APPLIANCE, wanted), planGuestDelete, finalizeGuest
 * ```
 *
 * Remember `deletionPolicy` in the status memory (GuestMemory) on every reconcile so an orphan is
 * deleted the way its manifest last said. Declare LXC_PHASES among the controller's phases.
 */
export { guestIdentity, type GuestIdentity, type GuestKind } from './identity.js'
export { confirmPowerState, findGuest, isOwnGuest, readGuest, type FindGuestOptions, type FoundGuest, type ObservedGuest } from './find.js'
export { createGuest, CREATE_RESOURCE, pickNode, type CreatedGuest, type CreateGuestRequest, type Placement, type Reservation } from './create.js'
export { lookupTemplate, resolveTemplate, templateNotFound } from './template.js'
export { allocateVmid } from './vmid.js'
export { exec, guestRef, push, setFeatures, tail, type GuestRef } from './exec.js'
export { rebootGuest, shutdownGuest, startGuest, START_RESOURCE, type PowerTarget } from './power.js'
export { addHaResource, haSid, haStateFor, haTarget, removeHaResource, setHaState, type HaState, type HaTarget } from './ha.js'
export { deleteSnapshots, destroyOwnGuest, mountPointKeys, moveMountPoints, type DestroyOutcome } from './volumes.js'
export { finalizeGuest, findGuestOrphans, planGuestDelete, type DeletionPolicy, type GuestDeleteDetail, type GuestMemory, type GuestOrphan } from './finalize.js'

/** Progress phases the guest machinery reports (declare them in the controller's `phases`). */
export const LXC_PHASES = ['creating', 'starting', 'stopping'] as const
