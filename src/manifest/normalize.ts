/**
 * Step 4 of loading: turn a schema-valid document (defaults already filled in by ajv) into the
 * normalised shapes of src/model/types.ts: sizes and durations as numbers, catalog defaults
 * applied, hostname defaulted, spec hash computed. Pure apart from hashing.
 */
import { createHash } from 'node:crypto'
import type {
  AppSpec,
  ApplianceSpec,
  BackupPolicySpec,
  ClusterGitSpec,
  ClusterSpec,
  HealthSpec,
  Kind,
  Manifest,
  Metadata,
  RestoreSpec,
  SecretRef,
  SourceRef,
} from '../model/types.js'
import { API_VERSION } from '../model/types.js'
import { formatIpv4, parseCidr } from '../model/ipv4.js'
import { parseDiskGiB, parseDurationMs, parseMemoryMiB } from '../model/units.js'
import type { CatalogEntryLike } from './catalog-port.js'

/** Resources used when neither the manifest, the catalog nor the Cluster sets them. */
export const BUILTIN_APP_RESOURCES = { cores: 1, memory: 512, swap: 512, disk: 4 } as const

/** Inputs of {@link normalizeManifest} besides the document itself. */
export interface NormalizeContext {
  /** The document as written (before schema defaults), to tell "set" from "defaulted". */
  raw: Record<string, unknown>
  source: SourceRef
  clusterResources?: { cores: number; memory: number; swap: number; disk: number }
  /** For catalog Apps: the entry. */
  catalogEntry?: CatalogEntryLike
  /** For App sources: the compose document (inline, read from composeFile, or from the catalog). */
  compose?: Record<string, unknown>
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const has = (o: unknown, k: string): boolean => Object.prototype.hasOwnProperty.call(obj(o), k)

/**
 * Builds the normalised manifest. `value` must have passed the kind's schema (defaults filled).
 * @throws UnitError only if the schema let an unparsable size through (a bug).
 */
export function normalizeManifest(value: Obj, ctx: NormalizeContext): Manifest {
  const kind = value.kind as Kind
  const metadata = obj(value.metadata) as unknown as Metadata
  const spec = obj(value.spec)
  const rawSpec = obj(ctx.raw.spec)
  let out: unknown
  switch (kind) {
    case 'Cluster':
      out = normalizeCluster(spec)
      break
    case 'App':
      out = normalizeApp(spec, rawSpec, metadata, ctx)
      break
    case 'Appliance':
      out = normalizeAppliance(spec)
      break
    case 'BackupPolicy':
      out = normalizeBackupPolicy(spec)
      break
    case 'Restore':
      out = spec as unknown as RestoreSpec
      break
  }
  const cleanMeta: Metadata = { name: metadata.name }
  if (metadata.labels) cleanMeta.labels = metadata.labels
  if (metadata.annotations) cleanMeta.annotations = metadata.annotations
  return { apiVersion: API_VERSION, kind, metadata: cleanMeta, spec: out, source: ctx.source, specHash: specHash(out) } as Manifest
}

function resources(r: Obj): { cores: number; memory: number; swap: number; disk: number } {
  return { cores: r.cores as number, memory: parseMemoryMiB(r.memory), swap: parseMemoryMiB(r.swap), disk: parseDiskGiB(r.disk) }
}

function normalizeBackupPolicy(spec: Obj): BackupPolicySpec {
  const out = { ...spec } as unknown as BackupPolicySpec
  if (spec.verify !== undefined) {
    const v = obj(spec.verify)
    out.verify = { schedule: v.schedule as string, suspend: (v.suspend as boolean | undefined) ?? false }
    if (v.healthTimeout !== undefined) out.verify.healthTimeout = parseDurationMs(v.healthTimeout)
    if (typeof v.appsPerRun === 'number') out.verify.appsPerRun = v.appsPerRun
  }
  return out
}

function normalizeCluster(spec: Obj): ClusterSpec {
  const defaults = obj(spec.defaults)
  const out = { ...spec, defaults: { ...defaults, resources: resources(obj(defaults.resources)) } } as unknown as ClusterSpec
  if (has(spec, 'git')) {
    const git = obj(spec.git)
    out.git = { ...(git as unknown as ClusterGitSpec), interval: parseDurationMs(git.interval ?? '1m'), username: (git.username as string | undefined) ?? 'git' }
  }
  return out
}

function normalizeApp(spec: Obj, raw: Obj, metadata: Metadata, ctx: NormalizeContext): AppSpec {
  const entry = ctx.catalogEntry
  const src = obj(spec.source)
  const source: AppSpec['source'] = { compose: ctx.compose ?? obj(src.compose) }
  if (typeof src.catalog === 'string') source.catalog = src.catalog
  if (typeof src.version === 'string') source.version = src.version
  if (typeof src.composeFile === 'string') source.composeFile = src.composeFile

  const base = entry?.resources ?? ctx.clusterResources ?? BUILTIN_APP_RESOURCES
  const r = obj(spec.resources)
  const res: AppSpec['resources'] = {
    cores: has(r, 'cores') ? (r.cores as number) : base.cores,
    memory: has(r, 'memory') ? parseMemoryMiB(r.memory) : base.memory,
    swap: has(r, 'swap') ? parseMemoryMiB(r.swap) : base.swap,
    disk: has(r, 'disk') ? parseDiskGiB(r.disk) : base.disk,
  }
  if (typeof r.storage === 'string') res.storage = r.storage

  const net = obj(spec.network)
  const network: AppSpec['network'] = { ip: (net.ip as string) ?? 'dhcp' }
  for (const k of ['appliance', 'bridge', 'gateway'] as const) if (typeof net[k] === 'string') network[k] = net[k] as string

  const rawHealth = has(raw, 'health') ? obj(spec.health) : entry?.health
  let health: HealthSpec | undefined
  if (rawHealth) {
    const h = rawHealth as Obj
    health = { timeout: parseDurationMs(h.timeout ?? '2m') }
    if (h.http) health.http = { path: '/', expectStatus: 200, ...(h.http as HealthSpec['http']) } as HealthSpec['http']
    if (h.tcp) health.tcp = h.tcp as HealthSpec['tcp']
    if (h.compose !== undefined) health.compose = h.compose as boolean
  }

  const rawVolumes = has(raw, 'volumes') ? (spec.volumes as Obj[]) : (entry?.volumes ?? [])
  const volumes = rawVolumes.map((v) => ({ name: v.name as string, path: v.path as string, size: parseDiskGiB(v.size), backup: (v.backup as boolean | undefined) ?? true }))

  const rawExpose: Obj[] = has(raw, 'expose') ? (spec.expose as Obj[]) : ((entry?.expose ?? []) as unknown as Obj[])
  const expose = rawExpose.map((e) => {
    const x: AppSpec['expose'][number] = { port: e.port as number, tls: ((e.tls as string) ?? 'internal') as 'internal' }
    if (typeof e.host === 'string') x.host = e.host
    return x
  })

  const env: Record<string, string> = { ...(entry?.env ?? {}) }
  for (const [k, v] of Object.entries(obj(spec.env))) env[k] = String(v)
  const secrets: Record<string, SecretRef> = { ...(entry?.secrets ?? {}), ...(obj(spec.secrets) as Record<string, SecretRef>) }

  const update = obj(spec.update)
  const out: AppSpec = {
    source,
    resources: res,
    network,
    hostname: (spec.hostname as string | undefined) ?? metadata.name,
    expose,
    env,
    secrets,
    volumes,
    state: spec.state as AppSpec['state'],
    update: { strategy: update.strategy as AppSpec['update']['strategy'], rollback: update.rollback as boolean, healthTimeout: parseDurationMs(update.healthTimeout) },
    deletionPolicy: spec.deletionPolicy as AppSpec['deletionPolicy'],
    suspend: spec.suspend as boolean,
    ha: { enabled: obj(spec.ha).enabled as boolean },
    dependsOn: (spec.dependsOn as string[]) ?? [],
  }
  if (health) out.health = health
  if (typeof spec.node === 'string') out.node = spec.node
  if (spec.placement) out.placement = spec.placement as AppSpec['placement']
  if (typeof spec.template === 'string') out.template = spec.template
  return out
}

function normalizeAppliance(spec: Obj): ApplianceSpec {
  const lan = obj(spec.lan)
  const subnet = parseCidr(lan.subnet as string)
  const out = { ...spec, resources: { ...obj(spec.resources), ...resources(obj(spec.resources)) } } as unknown as ApplianceSpec
  if (subnet) {
    const gateway = (lan.gateway as string | undefined) ?? formatIpv4(subnet.network + 1)
    const size = subnet.broadcast - subnet.network + 1
    const dhcpRange = (lan.dhcpRange as ApplianceSpec['lan']['dhcpRange'] | undefined) ?? {
      start: formatIpv4(subnet.network + Math.max(2, Math.floor(size / 2))),
      end: formatIpv4(Math.max(subnet.network + 2, subnet.broadcast - 1)),
    }
    out.lan = { ...(lan as unknown as ApplianceSpec['lan']), gateway, dhcpRange }
  }
  out.nat = { ...out.nat, portForwards: out.nat.portForwards.map((p) => ({ ...p, protocol: p.protocol ?? 'tcp' })) }
  return out
}

/**
 * sha256 (hex) over the canonical JSON (sorted keys) of a normalised spec. Sealed secret values
 * are hashed as written (ciphertext), never unsealed.
 */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex')
}

/** JSON with object keys sorted at every level; `undefined` members are dropped. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, sortKeys) ?? 'null'
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const out: Obj = {}
  for (const k of Object.keys(value).sort()) out[k] = (value as Obj)[k]
  return out
}
