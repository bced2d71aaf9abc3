/**
 * Appliance manifest → what Proximity wants in Proxmox and inside the guest. Pure: the guest's
 * identity and NICs (WAN `eth0` on `wan.bridge`, LAN `eth1` on `lan.bridge` with the gateway
 * address), the LAN bridge and how we mark it as ours, the nodes that need it, the packages and
 * services, and the rendered config files (controllers/appliance/render).
 */
import { createHash } from 'node:crypto'
import type { AppManifest, ApplianceManifest, ClusterSpec, ManifestSet } from '../../src/model/types.js'
import { guestIdentity, type GuestIdentity, type GuestKind } from '../lxc/index.js'
import { renderApplianceFiles, resolveApplianceNetwork, type ApplianceNetwork, type ApplianceService, type RenderedApplianceFile } from './render/index.js'

/** Appliance as a guest kind (shared LXC machinery, controllers/lxc). */
export const APPLIANCE_GUEST: GuestKind = { kind: 'Appliance', tag: 'appliance' }

/** The identity of an Appliance's guest: key `Appliance/<name>`, marker, tags, label. */
export const applianceIdentity = (name: string): GuestIdentity => guestIdentity(APPLIANCE_GUEST, name)

/** The store key of an Appliance. */
export const applianceKey = (name: string): string => `Appliance/${name}`

/** Alpine packages the appliance runs (apk). */
export const APPLIANCE_PACKAGES = ['dnsmasq', 'caddy', 'nftables'] as const

/** Its OpenRC services, in start order (firewall, DNS/DHCP, proxy). */
export const APPLIANCE_SERVICES: readonly ApplianceService[] = ['nftables', 'dnsmasq', 'caddy']

/** Bumped when the in-guest setup (packages, runlevels, folders) changes: guests set up before redo it. */
export const SETUP_VERSION = 1

/** Prefix of the `comments` Proximity writes on a LAN bridge it created. */
export const BRIDGE_MARK = 'proximity: LAN of Appliance/'

/** The `comments` of the LAN bridge Proximity creates for `appliance` of installation `owner`. */
export function bridgeComment(owner: string, appliance: string): string {
  return `${BRIDGE_MARK}${appliance} owner=${owner}; managed, do not edit`
}

/** True when a bridge's comments say Proximity (this installation) created it. */
export function isOurBridge(comments: unknown, owner: string): boolean {
  return typeof comments === 'string' && comments.includes(BRIDGE_MARK) && comments.includes(` owner=${owner};`)
}

/** Apps of `set` that join `appliance` (`spec.network.appliance`). */
export function membersOf(set: Pick<ManifestSet, 'apps'>, appliance: string): AppManifest[] {
  return set.apps.filter((a) => a.spec.network.appliance === appliance)
}

/** The node the appliance goes to when it has no guest yet: `spec.node`, else the cluster default (else placement picks). */
export const applianceNode = (a: ApplianceManifest, cluster: ClusterSpec): string | undefined => a.spec.node ?? cluster.defaults.node

/**
 * Nodes that need the LAN bridge: the appliance's node and every node a member app names
 * (`node`, `placement.nodes`). A member without either may land on any node: then `allNodes`.
 */
export function lanNodes(a: ApplianceManifest, members: readonly AppManifest[], cluster: ClusterSpec, guestNode: string | undefined, allNodes: readonly string[]): string[] {
  const out = new Set<string>()
  const own = guestNode ?? applianceNode(a, cluster)
  // Without a fixed node the appliance may be placed on any node: every node needs the bridge.
  if (own) out.add(own)
  else for (const n of allNodes) out.add(n)
  for (const m of members) {
    if (m.spec.node) out.add(m.spec.node)
    else if (m.spec.placement?.nodes.length) for (const n of m.spec.placement.nodes) out.add(n)
    else if (cluster.defaults.node) out.add(cluster.defaults.node)
    else for (const n of allNodes) out.add(n)
  }
  return [...out].sort()
}

/** WAN NIC: `name=eth0,bridge=<wan.bridge>,ip=<wan.ip>[,gw=<wan.gateway>]`. */
export function applianceNet0(a: ApplianceManifest): string {
  const w = a.spec.wan
  const parts = ['name=eth0', `bridge=${w.bridge}`, `ip=${w.ip || 'dhcp'}`]
  if (w.gateway && w.ip !== 'dhcp') parts.push(`gw=${w.gateway}`)
  return parts.join(',')
}

/** LAN NIC: `name=eth1,bridge=<lan.bridge>,ip=<lan.gateway>/<prefix>`. */
export function applianceNet1(a: ApplianceManifest): string {
  const prefix = a.spec.lan.subnet.split('/')[1] ?? '24'
  return ['name=eth1', `bridge=${a.spec.lan.bridge}`, `ip=${a.spec.lan.gateway}/${prefix}`].join(',')
}

/** The guest config Proximity wants (without vmid/ostemplate); `specHash` goes into the marker. */
export function applianceConfig(a: ApplianceManifest, cluster: ClusterSpec, specHash: string): Record<string, string | number> {
  const r = a.spec.resources
  return {
    hostname: a.metadata.name,
    cores: r.cores,
    memory: r.memory,
    swap: r.swap,
    rootfs: `${r.storage ?? cluster.defaults.storage}:${r.disk}`,
    net0: applianceNet0(a),
    net1: applianceNet1(a),
    unprivileged: 1,
    onboot: 1,
    tags: applianceIdentity(a.metadata.name).tags,
    description: applianceIdentity(a.metadata.name).description(cluster.owner, specHash),
  }
}

/** Features at create: nesting, which OpenRC services in an unprivileged Alpine guest want. */
export const APPLIANCE_FEATURES = 'nesting=1'

/** The resolved LAN and its rendered files. `previous`: app → address read back from the appliance. */
export function renderAppliance(a: ApplianceManifest, set: Pick<ManifestSet, 'apps'>, owner: string, previous: Record<string, string> = {}): { network: ApplianceNetwork; files: RenderedApplianceFile[] } {
  const network = resolveApplianceNetwork(a, set.apps, { owner, previous })
  return { network, files: renderApplianceFiles(network) }
}

/** One digest over every rendered file (ids and content hashes), kept in memory to skip reads in steady state. */
export function filesDigest(files: readonly RenderedApplianceFile[]): string {
  return createHash('sha256').update(files.map((f) => `${f.id}=${f.hash}`).join('\n')).digest('hex')
}

/** How long a converged appliance goes without a full check (files read back, health probed). */
export const APPLIANCE_CHECK_INTERVAL_MS = 60_000

/** `MAC,IP,name` lines of a dhcp-hosts file → name → IP. */
export function addressesFromDhcpHosts(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const [, ip, name] = line.trim().split(',')
    if (ip && name) out[name] = ip
  }
  return out
}
