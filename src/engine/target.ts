/**
 * Which Proxmox a command talks to, in this order (DESIGN §2 "Cluster", §7):
 *
 * 1. a `Cluster` manifest among the inputs (at most one; its secret refs are resolved here);
 * 2. the environment, when `PROXIMITY_ENDPOINT` is set:
 *    - `PROXIMITY_ENDPOINT`        https URL of the API, e.g. `https://pve.lan:8006`
 *    - `PROXIMITY_TOKEN_ID`        API token id `user@realm!name`
 *    - `PROXIMITY_TOKEN_SECRET`    its secret (a UUID)
 *    - `PROXIMITY_USERNAME` / `PROXIMITY_PASSWORD`   ticket auth instead of a token
 *    - `PROXIMITY_FINGERPRINT`     SHA-256 fingerprint of the TLS certificate (pinning), or
 *    - `PROXIMITY_CA_FILE`         PEM file of the CA to trust, or
 *    - `PROXIMITY_INSECURE=1`      skip TLS verification (never in production)
 *    - `PROXIMITY_SSH_HOST`, `PROXIMITY_SSH_PORT` (22), `PROXIMITY_SSH_USER` (root),
 *      `PROXIMITY_SSH_KEY_FILE`, `PROXIMITY_SSH_HOST_KEY` (`SHA256:…`)   node shell access
 *    - `PROXIMITY_OWNER`           installation id written into guest markers (default `proximity`)
 *    - `PROXIMITY_NODE`            default node for new guests
 * 3. otherwise the built-in sandbox: the simulator started in-process with its state under
 *    `<state-dir>/sandbox/`, announced on stderr.
 *
 * Nothing here logs a secret; resolved secrets live only in the returned object.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import type { ClusterManifest, ClusterSpec, ManifestSet, SecretRef } from '../model/types.js'
import type { ResolvedCluster } from '../runtime/controller.js'
import type { RunningSimulator } from '../sim/types.js'

/** How to reach the Proxmox API. Holds resolved secrets: never print it. */
export interface PveConnection {
  endpoint: string
  tls: { fingerprint?: string; ca?: string; insecureSkipVerify?: boolean }
  auth: { tokenId: string; tokenSecret: string } | { username: string; password: string }
}

/** How to reach node shells over SSH. Holds a private key: never print it. */
export interface SshConnection {
  host: string
  port: number
  user: string
  privateKey: string
  hostKey: string
}

/** A resolved target. `close()` stops an embedded sandbox (idempotent). */
export interface Target {
  cluster: ResolvedCluster
  pve: PveConnection
  ssh?: SshConnection
  /** The embedded sandbox when the target is the sandbox. */
  sandbox?: RunningSimulator
  close(): Promise<void>
}

/** A target that cannot be resolved (bad environment, unreadable key file, two Cluster manifests). */
export class TargetError extends Error {
  override readonly name = 'TargetError'
}

/** Options of resolveTarget. */
export interface ResolveTargetOptions {
  set: ManifestSet
  env: NodeJS.ProcessEnv
  cwd: string
  /** The state dir (the sandbox lives in `<stateDir>/sandbox`). */
  stateDir: string
  /** Resolves a secret ref of the Cluster manifest (sealed/env/file) to plaintext. */
  resolveSecret: (ref: SecretRef, baseDir: string, field: string) => Promise<string>
  /** Where the sandbox announcement goes. */
  announce: (line: string) => void
  /** Task latency of an embedded sandbox. @default 20 */
  sandboxTaskLatencyMs?: number | Record<string, number>
}

/** Defaults shared by the environment and sandbox targets; the same as the Cluster schema's. */
export const CLUSTER_DEFAULTS: Omit<ClusterSpec, 'endpoint' | 'tls' | 'auth' | 'ssh'> = {
  defaults: {
    storage: 'local-lvm',
    templateStorage: 'local',
    backupStorage: 'local',
    bridge: 'vmbr0',
    template: 'alpine-3.22',
    resources: { cores: 1, memory: 512, swap: 512, disk: 4 },
  },
  vmidRange: { min: 1000, max: 1999 },
  concurrency: { perNode: 4, perStorage: 2 },
  owner: 'proximity',
  deleteThreshold: 5,
}

