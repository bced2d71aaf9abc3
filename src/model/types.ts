/**
 * Desired-state types for every manifest kind (DESIGN §2).
 *
 * These are the *normalised* shapes the loader hands to the rest of Proximity: sizes are numbers
 * (MiB for memory/swap, GiB for disks), durations are milliseconds, defaults are filled in, catalog
 * apps are expanded into inline compose. `schemas/<kind>.schema.json` is the source of truth for the
 * raw YAML; `test/manifest/schema-agreement.test.ts` keeps these types and the schemas in step.
 */

export const API_VERSION = 'proximity/v1alpha1' as const

export type Kind = 'Cluster' | 'App' | 'Appliance' | 'BackupPolicy' | 'Restore'

export interface Metadata {
  name: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

/** Where a manifest came from, for located errors and for resolving relative paths. */
export interface SourceRef {
  file: string
  /** 1-based line of the document's start. */
  line: number
  column: number
}

/** A secret value as written in a manifest. Plaintext never appears in a manifest. */
export type SecretRef =
  | { sealed: string }
  | { env: string }
  | { file: string }
  | { generate: { length: number } }

export interface ManifestBase<K extends Kind, S> {
  apiVersion: typeof API_VERSION
  kind: K
  metadata: Metadata
  spec: S
  /** Added by the loader; not part of the YAML. */
  source: SourceRef
  /** sha256 of the normalised spec (secrets as keyed digests); changes bump the generation. */
  specHash: string
}

// ---------- Cluster ----------

export interface ClusterSpec {
  /** https URL, e.g. https://pve.lan:8006 */
  endpoint: string
  tls: { fingerprint?: string; ca?: string; insecureSkipVerify?: boolean }
  auth: { tokenId?: string; tokenSecret?: SecretRef; username?: string; password?: SecretRef }
  ssh?: { host: string; port: number; user: string; privateKey: SecretRef; hostKey: string }
  defaults: {
    node?: string
    storage: string
    templateStorage: string
    backupStorage: string
    bridge: string
    /** Template volid or an aplinfo name prefix such as `alpine-3.22`. */
    template: string
    resources: { cores: number; memory: number; swap: number; disk: number }
  }
  vmidRange: { min: number; max: number }
  concurrency: { perNode: number; perStorage: number }
  /** Installation id written into guest markers. */
  owner: string
  /** Refuse a prune that deletes more than this many guests without --allow-mass-delete. */
  deleteThreshold?: number
  /** The git repository `serve` follows when no --git flag is given. */
  git?: ClusterGitSpec
}

/**
 * `Cluster.spec.git`: what `serve --git …` takes, as data. Every secret is a file path (as
 * written: absolute or relative to the Cluster manifest), never a value.
 */
export interface ClusterGitSpec {
  /** https, ssh, file:// or a local path; never with credentials in it. */
  url: string
  ref?: string
  /** Folder of the repository holding the manifests. */
  path?: string
  /** Poll interval in ms. @default 60000 */
  interval: number
  tokenFile?: string
  /** @default git */
  username: string
  sshKeyFile?: string
  knownHostsFile?: string
  webhook?: { secretFile: string }
  notify?: {
    webhook?: { url: string; secretFile?: string }
    commitStatus?: { api: string; repo: string; tokenFile: string }
  }
}
export type ClusterManifest = ManifestBase<'Cluster', ClusterSpec>

// ---------- App ----------

export interface ComposeSource {
  /** Parsed compose document (validated against the Compose Specification). */
  compose: Record<string, unknown>
}

export interface AppSource {
  catalog?: string
  version?: string
  /** Always present after loading: catalog and composeFile sources are expanded into it. */
  compose: Record<string, unknown>
  composeFile?: string
}

export interface HealthSpec {
  http?: { port: number; path: string; expectStatus: number }
  tcp?: { port: number }
  compose?: boolean
  /** ms */
  timeout: number
}

export interface AppSpec {
  source: AppSource
  node?: string
  placement?: { nodes: string[]; strategy: 'spread' | 'pack' }
  resources: {
    cores: number
    /** MiB */
    memory: number
    /** MiB */
    swap: number
    /** GiB */
    disk: number
    storage?: string
  }
  template?: string
  network: {
    appliance?: string
    bridge?: string
    /** 'dhcp' or a CIDR such as 10.0.0.5/24 */
    ip: string
    gateway?: string
  }
  hostname: string
  expose: { port: number; host?: string; tls: 'internal' | 'acme' | 'none' }[]
  env: Record<string, string>
  secrets: Record<string, SecretRef>
  volumes: { name: string; path: string; /** GiB */ size: number; backup: boolean }[]
  health?: HealthSpec
  state: 'running' | 'stopped'
  update: { strategy: 'snapshot' | 'backup' | 'none'; rollback: boolean; /** ms */ healthTimeout: number }
  deletionPolicy: 'Backup' | 'Delete' | 'Retain'
  suspend: boolean
  ha: { enabled: boolean }
  dependsOn: string[]
}
export type AppManifest = ManifestBase<'App', AppSpec>

// ---------- Appliance ----------

export interface ApplianceSpec {
  node?: string
  wan: { bridge: string; ip: string; gateway?: string }
  lan: { bridge: string; subnet: string; gateway: string; dhcpRange: { start: string; end: string } }
  dns: { domain: string; upstream: string[]; records: { name: string; ip: string }[] }
  proxy: { tls: 'internal' | 'acme'; acmeEmail?: string }
  nat: { masquerade: boolean; portForwards: { port: number; protocol: 'tcp' | 'udp'; to: string }[] }
  resources: { cores: number; memory: number; swap: number; disk: number; storage?: string }
}
export type ApplianceManifest = ManifestBase<'Appliance', ApplianceSpec>

// ---------- BackupPolicy ----------

export interface BackupPolicySpec {
  schedule: string
  selector: { matchLabels?: Record<string, string>; apps?: string[]; all?: boolean }
  storage?: string
  mode: 'snapshot' | 'suspend' | 'stop'
  compress: 'zstd' | 'gzip' | 'lzo' | 'none'
  retention: {
    keepLast?: number
    keepHourly?: number
    keepDaily?: number
    keepWeekly?: number
    keepMonthly?: number
    keepYearly?: number
  }
  includeAppliance: boolean
  suspend: boolean
  /** Restore drills; absent: none are scheduled. */
  verify?: BackupVerifySpec
}

/** `BackupPolicy.spec.verify`: when and how restore drills run. */
export interface BackupVerifySpec {
  /** Proxmox calendar event of the drills. */
  schedule: string
  /** Pause the drills. @default false */
  suspend: boolean
  /** ms a restored app may take to turn healthy. @default the app's health.timeout, else 5 min */
  healthTimeout?: number
  /** At most this many apps per run, verified longest ago first. @default every selected app */
  appsPerRun?: number
}
export type BackupPolicyManifest = ManifestBase<'BackupPolicy', BackupPolicySpec>

// ---------- Restore ----------

export interface RestoreSpec {
  app: string
  backup: string
  mode: 'in-place'
}
export type RestoreManifest = ManifestBase<'Restore', RestoreSpec>

export type Manifest = ClusterManifest | AppManifest | ApplianceManifest | BackupPolicyManifest | RestoreManifest

/** A loaded, validated and normalised set of manifests. */
export interface ManifestSet {
  cluster?: ClusterManifest
  apps: AppManifest[]
  appliances: ApplianceManifest[]
  backupPolicies: BackupPolicyManifest[]
  restores: RestoreManifest[]
  /** The folder(s) the set was loaded from, for relative paths. */
  roots: string[]
}

/** One located manifest error (STYLE "Errors"). */
export interface ManifestError {
  file: string
  line: number
  column: number
  kind?: string
  name?: string
  /** Dotted field path such as `spec.resources.memory`, or '' for the whole document. */
  path: string
  message: string
}

/**
 * The loader's verdict. `warnings` (optional, added by the loader) are non-fatal, e.g. sealed
 * values that could not be checked because no secret key is available.
 */
export type LoadResult =
  | { ok: true; set: ManifestSet; warnings?: ManifestError[] }
  | { ok: false; errors: ManifestError[]; warnings?: ManifestError[] }

/** `Kind/name`, the key used by the work queue, status and events. */
export type ObjectKey = `${Kind}/${string}`
export const objectKey = (kind: Kind, name: string): ObjectKey => `${kind}/${name}` as ObjectKey
