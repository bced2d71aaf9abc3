/**
 * Converge cost as the number of apps grows (issue 8, point 8): a real `apply` of N new apps
 * (N = 100, 1,000, 3,000 by default) against a fresh simulator whose tasks take 10 ms, through
 * the real CLI code. Reports the wall time per created app (budget: the figures at 100, 1,000
 * and 3,000 within 25 % of each other, i.e. linear total cost) and the requests per created app,
 * by kind (task-status polls, cluster snapshots, config reads, writes, SSH commands).
 *
 * A warm-up apply of 5 apps runs first, so the fixed cost of a first run in a process (module
 * imports, schema compilation) does not inflate the per-app figure of the smallest N.
 *
 * The simulator's request log is a ring of 50,000 entries, so it is drained into counters every
 * 250 ms (draining is synchronous: no request is lost between reading and clearing).
 *
 * Writes bench/results/converge-scale.{json,md}.
 * Run alone: `npm run build && node dist/bench/converge-scale.js [N…]`.
 */
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { spawn } from 'node:child_process'
import { main } from '../src/cli/main.js'
import { benchAppDoc, writeBenchCluster } from './fixtures.js'
import { packageRoot } from '../src/model/paths.js'
import { startSimulator } from '../src/sim/index.js'
import type { RunningSimulator } from '../src/sim/types.js'

/** The figures of one N. */
export interface ConvergeFigure {
  apps: number
  wallMs: number
  msPerApp: number
  /** CPU time (user + system) of the whole process — CLI and simulator — per created app. */
  cpuMsPerApp: number
  ready: number
  exitCode: number
  requestsPerApp: number
  perApp: Record<string, number>
  /** Requests per created app by method and route. */
  perRoute: Record<string, number>
  /** `proximity plan` over the converged apps, wall ms from process start (3 runs). */
  planRunsMs?: number[]
  /** CPU time of each plan process (user + system), from its start. */
  planCpuMs?: number[]
  planExitCodes?: number[]
}

export interface ConvergeScaleResult {
  taskLatencyMs: number
  parallelism: number
  perNode: number
  figures: ConvergeFigure[]
  /** max/min of msPerApp across the sizes; budget ≤ 1.25. */
  spread: number
  /** max/min of cpuMsPerApp across the sizes (robust on a shared, loaded machine). */
  cpuSpread: number
  /**
   * Marginal cost per app between consecutive sizes, (T(b) − T(a)) / (b − a), for wall and CPU
   * time: the fixed cost of one apply (SSH handshakes, lease, template lookup) cancels out, so
   * equal figures mean the total grows linearly.
   */
  marginal: { from: number; to: number; wallMsPerApp: number; cpuMsPerApp: number }[]
  /** 1-minute load average when the run ended (wall figures mean little when it exceeds the cores). */
  loadAverage: number
  /** Median of the plan runs over 1,000 converged apps (budget < 2 s from process start). */
  plan1000Ms?: number
  withinBudget: boolean
}

const TASK_LATENCY_MS = 10
const PARALLELISM = 32
const PER_NODE = 16

async function writeInputs(dir: string, sim: RunningSimulator, n: number): Promise<{ cluster: string; apps: string }> {
  const cluster = join(dir, 'cluster')
  const apps = join(dir, 'apps')
  await writeBenchCluster(cluster, sim, PER_NODE)
  await mkdir(apps, { recursive: true })
  const docs: string[] = []
  for (let i = 0; i < n; i++) docs.push(benchAppDoc(`app-${String(i).padStart(4, '0')}`))
  await writeFile(join(apps, 'apps.yaml'), docs.join('---\n'))
  return { cluster, apps }
}

/** Buckets a logged request into the kinds the report shows. */
function bucket(method: string, route: string): string {
  if (method === 'SSH') return 'ssh'
  if (route.endsWith('/tasks/{upid}/status')) return 'taskStatus'
  if (route === '/cluster/resources') return 'clusterResources'
  if (route.startsWith('/pools')) return 'lease'
  if (method === 'GET') return 'otherReads'
  return 'writes'
}

