/**
 * Reconcile budgets (DESIGN §8), measured against the real simulator through the real CLI code:
 *
 * 1. steady-state resync of N = 10, 100, 1,000 owned, converged guests, measured on the daemon
 *    loop itself (`Engine.run`, a resync triggered with `resyncNow`): Proxmox API reads, writes
 *    and SSH sessions of one resync (budget: 1 read, 0 writes, 0 SSH sessions), and the same
 *    figures for a converged one-shot `apply` (plan + apply observe each object once);
 * 2. `proximity plan` over 1,000 apps against the converged cluster, wall time from process
 *    start of the built CLI (budget < 2 s);
 * 3. converging 100 new apps with realistic task latency: wall time and lock errors surfaced
 *    to the user (budget: 0).
 *
 * Guests are converged by a real `apply` (tiny task latency) so the resync measures the real
 * path, not seeded shortcuts. Writes bench/results/reconcile-steady.{json,md}.
 * Run alone: `npm run build && node dist/bench/reconcile-steady.js`.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../src/cli/main.js'
import { packageRoot } from '../src/model/paths.js'
import { startSimulator } from '../src/sim/index.js'
import type { RunningSimulator } from '../src/sim/types.js'
import { benchAppDoc, writeBenchCluster } from './fixtures.js'
import { openEngine } from '../src/engine/open.js'
import { createPathsSource } from '../src/engine/sources/paths.js'
import type { Engine } from '../src/engine/types.js'

interface SteadyFigure {
  guests: number
  apiReads: number
  apiWrites: number
  sshSessions: number
  sshCommands: number
  withinBudget: boolean
  /** A converged one-shot `apply` (plan + apply) of the same set. */
  applyReads: number
  applyWrites: number
  applyKeysReconciled: number
}

export interface ReconcileBenchResult {
  steady: SteadyFigure[]
  plan1000: { wallMs: number; runsMs: number[]; exitCode: number; withinBudget: boolean }
  converge100: { wallMs: number; ready: number; lockErrorsSurfaced: number; exitCode: number; taskLatencyMs: Record<string, number> }
  setup: { convergeMsByStep: Record<string, number> }
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let o = ''
  let e = ''
  stdout.on('data', (d: Buffer) => (o += d.toString()))
  stderr.on('data', (d: Buffer) => (e += d.toString()))
  const code = await main(argv, { stdout, stderr, cwd, env: { PATH: process.env.PATH, HOME: join(cwd, 'home') }, stdin: new PassThrough() })
  return { code, stdout: o, stderr: e }
}

async function writeApps(dir: string, from: number, to: number, prefix = 'app'): Promise<void> {
  await mkdir(dir, { recursive: true })
  const docs: string[] = []
  for (let i = from; i < to; i++) docs.push(benchAppDoc(`${prefix}-${String(i).padStart(4, '0')}`))
  await writeFile(join(dir, `apps-${from}-${to}.yaml`), docs.join('---\n'))
}

const writeCluster = (dir: string, sim: RunningSimulator, perNode = 4): Promise<void> => writeBenchCluster(dir, sim, perNode)

