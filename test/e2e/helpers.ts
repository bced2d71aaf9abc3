/**
 * E2E helpers: run the real CLI in-process (`main` with captured streams), start the real
 * simulator, and write the Cluster manifest that points the CLI at it (the same shape
 * `proximity sandbox start --cluster-manifest` writes: secrets as 0600 files, never inline).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { mkdtemp, mkdir, readFile, stat, writeFile, rm, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { main } from '../../src/cli/main.js'
import { packageRoot } from '../../src/model/paths.js'
import type { RunningSimulator, SimulatorOptions } from '../../src/sim/types.js'
import type { SimRequestLogEntry } from '../../src/sim/contracts.js'

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

let testHome: string | undefined
/**
 * A home folder for CLI runs (the secret key goes to `$HOME/.config/proximity`): tests never
 * write to the real home. One per test file; removed with the OS temp folder.
 */
export function testHomeDir(): string {
  testHome ??= mkdtempSync(join(tmpdir(), 'proximity-home-'))
  return testHome
}

/**
 * The state home of CLI runs from `cwd` (XDG_STATE_HOME): one per working folder, so two tests
 * of a file that work in different folders never share a sandbox or a store, as two users would not.
 */
export function testStateHome(cwd: string): string {
  return join(testHomeDir(), 'state', createHash('sha256').update(cwd).digest('hex').slice(0, 12))
}

/**
 * Runs `proximity <argv>` in-process with its own streams, env and cwd (HOME is testHomeDir(),
 * XDG_STATE_HOME testStateHome(cwd) unless `env` sets them).
 */
export async function runCli(argv: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string }): Promise<CliRun> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let errText = ''
  stdout.on('data', (d: Buffer) => (out += d.toString()))
  stderr.on('data', (d: Buffer) => (errText += d.toString()))
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: testHomeDir(), XDG_STATE_HOME: testStateHome(opts.cwd), ...(opts.env ?? {}) }
  const stdin = opts.stdin !== undefined ? Readable.from([opts.stdin]) : new PassThrough()
  const code = await main(argv, { stdout, stderr, env, cwd: opts.cwd, stdin })
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
  extra: { owner?: string; deleteThreshold?: number; vmidRange?: { min: number; max: number }; perNode?: number; hostKey?: string } = {},
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
    `    hostKey: ${JSON.stringify(extra.hostKey ?? sim.ssh.hostKey)}`,
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
 * Compiles the CLI to dist/ for tests that spawn `bin/proximity.js` as a real process (tsc emits
 * even if unrelated files have type errors). Test files run in parallel: builds are serialised
 * with a lock directory, and a build finished after this call began is reused, so no tsc
 * rewrites dist/ under a child another test file already started. Throws when `dist/<expect>`
 * is missing afterwards.
 */
export async function buildCli(expect = 'src/cli/main.js'): Promise<void> {
  const root = packageRoot()
  const asked = Date.now()
  const lock = join(tmpdir(), `proximity-build-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.lock`)
  const marker = join(root, 'dist', '.built-at')
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch {
      // a crashed holder's lock expires after 5 minutes
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now())
      if (age > 300_000) await rm(lock, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  try {
    const builtAt = Number(await readFile(marker, 'utf8').catch(() => '0'))
    if (builtAt < asked) {
      await new Promise<void>((done) => {
        execFile(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root }, () => done())
      })
      await writeFile(marker, String(Date.now()))
    }
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
  if (!existsSync(join(root, 'dist', expect))) throw new Error(`build failed: dist/${expect} missing`)
}

/** Guests per app name, read from the markers in descriptions (identity is the marker). */
export function guestsByApp(sim: RunningSimulator, owner = 'proximity'): Map<string, number[]> {
  const m = new Map<string, number[]>()
  for (const g of sim.guests()) {
    const d = String(g.config.description ?? g.description ?? '')
    const hit = /proximity:managed (\{[^\n]*\})/.exec(d)
    if (!hit) continue
    const marker = JSON.parse(hit[1]) as { name: string; owner: string }
    if (marker.owner !== owner) continue
    m.set(marker.name, [...(m.get(marker.name) ?? []), g.vmid])
  }
  return m
}

/**
 * Mutating requests the simulator logged, except the apply lease's own pool requests
 * (`POST/PUT/DELETE /pools` of `proximity-lease-*`): what changed the cluster itself.
 */
export function clusterChanges(sim: RunningSimulator): SimRequestLogEntry[] {
  return sim.log.mutating().filter((e) => !(e.route === '/pools' || e.route.startsWith('/pools/')))
}