/** Applies N new apps against a fresh simulator and returns the figures. */
async function convergeOnce(work: string, n: number): Promise<ConvergeFigure> {
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs: TASK_LATENCY_MS })
  const counts: Record<string, number> = {}
  const routes: Record<string, number> = {}
  const drain = (): void => {
    const entries = sim.log.entries()
    sim.log.clear()
    for (const e of entries) {
      const b = bucket(e.method, e.route)
      counts[b] = (counts[b] ?? 0) + 1
      const r = `${e.method} ${e.route}`
      routes[r] = (routes[r] ?? 0) + 1
    }
  }
  const timer = setInterval(drain, 250)
  try {
    const dir = join(work, `n${n}`)
    const inputs = await writeInputs(dir, sim, n)
    sim.log.clear()
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    let out = ''
    let errText = ''
    stdout.on('data', (d: Buffer) => (out += d.toString()))
    stderr.on('data', (d: Buffer) => (errText += d.toString()))
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const code = await main(
      ['apply', '-f', inputs.cluster, '-f', inputs.apps, '--state-dir', join(dir, 'state'), '--parallelism', String(PARALLELISM), '--timeout', '60m', '-o', 'json'],
      { stdout, stderr, cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdin: new PassThrough() },
    )
    const wallMs = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    drain()
    const parsed = JSON.parse(out || '{}') as { objects?: { conditions: { type: string; status: string }[] }[] }
    const ready = (parsed.objects ?? []).filter((o) => o.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length
    if (code !== 0) process.stderr.write(`converge-scale: apply of ${n} apps exited ${code}: ${errText.slice(-400)}\n`)
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    const perApp: Record<string, number> = {}
    for (const [k, v] of Object.entries(counts).sort()) perApp[k] = round2(v / n)
    const perRoute: Record<string, number> = {}
    for (const [k, v] of Object.entries(routes).sort((a, b) => b[1] - a[1])) perRoute[k] = round2(v / n)
    const plans: { code: number; wallMs: number; cpuMs: number }[] = []
    if (n === 1000) {
      for (let i = 0; i < 3; i++) plans.push(await spawnCli(['plan', '-f', inputs.cluster, '-f', inputs.apps, '--state-dir', join(dir, 'state'), '--detailed-exitcode'], dir))
    }
    return {
      ...(plans.length > 0 ? { planRunsMs: plans.map((x) => Math.round(x.wallMs)), planCpuMs: plans.map((x) => x.cpuMs), planExitCodes: plans.map((x) => x.code) } : {}), apps: n, wallMs: Math.round(wallMs), msPerApp: round2(wallMs / n), cpuMsPerApp: round2((cpu.user + cpu.system) / 1000 / n), ready, exitCode: code, requestsPerApp: round2(total / n), perApp, perRoute }
  } finally {
    clearInterval(timer)
    await sim.stop()
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100

/**
 * Runs the built CLI (beside this module) in a child process: wall time from process start, and
 * the child's own CPU time (user + system, printed by the launcher as it exits).
 */
function spawnCli(args: string[], cwd: string): Promise<{ code: number; wallMs: number; cpuMs: number }> {
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js')
  const code =
    `import(${JSON.stringify(pathToFileURL(main).href)}).then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); ` +
    'const u = process.cpuUsage(); process.stderr.write(`\\ncpu-ms ${Math.round((u.user + u.system) / 1000)}\\n`) })'
  const t0 = performance.now()
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', fail)
    child.on('exit', (c) => done({ code: c ?? 1, wallMs: performance.now() - t0, cpuMs: Number(/cpu-ms (\d+)/.exec(stderr)?.[1] ?? NaN) }))
  })
}