/**
 * Resolves the target of a command. Starts the embedded sandbox when neither a Cluster manifest
 * nor `PROXIMITY_ENDPOINT` is given. Throws TargetError with an actionable message.
 */
export async function resolveTarget(opts: ResolveTargetOptions): Promise<Target> {
  if (opts.set.cluster) return fromClusterManifest(opts.set.cluster, opts)
  if (opts.env.PROXIMITY_ENDPOINT) return fromEnvironment(opts)
  return startSandbox(opts)
}

async function fromClusterManifest(m: ClusterManifest, opts: ResolveTargetOptions): Promise<Target> {
  const spec = withDefaults(m.spec)
  const base = dirname(m.source.file)
  const where = `Cluster/${m.metadata.name}`
  let auth: PveConnection['auth']
  if (spec.auth.tokenId && spec.auth.tokenSecret) {
    auth = { tokenId: spec.auth.tokenId, tokenSecret: await opts.resolveSecret(spec.auth.tokenSecret, base, 'spec.auth.tokenSecret') }
  } else if (spec.auth.username && spec.auth.password) {
    auth = { username: spec.auth.username, password: await opts.resolveSecret(spec.auth.password, base, 'spec.auth.password') }
  } else {
    throw new TargetError(`${where}: set spec.auth.tokenId and spec.auth.tokenSecret (or username and password)`)
  }
  let ssh: SshConnection | undefined
  if (spec.ssh) {
    ssh = {
      host: spec.ssh.host,
      port: spec.ssh.port ?? 22,
      user: spec.ssh.user ?? 'root',
      privateKey: await opts.resolveSecret(spec.ssh.privateKey, base, 'spec.ssh.privateKey'),
      hostKey: spec.ssh.hostKey,
    }
  }
  return {
    cluster: { spec, origin: where },
    pve: { endpoint: spec.endpoint, tls: spec.tls ?? {}, auth },
    ssh,
    close: async () => {},
  }
}

async function fromEnvironment(opts: ResolveTargetOptions): Promise<Target> {
  const env = opts.env
  const endpoint = env.PROXIMITY_ENDPOINT as string
  let auth: PveConnection['auth']
  if (env.PROXIMITY_TOKEN_ID && env.PROXIMITY_TOKEN_SECRET) {
    auth = { tokenId: env.PROXIMITY_TOKEN_ID, tokenSecret: env.PROXIMITY_TOKEN_SECRET }
  } else if (env.PROXIMITY_USERNAME && env.PROXIMITY_PASSWORD) {
    auth = { username: env.PROXIMITY_USERNAME, password: env.PROXIMITY_PASSWORD }
  } else {
    throw new TargetError('PROXIMITY_ENDPOINT is set but no credentials: set PROXIMITY_TOKEN_ID and PROXIMITY_TOKEN_SECRET')
  }
  const tls: PveConnection['tls'] = {}
  if (env.PROXIMITY_FINGERPRINT) tls.fingerprint = env.PROXIMITY_FINGERPRINT
  else if (env.PROXIMITY_CA_FILE) tls.ca = await readText(env.PROXIMITY_CA_FILE, opts.cwd, 'PROXIMITY_CA_FILE')
  else if (isTrue(env.PROXIMITY_INSECURE)) tls.insecureSkipVerify = true
  else throw new TargetError('set PROXIMITY_FINGERPRINT (or PROXIMITY_CA_FILE) to pin the Proxmox TLS certificate; PROXIMITY_INSECURE=1 skips the check')
  let ssh: SshConnection | undefined
  if (env.PROXIMITY_SSH_HOST) {
    if (!env.PROXIMITY_SSH_KEY_FILE || !env.PROXIMITY_SSH_HOST_KEY) {
      throw new TargetError('PROXIMITY_SSH_HOST needs PROXIMITY_SSH_KEY_FILE and PROXIMITY_SSH_HOST_KEY (the SHA256:… host key fingerprint)')
    }
    const port = Number(env.PROXIMITY_SSH_PORT ?? 22)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TargetError(`PROXIMITY_SSH_PORT must be a port number, got "${env.PROXIMITY_SSH_PORT}"`)
    ssh = {
      host: env.PROXIMITY_SSH_HOST,
      port,
      user: env.PROXIMITY_SSH_USER ?? 'root',
      privateKey: await readText(env.PROXIMITY_SSH_KEY_FILE, opts.cwd, 'PROXIMITY_SSH_KEY_FILE'),
      hostKey: env.PROXIMITY_SSH_HOST_KEY,
    }
  }
  const spec = withDefaults({ endpoint, tls, auth: {} } as Partial<ClusterSpec> as ClusterSpec)
  if (env.PROXIMITY_OWNER) spec.owner = env.PROXIMITY_OWNER
  if (env.PROXIMITY_NODE) spec.defaults.node = env.PROXIMITY_NODE
  return { cluster: { spec, origin: 'environment' }, pve: { endpoint, tls, auth }, ssh, close: async () => {} }
}

