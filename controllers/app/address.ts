/**
 * The App's addresses as its status records them (`extra.ip`, `extra.urls`; the API shows them
 * as `status.addresses`), derived by the shared rules of src/model/app-address.ts.
 *
 * Reads: the Appliance's status (store) for a LAN lease; for DHCP on a plain bridge, the guest's
 * `GET /nodes/{node}/lxc/{vmid}/interfaces`, and only when the caller allows it (see
 * AddressLookup): never on a steady pass, so a converged resync stays at one snapshot read.
 */
import { deriveAppAddress, needsGuestReport, reportedIpOf } from '../../src/model/app-address.js'
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import type { AppStatusExtra } from './observation.js'

/**
 * When the guest may be asked for its address (DHCP on a plain bridge only):
 * - `always`: the guest was created, started, updated or deployed in this attempt or the one
 *   before (its address may be new);
 * - `if-unknown`: a pass that already reads the guest's config (the deep check), and no
 *   address is recorded yet;
 * - `never`: a steady pass (the snapshot alone proved the app converged).
 */
export type AddressLookup = 'always' | 'if-unknown' | 'never'

/**
 * The `ip`/`urls` patch of the App's status extra. An address the guest does not report (a
 * failed or empty `interfaces` read) keeps the recorded one; a stopped DHCP guest has none.
 * Never throws for the lookup: an address is information, not a reason to fail the reconcile.
 */
export async function addressPatch(ctx: ControllerContext, app: AppManifest, guest: { vmid: number; node: string }, extra: AppStatusExtra, lookup: AddressLookup): Promise<Pick<AppStatusExtra, 'ip' | 'urls'>> {
  const name = app.metadata.name
  const applianceName = app.spec.network.appliance
  const leased = applianceName ? (ctx.store.getStatus(`Appliance/${applianceName}`)?.extra?.addresses as Record<string, unknown> | undefined)?.[name] : undefined
  let reported: string | undefined
  if (needsGuestReport(app) && app.spec.state === 'running') {
    reported = extra.ip
    if (lookup === 'always' || (lookup === 'if-unknown' && extra.ip === undefined)) {
      const nics = await ctx.pve.lxcInterfaces(guest.node, guest.vmid).catch(() => [])
      reported = reportedIpOf(nics) ?? extra.ip
    }
  }
  const a = deriveAppAddress(app, ctx.set, { ...(typeof leased === 'string' ? { leased } : {}), ...(reported ? { reported } : {}) })
  return { ip: a.ip, urls: a.urls }
}