/** Runs the sizes one after the other (each on its own simulator) and writes the results. */
export async function run(sizes: number[] = [100, 1000, 3000]): Promise<ConvergeScaleResult> {
  const work = await mkdtemp(join(tmpdir(), 'proximity-bench-scale-'))
  const figures: ConvergeFigure[] = []
  try {
    // Warm-up: the first apply in this process pays the module imports and schema compilation,
    // a fixed cost that would inflate the per-app figure of the smallest N.
    await convergeOnce(work, 5)
    for (const n of sizes) {
      process.stderr.write(`converge-scale: ${n} apps …\n`)
      figures.push(await convergeOnce(work, n))
      process.stderr.write(`converge-scale: ${n} apps: ${JSON.stringify(figures[figures.length - 1])}\n`)
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const result = summarize(figures, round2(loadavg()[0]))
  await writeResults(result)
  return result
}

/** The result of a series of figures (spreads, marginal costs, budget verdict). Pure. */
export function summarize(figures: ConvergeFigure[], loadAverage: number): ConvergeScaleResult {
  const per = figures.map((f) => f.msPerApp)
  const spread = round2(Math.max(...per) / Math.min(...per))
  const cpuPer = figures.map((f) => f.cpuMsPerApp)
  const cpuSpread = round2(Math.max(...cpuPer) / Math.min(...cpuPer))
  const marginal: ConvergeScaleResult['marginal'] = []
  for (let i = 1; i < figures.length; i++) {
    const a = figures[i - 1]
    const b = figures[i]
    const d = b.apps - a.apps
    marginal.push({
      from: a.apps,
      to: b.apps,
      wallMsPerApp: round2((b.wallMs - a.wallMs) / d),
      cpuMsPerApp: round2((b.cpuMsPerApp * b.apps - a.cpuMsPerApp * a.apps) / d),
    })
  }
  const planRuns = figures.find((f) => f.planRunsMs)?.planRunsMs
  const plan1000Ms = planRuns ? [...planRuns].sort((a, b) => a - b)[1] : undefined
  const result: ConvergeScaleResult = {
    taskLatencyMs: TASK_LATENCY_MS,
    parallelism: PARALLELISM,
    perNode: PER_NODE,
    figures,
    spread,
    cpuSpread,
    marginal,
    loadAverage,
    ...(plan1000Ms !== undefined ? { plan1000Ms } : {}),
    withinBudget: Math.min(spread, cpuSpread) <= 1.25 && figures.every((f) => f.exitCode === 0 && f.ready === f.apps),
  }
  return result
}

async function writeResults(r: ConvergeScaleResult): Promise<void> {
  const dir = join(packageRoot(), 'bench', 'results')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'converge-scale.json'), `${JSON.stringify(r, null, 2)}\n`)
  const kinds = [...new Set(r.figures.flatMap((f) => Object.keys(f.perApp)))].sort()
  const md = [
    '# Converge cost per app as N grows',
    '',
    `Node ${process.version}, ${new Date().toISOString()}. One simulated node, ${r.taskLatencyMs} ms tasks, ` +
      `apply --parallelism ${r.parallelism}, Cluster concurrency.perNode ${r.perNode}.`,
    '',
    '| apps | wall | wall ms per app | CPU ms per app | Ready | requests per app | ' + kinds.join(' | ') + ' |',
    '|---:|---:|---:|---:|---:|---:|' + kinds.map(() => '---:').join('|') + '|',
    ...r.figures.map(
      (f) =>
        `| ${f.apps} | ${(f.wallMs / 1000).toFixed(1)} s | ${f.msPerApp} | ${f.cpuMsPerApp} | ${f.ready} | ${f.requestsPerApp} | ` +
        kinds.map((k) => String(f.perApp[k] ?? 0)).join(' | ') +
        ' |',
    ),
    '',
    `Spread (max/min) of wall ms per app: ${r.spread}; of CPU ms per app: ${r.cpuSpread} (load average ${r.loadAverage} on ${cpus().length} cores) — ` +
      `${r.withinBudget ? 'within the 25 % budget' : 'OVER the 25 % budget'}. CPU time counts the CLI and the in-process simulator together; ` +
      'it is the figure to trust when other work shares the machine.',
    '',
    'Marginal cost per app between sizes (the fixed cost of one apply cancels out):',
    '',
    ...r.marginal.map((m) => `- ${m.from} → ${m.to} apps: wall ${m.wallMsPerApp} ms, CPU ${m.cpuMsPerApp} ms per added app`),
    '',
    ...(r.plan1000Ms !== undefined
      ? [
          `\`proximity plan\` over the 1,000 converged apps, from process start: median ${r.plan1000Ms} ms ` +
            `(runs ${r.figures.find((f) => f.planRunsMs)?.planRunsMs?.join(', ')} ms; CPU ${r.figures.find((f) => f.planCpuMs)?.planCpuMs?.join(', ')} ms; ` +
            `exit codes ${r.figures.find((f) => f.planExitCodes)?.planExitCodes?.join(', ')}; budget < 2,000 ms).`,
          '',
        ]
      : []),
    'Requests per created app by route (largest run):',
    '',
    ...Object.entries(r.figures[r.figures.length - 1]?.perRoute ?? {}).map(([k, v]) => `- ${k}: ${v}`),
    '',
  ].join('\n')
  await writeFile(join(dir, 'converge-scale.md'), md)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--render FILE`: rewrite the results from a saved JSON (figures only), without measuring.
  if (process.argv[2] === '--render' && process.argv[3]) {
    const saved = JSON.parse(readFileSync(process.argv[3], 'utf8')) as ConvergeScaleResult
    void writeResults(summarize(saved.figures, saved.loadAverage))
  } else {
    const sizes = process.argv.slice(2).map(Number).filter((x) => Number.isInteger(x) && x > 0)
    run(sizes.length > 0 ? sizes : undefined).then(
      (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
      (e) => {
        process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
        process.exitCode = 1
      },
    )
  }
}