async function startSandbox(opts: ResolveTargetOptions): Promise<Target> {
  const dir = join(opts.stateDir, 'sandbox')
  const rel = relative(opts.cwd, dir)
  const shown = rel && !rel.startsWith('..') ? rel : dir
  opts.announce(
    `using the built-in sandbox (state in ${shown}); set PROXIMITY_ENDPOINT or add a Cluster manifest to target a real Proxmox`,
  )
  // Imported lazily: a real-cluster run never pays for loading the simulator.
  const { startSimulator } = await import('../sim/index.js')
  const sim = await startSimulator({
    statePath: join(dir, 'state.json'),
    taskLatencyMs: opts.sandboxTaskLatencyMs ?? 20,
  })
  const spec = withDefaults({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: {} } as Partial<ClusterSpec> as ClusterSpec)
  if (opts.env.PROXIMITY_OWNER) spec.owner = opts.env.PROXIMITY_OWNER
  let stopped = false
  return {
    cluster: { spec, origin: 'sandbox' },
    pve: { endpoint: sim.endpoint, tls: sim.fingerprint ? { fingerprint: sim.fingerprint } : {}, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } },
    ssh: { host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKey: sim.ssh.privateKey, hostKey: sim.ssh.hostKey },
    sandbox: sim,
    close: async () => {
      if (stopped) return
      stopped = true
      await sim.stop()
    },
  }
}

/** Fills Cluster defaults the loader may not have filled (env/sandbox specs, partial specs). */
export function withDefaults(spec: ClusterSpec): ClusterSpec {
  const d = CLUSTER_DEFAULTS
  return {
    ...spec,
    tls: spec.tls ?? {},
    auth: spec.auth ?? {},
    defaults: {
      ...d.defaults,
      ...(spec.defaults ?? {}),
      resources: { ...d.defaults.resources, ...(spec.defaults?.resources ?? {}) },
    },
    vmidRange: { ...d.vmidRange, ...(spec.vmidRange ?? {}) },
    concurrency: { ...d.concurrency, ...(spec.concurrency ?? {}) },
    owner: spec.owner ?? d.owner,
    deleteThreshold: spec.deleteThreshold ?? d.deleteThreshold,
  }
}

async function readText(path: string, cwd: string, name: string): Promise<string> {
  try {
    return await readFile(resolve(cwd, path), 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error'
    throw new TargetError(`cannot read ${name} file "${path}" (${code}); check the path and its permissions`)
  }
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase())
}
