/**
 * AppManifest → the Proxmox configuration Proximity wants for its guest. Pure.
 */
import { createHash } from 'node:crypto'
import type { AppManifest, ClusterSpec, ManifestSet } from '../../src/model/types.js'
import type { DesiredGuest } from '../../src/plan/types.js'
import { guestIdentity, type GuestIdentity, type GuestKind } from '../lxc/index.js'
import { appMacAddress } from '../appliance/render/index.js'

/** Extra tag on every App guest (the kind), besides `proximity`. */
export const APP_TAG = 'app'

/** App as a guest kind (shared LXC machinery, controllers/lxc). */
export const APP_GUEST: GuestKind = { kind: 'App', tag: APP_TAG }

/** The identity of an App's guest: key `App/<name>`, marker, tags, label `App <name>`. */
export const appIdentity = (name: string): GuestIdentity => guestIdentity(APP_GUEST, name)

/** Features the guest must end up with; `keyctl` is set over SSH (REFERENCE §8.1). */
export const DESIRED_FEATURES = 'keyctl=1,nesting=1'
/** Features an API token may send at create (only nesting). */
export const CREATE_FEATURES = 'nesting=1'

/** The storage of the rootfs: `spec.resources.storage`, else the cluster default. */
export function rootStorage(app: AppManifest, cluster: ClusterSpec): string {
  return app.spec.resources.storage ?? cluster.defaults.storage
}

/**
 * The appliance LAN an App joins (`spec.network.appliance`): the LAN bridge, the appliance's
 * LAN address (gateway and DNS), the prefix, the domain and the App's deterministic MAC, so its
 * lease and name survive re-creation and restore. Undefined when the App joins none, or when
 * the named Appliance is not in `set` (the App then waits).
 */
export interface AppLan {
  appliance: string
  bridge: string
  gateway: string
  prefix: string
  domain: string
  mac: string
}

/** The LAN of `app` (see AppLan). Pure. */
export function appLan(app: AppManifest, set: Pick<ManifestSet, 'appliances'> | undefined, owner: string): AppLan | undefined {
  const name = app.spec.network.appliance
  const a = name ? set?.appliances.find((x) => x.metadata.name === name) : undefined
  if (!a) return undefined
  return { appliance: a.metadata.name, bridge: a.spec.lan.bridge, gateway: a.spec.lan.gateway, prefix: a.spec.lan.subnet.split('/')[1] ?? '24', domain: a.spec.dns.domain, mac: appMacAddress(owner, app.metadata.name) }
}

/**
 * `name=eth0,bridge=<bridge>,ip=dhcp|<cidr>[,gw=<gateway>]`. On an appliance LAN: the LAN
 * bridge, `hwaddr` = the App's deterministic MAC, DHCP (the appliance holds its reservation) or
 * the static address with the appliance as gateway.
 */
export function desiredNet0(app: AppManifest, cluster: ClusterSpec, lan?: AppLan): string {
  const n = app.spec.network
  if (lan) {
    const parts = ['name=eth0', `bridge=${lan.bridge}`, `hwaddr=${lan.mac}`, `ip=${n.ip || 'dhcp'}`]
    if (n.ip && n.ip !== 'dhcp') parts.push(`gw=${lan.gateway}`)
    return parts.join(',')
  }
  const parts = ['name=eth0', `bridge=${n.bridge ?? cluster.defaults.bridge}`, `ip=${n.ip || 'dhcp'}`]
  if (n.gateway && n.ip !== 'dhcp') parts.push(`gw=${n.gateway}`)
  return parts.join(',')
}

/** The description: the marker line, then one human line. */
export function desiredDescription(app: AppManifest, owner: string, specHash: string): string {
  return appIdentity(app.metadata.name).description(owner, specHash)
}

/**
 * The desired guest. `markerSpecHash` is the hash written into the marker (the last fully applied
 * one: apply writes the new hash only after the deploy succeeded). `onboot` follows `state`.
 */
export function desiredGuest(app: AppManifest, cluster: ClusterSpec, opts: { markerSpecHash: string; ostemplate?: string; lan?: AppLan }): DesiredGuest {
  const s = app.spec
  const storage = rootStorage(app, cluster)
  const config: Record<string, string | number> = {
    hostname: s.hostname,
    cores: s.resources.cores,
    memory: s.resources.memory,
    swap: s.resources.swap,
    rootfs: `${storage}:${s.resources.disk}`,
    net0: desiredNet0(app, cluster, opts.lan),
    // On an appliance LAN the appliance is the DNS server (DHCP says so too; a static address needs it here).
    ...(opts.lan ? { nameserver: opts.lan.gateway, searchdomain: opts.lan.domain } : {}),
    features: DESIRED_FEATURES,
    unprivileged: 1,
    onboot: s.state === 'running' ? 1 : 0,
    tags: appIdentity(app.metadata.name).tags,
    description: desiredDescription(app, cluster.owner, opts.markerSpecHash),
  }
  const paths: Record<string, string> = {}
  s.volumes.forEach((v, i) => {
    config[`mp${i}`] = `${storage}:${v.size},mp=${v.path},backup=${v.backup ? 1 : 0}`
    paths[`mp${i}`] = `volumes.${v.name}`
  })
  return { config, ostemplate: opts.ostemplate, state: s.state, paths }
}

/** Params for `POST /nodes/{node}/lxc` (create, without vmid and ostemplate): the desired config with create-safe features. */
export function createParams(guest: DesiredGuest): Record<string, string | number> {
  return { ...guest.config, features: CREATE_FEATURES }
}

/**
 * Digest of what is deployed inside the guest: compose document, env, and the secret references
 * (keyed digests from `digest`, never values). A change means re-push + `up`.
 */
export function deployHash(app: AppManifest, digest: (value: string) => string): string {
  const secrets: Record<string, string> = {}
  for (const k of Object.keys(app.spec.secrets).sort()) secrets[k] = digest(JSON.stringify(app.spec.secrets[k]))
  const body = stableJson({ compose: app.spec.source.compose, env: app.spec.env, secrets })
  return createHash('sha256').update(body).digest('hex')
}

/** JSON with object keys sorted (so equal data hashes equally). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}
