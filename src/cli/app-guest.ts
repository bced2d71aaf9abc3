/**
 * Finds the guest of one App on the live cluster, by its ownership marker (DESIGN §3): never by
 * vmid or node alone, so a migrated guest is still found and a foreign guest never is. Reads only.
 */
import { hasManagedTag, parseMarker } from '../model/marker.js'
import type { PveClient } from '../providers/proxmox/types.js'
import type { StateStore } from '../store/types.js'

/**
 * Folder of an App's compose project inside its guest. WARNING: must stay equal to
 * `projectDir` in controllers/app/docker.ts (src/ never imports controllers).
 */
export const appProjectDir = (app: string): string => `/opt/proximity/${app}`

/** Where an App's guest runs now. */
export interface AppGuest {
  vmid: number
  node: string
  status: string
}

/**
 * Looks the App up in one `/cluster/resources` snapshot: the vmid the state store last recorded
 * is checked first (one config read in the usual case), then every other guest carrying the
 * `proximity` tag, until a marker names this App and owner. Resolves undefined when no guest
 * does (never applied, deleted, or owned by another installation).
 */
export async function findAppGuest(pve: PveClient, store: StateStore | undefined, owner: string, name: string): Promise<AppGuest | undefined> {
  const guests = (await pve.clusterGuests()).filter((g) => g.type === 'lxc' && hasManagedTag(g.tags))
  const known = store?.getStatus(`App/${name}`)?.inventory?.vmid
  const ordered = [...guests].sort((a, b) => Number(b.vmid === known) - Number(a.vmid === known) || a.vmid - b.vmid)
  for (const g of ordered) {
    const cfg = await pve.lxcConfig(g.node, g.vmid)
    const m = parseMarker(typeof cfg.description === 'string' ? cfg.description : undefined)
    if (m && m.kind === 'App' && m.name === name && m.owner === owner) return { vmid: g.vmid, node: g.node, status: g.status }
  }
  return undefined
}