/** Resolves once the daemon loop has nothing queued or in flight. */
async function idle(engine: Engine): Promise<void> {
  for (;;) {
    const m = engine.metrics()
    if (m.depth === 0 && m.inFlight === 0) return
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * One resync of the daemon loop over every app of `dirs` (after the start-up resync settled),
 * counting what reached the simulator; then a converged one-shot apply, counted the same way.
 */
async function measureResync(sim: RunningSimulator, dirs: string[], stateDir: string, cwd: string): Promise<SteadyFigure> {
  const source = createPathsSource({ paths: dirs, cwd })
  const initial = await source.load()
  if (!initial.ok) throw new Error('bench manifests failed to load')
  const engine = await openEngine({ source, initial, stateDir, env: { HOME: join(cwd, 'home') }, cwd, announce: () => {} })
  const stop = new AbortController()
  try {
    const running = engine.run(stop.signal, { resyncMs: 3_600_000 })
    // ready once the start-up resync is queued; then let it settle before measuring
    while (!engine.ready()) await new Promise((r) => setTimeout(r, 5))
    await idle(engine)
    const sshBefore = engine.shells.sessionsOpened()
    sim.log.clear()
    await engine.resyncNow()
    await idle(engine)
    const entries = sim.log.entries()
    const notReady = engine.store.listStatus('App').filter((s) => s.conditions.find((c) => c.type === 'Ready')?.status !== 'True').length
    if (notReady > 0) throw new Error(`${notReady} apps were not Ready during the steady-state resync`)
    stop.abort()
    await running
    const apiReads = entries.filter((e) => e.method === 'GET').length
    const apiWrites = entries.filter((e) => e.method !== 'GET' && e.method !== 'SSH').length
    const sshCommands = entries.filter((e) => e.method === 'SSH').length
    const sshSessions = engine.shells.sessionsOpened() - sshBefore
    sim.log.clear()
    const applied = await engine.apply()
    const applyEntries = sim.log.entries()
    return {
      guests: initial.set.apps.length,
      apiReads,
      apiWrites,
      sshSessions,
      sshCommands,
      withinBudget: apiReads <= 1 && apiWrites === 0 && sshSessions === 0 && sshCommands === 0,
      applyReads: applyEntries.filter((e) => e.method === 'GET').length,
      applyWrites: applyEntries.filter((e) => e.method !== 'GET').length,
      applyKeysReconciled: applied.keys.length,
    }
  } finally {
    stop.abort()
    await engine.close()
  }
}

function spawnPlan(args: string[], cwd: string): Promise<{ code: number; wallMs: number; stderr: string }> {
  const bin = join(packageRoot(), 'bin', 'proximity.js')
  const t0 = performance.now()
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: join(cwd, 'home') } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', fail)
    child.on('exit', (code) => done({ code: code ?? 1, wallMs: performance.now() - t0, stderr }))
  })
}

