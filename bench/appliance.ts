/**
 * Network appliance budgets, measured against the real simulator through the real CLI code:
 * converging an appliance with N = 1, 50, 250 apps on its LAN (wall time of `apply`, simulator
 * task latency 1 ms, real dnsmasq/caddy/nft checks in the simulator), then what one resync pass
 * costs (API reads/writes, SSH commands) right after, and with the appliance's full check due.
 * Writes bench/results/appliance.{json,md}. Run alone: `npm run build && node dist/bench/appliance.js`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../src/cli/main.js'
import { packageRoot } from '../src/model/paths.js'
import { openEngine } from '../src/engine/open.js'
import { createPathsSource } from '../src/engine/sources/paths.js'
import { startSimulator } from '../src/sim/index.js'
import type { RunningSimulator } from '../src/sim/types.js'

interface Figure {
  apps: number
  applyMs: number
  steady: { apiReads: number; apiWrites: number; sshCommands: number }
}

export interface ApplianceBenchResult {
  figures: Figure[]
}

const io = (cwd: string) => ({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), env: { HOME: join(cwd, 'home') }, cwd, exitCode: 0 })

async function writeSet(dir: string, sim: RunningSimulator, n: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'token'), `${sim.tokenSecret}\n`, { mode: 0o600 })
  await writeFile(join(dir, 'ssh-key'), sim.ssh.privateKey, { mode: 0o600 })
  const docs = [
    ['apiVersion: proximity/v1alpha1', 'kind: Cluster', 'metadata: {name: bench}', 'spec:', `  endpoint: ${JSON.stringify(sim.endpoint)}`, `  tls: {fingerprint: ${JSON.stringify(sim.fingerprint)}}`, `  auth: {tokenId: ${JSON.stringify(sim.tokenId)}, tokenSecret: {file: token}}`, `  ssh: {host: ${JSON.stringify(sim.ssh.host)}, port: ${sim.ssh.port}, user: ${JSON.stringify(sim.ssh.user)}, privateKey: {file: ssh-key}, hostKey: ${JSON.stringify(sim.ssh.hostKey)}}`, '  vmidRange: {min: 1000, max: 9999}', '  concurrency: {perNode: 16}'].join('\n'),
    ['apiVersion: proximity/v1alpha1', 'kind: Appliance', 'metadata: {name: edge}', 'spec:', '  lan: {bridge: vmbr1, subnet: 10.44.0.0/22, gateway: 10.44.0.1, dhcpRange: {start: 10.44.3.100, end: 10.44.3.199}}', '  dns: {domain: home.arpa}', '  resources: {cores: 1, memory: 256, disk: 2}'].join('\n'),
  ]
  for (let i = 0; i < n; i++) {
    const name = `app-${String(i).padStart(3, '0')}`
    docs.push(['apiVersion: proximity/v1alpha1', 'kind: App', `metadata: {name: ${name}}`, 'spec:', '  source: {compose: {services: {web: {image: "traefik/whoami:v1.10.3", ports: ["80:80"]}}}}', '  resources: {cores: 1, memory: 128, disk: 2}', '  network: {appliance: edge}', '  expose: [{port: 80, tls: none}]'].join('\n'))
  }
  await writeFile(join(dir, 'set.yaml'), docs.join('\n---\n') + '\n')
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  const c = io(cwd)
  let e = ''
  c.stderr.on('data', (d: Buffer) => (e += d.toString()))
  c.stdout.resume()
  const code = await main(argv, c)
  return { code, stderr: e }
}

/** Runs the bench and writes its results. */
export async function run(): Promise<ApplianceBenchResult> {
  const figures: Figure[] = []
  for (const n of [1, 50, 250]) {
    const work = await mkdtemp(join(tmpdir(), 'proximity-bench-appliance-'))
    const sim = await startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs: 1 })
    try {
      const dir = join(work, 'set')
      const stateDir = join(work, 'state')
      await writeSet(dir, sim, n)
      const t0 = performance.now()
      const r = await cli(['apply', '-f', dir, '--state-dir', stateDir, '--parallelism', '16'], work)
      const applyMs = Math.round(performance.now() - t0)
      if (r.code !== 0) throw new Error(`apply of the appliance with ${n} apps failed: ${r.stderr.slice(-500)}`)
      const c = io(work)
      const source = createPathsSource({ paths: [dir], cwd: work })
      const initial = await source.load()
      if (!initial.ok) throw new Error('bench manifests failed to load')
      const session = await openEngine({ source, initial, stateDir, env: c.env, cwd: work, announce: () => {} })
      try {
        sim.log.clear()
        // A steady one-shot pass over every object: plan observes, apply finds nothing to do.
        const { set: current } = session.current()
        await session.apply({ keys: [...current.appliances, ...current.apps].map((m) => `${m.kind}/${m.metadata.name}`) })
        const e = sim.log.entries()
        figures.push({ apps: n, applyMs, steady: { apiReads: e.filter((x) => x.method === 'GET').length, apiWrites: e.filter((x) => x.method !== 'GET' && x.method !== 'SSH').length, sshCommands: e.filter((x) => x.method === 'SSH').length } })
      } finally {
        await session.close()
      }
    } finally {
      await sim.stop()
      await rm(work, { recursive: true, force: true })
    }
  }
  const result = { figures }
  const out = join(packageRoot(), 'bench', 'results')
  await mkdir(out, { recursive: true })
  await writeFile(join(out, 'appliance.json'), `${JSON.stringify(result, null, 2)}\n`)
  const md = ['# Appliance bench', '', '| apps on the LAN | apply (ms) | resync: API reads | API writes | SSH commands |', '|---|---|---|---|---|', ...figures.map((f) => `| ${f.apps} | ${f.applyMs} | ${f.steady.apiReads} | ${f.steady.apiWrites} | ${f.steady.sshCommands} |`), '']
  await writeFile(join(out, 'appliance.md'), md.join('\n'))
  return result
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)), (e: unknown) => {
    console.error(e)
    process.exitCode = 1
  })
}
