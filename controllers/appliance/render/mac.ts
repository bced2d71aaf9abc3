/**
 * Deterministic MAC addresses for apps on an appliance LAN. The MAC is what ties an app to its
 * static lease, so it must survive re-creation and restore of the guest: it depends only on the
 * installation (`Cluster.spec.owner`) and the App's name. Pure.
 */
import { createHash } from 'node:crypto'
import { ApplianceRenderError } from './errors.js'
import { assertName } from './tokens.js'

/**
 * The MAC address of App `app` of installation `owner`: `02:` followed by 40 bits of
 * sha256 of the JSON array `["proximity-mac", owner, app]`, upper-case as Proxmox writes MACs. The first octet 02 is
 * locally administered and unicast (bits 1 and 0 of the first octet), so it never clashes with a
 * vendor address and Proxmox and dnsmasq accept it. Same input, same MAC, on every run and host.
 *
 * WARNING: renaming an App or changing the owner changes its MAC and therefore its lease; two
 * installations sharing a LAN must use different owners (they must anyway, for markers).
 * @throws ApplianceRenderError when `owner` is empty or `app` is not a valid object name.
 */
export function appMacAddress(owner: string, app: string): string {
  if (typeof owner !== 'string' || owner.length === 0) throw new ApplianceRenderError('Cluster spec.owner', 'owner must be a non-empty string')
  assertName(app, `App/${app} metadata.name`)
  const digest = createHash('sha256').update(JSON.stringify(['proximity-mac', owner, app])).digest()
  const bytes = [0x02, ...digest.subarray(0, 5)]
  return bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
}
