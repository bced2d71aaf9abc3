/**
 * E2E helpers: run the real CLI in-process (`main` with captured streams), start the real
 * simulator, and write the Cluster manifest that points the CLI at it (the same shape
 * `proximity sandbox start --cluster-manifest` writes: secrets as 0600 files, never inline).
 */
import { mkdtemp, mkdir, writeFile, rm, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../../src/cli/main.js'
import { packageRoot } from '../../src/model/paths.js'
import type { RunningSimulator, SimulatorOptions } from '../../src/sim/types.js'
import type { SimRequestLogEntry } from '../../src/sim/contracts.js'

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `proximity <argv>` in-process with its own streams, env and cwd. */
export async function runCli(argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let errText = ''
  stdout.on('data', (d: Buffer) => (out += d.toString()))
  stderr.on('data', (d: Buffer) => (errText += d.toString()))
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...(opts.env ?? {}) }
  const code = await main(argv, { stdout, stderr, env, cwd: opts.cwd, stdin: new PassThrough() })
  return { code, stdout: out, stderr: errText }
}

/** A fresh temp dir removed by the returned cleanup. */
export async function tempDir(prefix = 'proximity-e2e-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Starts the simulator in-process (loopback, free ports, fast tasks unless overridden). */
export async function startSim(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const { startSimulator } = await import('../../src/sim/index.js')
  return startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs: 5, ...opts })
}

/**
 * Writes `<dir>/cluster/cluster.yaml` targeting `sim`, with the token secret and SSH key in
 * 0600 files beside it. Returns the folder to pass as `-f`.
 */
export async function writeClusterManifest(
  dir: string,
  sim: RunningSimulator,
  extra: { owner?: string; deleteThreshold?: number; vmidRange?: { min: number; max: number }; perNode?: number } = {},
): Promise<string> {
  const folder = join(dir, 'cluster')
  await mkdir(folder, { recursive: true })
  await writeFile(join(folder, 'token-secret'), `${sim.tokenSecret}\n`, { mode: 0o600 })
  await writeFile(join(folder, 'ssh-key'), sim.ssh.privateKey, { mode: 0o600 })
  const lines = [
    'apiVersion: proximity/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: sim',
    'spec:',
    `  endpoint: ${JSON.stringify(sim.endpoint)}`,
    '  tls:',
    `    fingerprint: ${JSON.stringify(sim.fingerprint)}`,
    '  auth:',
    `    tokenId: ${JSON.stringify(sim.tokenId)}`,
    '    tokenSecret: {file: token-secret}',
    '  ssh:',
    `    host: ${JSON.stringify(sim.ssh.host)}`,
    `    port: ${sim.ssh.port}`,
    `    user: ${JSON.stringify(sim.ssh.user)}`,
    '    privateKey: {file: ssh-key}',
    `    hostKey: ${JSON.stringify(sim.ssh.hostKey)}`,
  ]
  if (extra.owner) lines.push(`  owner: ${extra.owner}`)
  if (extra.deleteThreshold !== undefined) lines.push(`  deleteThreshold: ${extra.deleteThreshold}`)
  if (extra.vmidRange) lines.push('  vmidRange:', `    min: ${extra.vmidRange.min}`, `    max: ${extra.vmidRange.max}`)
  if (extra.perNode) lines.push('  concurrency:', `    perNode: ${extra.perNode}`)
  await writeFile(join(folder, 'cluster.yaml'), `${lines.join('\n')}\n`)
  return folder
}

/** Copies `examples/<name>` into `dir/<name>` so a test may edit it. */
export async function copyExample(name: string, dir: string): Promise<string> {
  const dest = join(dir, name)
  await cp(join(packageRoot(), 'examples', name), dest, { recursive: true })
  return dest
}

/** Writes N small inline-compose App manifests (`app-000`…) into `<dir>/apps`. */
export async function writeApps(
  dir: string,
  n: number,
  opts: { memory?: number; prefix?: string; deletionPolicy?: 'Backup' | 'Delete' | 'Retain' } = {},
): Promise<string> {
  const folder = join(dir, 'apps')
  await mkdir(folder, { recursive: true })
  const prefix = opts.prefix ?? 'app'
  const docs: string[] = []
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${String(i).padStart(3, '0')}`
    docs.push(appYaml(name, { memory: opts.memory ?? 256, deletionPolicy: opts.deletionPolicy }))
  }
  await writeFile(join(folder, 'apps.yaml'), docs.join('---\n'))
  return folder
}

/** One App manifest running traefik/whoami with a TCP health check. */
export function appYaml(name: string, o: { memory?: number; cores?: number; deletionPolicy?: string; tags?: string } = {}): string {
  return [
    'apiVersion: proximity/v1alpha1',
    'kind: App',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  source:',
    '    compose:',
    '      services:',
    '        web:',
    '          image: traefik/whoami:v1.10.3',
    '          ports: ["80:80"]',
    '  resources:',
    `    cores: ${o.cores ?? 1}`,
    `    memory: ${o.memory ?? 256}`,
    '    disk: 2',
    '  health:',
    '    tcp: {port: 80}',
    `  deletionPolicy: ${o.deletionPolicy ?? 'Delete'}`,
    '',
  ].join('\n')
}

/**
 * Mutating requests the simulator logged, except the apply lease's own pool requests
 * (`POST/PUT/DELETE /pools` of `proximity-lease-*`): what changed the cluster itself.
 */
export function clusterChanges(sim: RunningSimulator): SimRequestLogEntry[] {
  return sim.log.mutating().filter((e) => !(e.route === '/pools' || e.route.startsWith('/pools/')))
}