/** Runs the three measurements and writes the results. */
export async function run(): Promise<ReconcileBenchResult> {
  const work = await mkdtemp(join(tmpdir(), 'proximity-bench-'))
  const result: Partial<ReconcileBenchResult> = { setup: { convergeMsByStep: {} } }
  try {
    // 1 + 2: converge 10, 100, 1000 apps with tiny latency, measure a resync after each step.
    const sim = await startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs: 1 })
    try {
      const clusterDir = join(work, 'cluster')
      await writeCluster(clusterDir, sim, 16)
      const appsDir = join(work, 'apps')
      const stateDir = join(work, 'state')
      const steady: SteadyFigure[] = []
      let have = 0
      for (const n of [10, 100, 1000]) {
        await writeApps(appsDir, have, n)
        have = n
        const t0 = performance.now()
        const r = await cli(['apply', '-f', clusterDir, '-f', appsDir, '--state-dir', stateDir, '--parallelism', '32', '-o', 'json'], work)
        result.setup!.convergeMsByStep[String(n)] = Math.round(performance.now() - t0)
        if (r.code !== 0) throw new Error(`apply of ${n} apps failed: ${r.stderr.slice(-500)}`)
        steady.push(await measureResync(sim, [clusterDir, appsDir], stateDir, work))
      }
      result.steady = steady
      // three runs; the median is reported (the first also pays cold file caches)
      const runs: { code: number; wallMs: number }[] = []
      for (let i = 0; i < 3; i++) runs.push(await spawnPlan(['plan', '-f', clusterDir, '-f', appsDir, '--state-dir', stateDir, '--detailed-exitcode'], work))
      const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs)
      const median = sorted[1]
      result.plan1000 = {
        wallMs: Math.round(median.wallMs),
        runsMs: runs.map((r) => Math.round(r.wallMs)),
        exitCode: Math.max(...runs.map((r) => r.code)),
        withinBudget: median.wallMs < 2000 && runs.every((r) => r.code === 0),
      }
    } finally {
      await sim.stop()
    }

    // 3: 100 new apps with realistic task latency.
    const taskLatencyMs = { vzcreate: 2000, vzstart: 1000, vzshutdown: 1000, vzstop: 500, vzdestroy: 500, default: 200 }
    const sim2 = await startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs })
    try {
      const clusterDir = join(work, 'cluster2')
      await writeCluster(clusterDir, sim2, 4)
      const appsDir = join(work, 'apps2')
      await writeApps(appsDir, 0, 100, 'svc')
      const t0 = performance.now()
      const r = await cli(['apply', '-f', clusterDir, '-f', appsDir, '--state-dir', join(work, 'state2'), '--parallelism', '32', '-o', 'json'], work)
      const wallMs = Math.round(performance.now() - t0)
      const parsed = JSON.parse(r.stdout || '{}') as { objects?: { conditions: { type: string; status: string; message: string }[] }[]; failures?: { message: string }[] }
      const ready = (parsed.objects ?? []).filter((o) => o.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length
      const surfaced = `${r.stderr}\n${(parsed.failures ?? []).map((f) => f.message).join('\n')}\n${(parsed.objects ?? []).flatMap((o) => o.conditions.map((c) => c.message)).join('\n')}`
      const lockErrorsSurfaced = (surfaced.match(/got timeout|is locked|can't lock/gi) ?? []).length
      result.converge100 = { wallMs, ready, lockErrorsSurfaced, exitCode: r.code, taskLatencyMs }
    } finally {
      await sim2.stop()
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const final = result as ReconcileBenchResult
  await writeResults(final)
  return final
}

async function writeResults(r: ReconcileBenchResult): Promise<void> {
  const dir = join(packageRoot(), 'bench', 'results')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'reconcile-steady.json'), `${JSON.stringify(r, null, 2)}\n`)
  const md = [
    '# Reconcile budgets',
    '',
    `Node ${process.version}, ${new Date().toISOString()}, 1-min load average at the end ${loadavg()[0].toFixed(2)} on ${cpus().length} CPUs (wall times suffer when it exceeds the CPU count).`,
    '',
    '## Steady-state resync of the daemon loop (budget: 1 read, 0 writes, 0 SSH sessions)',
    '',
    'Measured on `Engine.run` (a resync triggered with `resyncNow` after the start-up resync settled);',
    'the last columns are a converged one-shot `apply` (plan + apply) of the same set.',
    '',
    '| guests | API reads | API writes | SSH sessions | SSH commands | within budget | apply reads | apply writes |',
    '|---:|---:|---:|---:|---:|:--|---:|---:|',
    ...r.steady.map((s) => `| ${s.guests} | ${s.apiReads} | ${s.apiWrites} | ${s.sshSessions} | ${s.sshCommands} | ${s.withinBudget ? 'yes' : 'NO'} | ${s.applyReads} | ${s.applyWrites} |`),
    '',
    '## `proximity plan` over 1,000 apps, converged (budget < 2 s from process start)',
    '',
    `median wall ${r.plan1000.wallMs} ms (runs: ${r.plan1000.runsMs.join(', ')} ms), exit ${r.plan1000.exitCode} — ${r.plan1000.withinBudget ? 'within budget' : 'OVER BUDGET'}`,
    '',
    '## Converging 100 new apps with realistic task latency',
    '',
    `task latency ${JSON.stringify(r.converge100.taskLatencyMs)} ms; wall ${(r.converge100.wallMs / 1000).toFixed(1)} s; ` +
      `${r.converge100.ready}/100 Ready; lock errors surfaced: ${r.converge100.lockErrorsSurfaced}; exit ${r.converge100.exitCode}`,
    '',
    `Setup (apply with 1 ms tasks): ${JSON.stringify(r.setup.convergeMsByStep)} ms`,
    '',
  ].join('\n')
  await writeFile(join(dir, 'reconcile-steady.md'), md)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
