/**
 * AppManifest → the Proxmox configuration Proximity wants for its guest. Pure.
 */
import { createHash } from 'node:crypto'
import { encodeMarker, MANAGED_TAG } from '../../src/model/marker.js'
import type { AppManifest, ClusterSpec } from '../../src/model/types.js'
import type { DesiredGuest } from '../../src/plan/types.js'

/** Extra tag on every App guest (the kind), besides `proximity`. */
export const APP_TAG = 'app'

/** Features the guest must end up with; `keyctl` is set over SSH (REFERENCE §8.1). */
export const DESIRED_FEATURES = 'keyctl=1,nesting=1'
/** Features an API token may send at create (only nesting). */
export const CREATE_FEATURES = 'nesting=1'

/** The storage of the rootfs: `spec.resources.storage`, else the cluster default. */
export function rootStorage(app: AppManifest, cluster: ClusterSpec): string {
  return app.spec.resources.storage ?? cluster.defaults.storage
}

/** `name=eth0,bridge=<bridge>,ip=dhcp|<cidr>[,gw=<gateway>]`. */
export function desiredNet0(app: AppManifest, cluster: ClusterSpec): string {
  const n = app.spec.network
  const parts = ['name=eth0', `bridge=${n.bridge ?? cluster.defaults.bridge}`, `ip=${n.ip || 'dhcp'}`]
  if (n.gateway && n.ip !== 'dhcp') parts.push(`gw=${n.gateway}`)
  return parts.join(',')
}

/** The description: the marker line, then one human line. */
export function desiredDescription(app: AppManifest, owner: string, specHash: string): string {
  const marker = encodeMarker({ kind: 'App', name: app.metadata.name, owner, specHash })
  return `${marker}\nmanaged by proximity (App/${app.metadata.name}); change the manifest, not this guest`
}

/**
 * The desired guest. `markerSpecHash` is the hash written into the marker (the last fully applied
 * one: apply writes the new hash only after the deploy succeeded). `onboot` follows `state`.
 */
export function desiredGuest(app: AppManifest, cluster: ClusterSpec, opts: { markerSpecHash: string; ostemplate?: string }): DesiredGuest {
  const s = app.spec
  const storage = rootStorage(app, cluster)
  const config: Record<string, string | number> = {
    hostname: s.hostname,
    cores: s.resources.cores,
    memory: s.resources.memory,
    swap: s.resources.swap,
    rootfs: `${storage}:${s.resources.disk}`,
    net0: desiredNet0(app, cluster),
    features: DESIRED_FEATURES,
    unprivileged: 1,
    onboot: s.state === 'running' ? 1 : 0,
    tags: [APP_TAG, MANAGED_TAG].sort().join(';'),
    description: desiredDescription(app, cluster.owner, opts.markerSpecHash),
  }
  const paths: Record<string, string> = {}
  s.volumes.forEach((v, i) => {
    config[`mp${i}`] = `${storage}:${v.size},mp=${v.path},backup=${v.backup ? 1 : 0}`
    paths[`mp${i}`] = `volumes.${v.name}`
  })
  return { config, ostemplate: opts.ostemplate, state: s.state, paths }
}

/** Params for `POST /nodes/{node}/lxc` (create): the desired config with create-safe features. */
export function createParams(guest: DesiredGuest, vmid: number, ostemplate: string): Record<string, string | number> {
  const params: Record<string, string | number> = { ...guest.config, vmid, ostemplate, features: CREATE_FEATURES }
  return params
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
