/**
 * `proximity validate` over 1,000 App manifests (a mix of inline compose and catalog apps):
 * wall time from process start of the built CLI (`node bin/proximity.js validate -f DIR`,
 * spawned) and the child's peak RSS (read from process.resourceUsage() at exit through a tiny
 * `--import` hook). Budget: under 1 s wall. Writes bench/results/load-validate.{json,md}.
 * Run alone: `npm run build && node dist/bench/load-validate.js`.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../src/model/paths.js'

/** Figures of one bench run. */
export interface LoadValidateResult {
  manifests: number
  runs: number
  /** The usual run: compiled schema validators come from node_modules/.cache/proximity. */
  wallMsMedian: number
  wallMsMax: number
  /** CPU time (user + system, all threads), median: robust on a busy machine. */
  cpuMsMedian: number
  /** Cold: that validator cache emptied first (the very first validate after `npm ci`). */
  coldWallMsMedian: number
  coldCpuMsMedian: number
  peakRssMiB: number
  /** 1-minute load average when the bench ran, to judge wall figures. */
  loadAverage: number
  /** CPUs available to this process: a load average above it means wall figures include waiting for a CPU. */
  cpus: number
  exitCode: number
  budgetMs: number
  withinBudget: boolean
}

const APPS = 1000
const RUNS = 5
const BUDGET_MS = 1000
const CATALOG = ['nextcloud', 'gitea', 'jellyfin', 'grafana', 'n8n']

/** Writes `count` App manifests, one file per 10 apps, 30 % of them catalog apps. */
async function generate(dir: string, count: number): Promise<void> {
  const perFile = 10
  for (let f = 0; f < count / perFile; f++) {
    const docs: string[] = []
    for (let i = 0; i < perFile; i++) {
      const n = f * perFile + i
      const source =
        n % 10 < 3
          ? `    catalog: ${CATALOG[n % CATALOG.length]}\n`
          : `    compose:\n      services:\n        app:\n          image: ghcr.io/example/app-${n % 17}:1.${n % 9}\n          ports: ["${8000 + (n % 1000)}:80"]\n          environment:\n            MODE: production\n        cache:\n          image: redis:7-alpine\n`
      docs.push(
        `apiVersion: proximity/v1alpha1\nkind: App\nmetadata:\n  name: app-${n}\n  labels: {tier: t${n % 3}}\nspec:\n  source:\n${source}` +
          `  resources:\n    cores: ${1 + (n % 4)}\n    memory: ${512 * (1 + (n % 4))}Mi\n    disk: ${4 + (n % 8)}Gi\n` +
          `  env:\n    TZ: Etc/UTC\n  volumes:\n    - {name: data, path: /srv/data, size: 1Gi}\n  update: {healthTimeout: 3m}\n`,
      )
    }
    await writeFile(join(dir, `apps-${String(f).padStart(3, '0')}.yaml`), docs.join('---\n'))
  }
}

const RSS_HOOK = `data:text/javascript,process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('BENCH_MAXRSS_KB='+u.maxRSS+' BENCH_CPU_US='+(u.userCPUTime+u.systemCPUTime)+'\\n')})`

/** Spawns the built CLI once; resolves with wall time, exit code and peak RSS (KiB). */
function runOnce(root: string, dir: string): Promise<{ wallMs: number; cpuMs: number; code: number; maxRssKb: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, ['--import', RSS_HOOK, join(root, 'bin', 'proximity.js'), 'validate', '-f', dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += String(c)))
    child.stderr.on('data', (c: Buffer) => (stderr += String(c)))
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6
      const m = /BENCH_MAXRSS_KB=(\d+) BENCH_CPU_US=(\d+)/.exec(stderr)
      resolvePromise({ wallMs, cpuMs: m ? Number(m[2]) / 1000 : 0, code: code ?? -1, maxRssKb: m ? Number(m[1]) : 0, stdout })
    })
  })
}

/** Generates the manifests, runs the CLI RUNS times, writes the results, returns the figures. */
export async function run(): Promise<LoadValidateResult> {
  const root = packageRoot()
  const dir = await mkdtemp(join(tmpdir(), 'prox-bench-validate-'))
  try {
    await generate(dir, APPS)
    const validatorCache = join(root, 'node_modules', '.cache', 'proximity')
    await runOnce(root, dir) // warm the file system cache
    const cold = []
    for (let i = 0; i < RUNS; i++) {
      await rm(validatorCache, { recursive: true, force: true })
      cold.push(await runOnce(root, dir))
    }
    const runs = []
    for (let i = 0; i < RUNS; i++) runs.push(await runOnce(root, dir))
    const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)])
    const walls = runs.map((r) => r.wallMs).sort((a, b) => a - b)
    const last = runs[runs.length - 1]
    if (last.code !== 0) throw new Error(`validate failed on generated manifests:\n${last.stdout.slice(0, 2000)}`)
    const result: LoadValidateResult = {
      manifests: APPS,
      runs: RUNS,
      wallMsMedian: Math.round(walls[Math.floor(RUNS / 2)]),
      wallMsMax: Math.round(walls[RUNS - 1]),
      cpuMsMedian: median(runs.map((r) => r.cpuMs)),
      coldWallMsMedian: median(cold.map((r) => r.wallMs)),
      coldCpuMsMedian: median(cold.map((r) => r.cpuMs)),
      loadAverage: Math.round(loadavg()[0] * 100) / 100,
      cpus: availableParallelism(),
      peakRssMiB: Math.round(Math.max(...runs.map((r) => r.maxRssKb), ...cold.map((r) => r.maxRssKb)) / 1024),
      exitCode: last.code,
      budgetMs: BUDGET_MS,
      withinBudget: walls[Math.floor(RUNS / 2)] < BUDGET_MS,
    }
    const out = join(root, 'bench', 'results')
    await mkdir(out, { recursive: true })
    await writeFile(join(out, 'load-validate.json'), JSON.stringify(result, null, 2) + '\n')
    await writeFile(
      join(out, 'load-validate.md'),
      `# proximity validate, ${APPS} App manifests\n\n` +
        `Spawned \`node bin/proximity.js validate -f DIR\` (70 % inline compose, 30 % catalog apps, 10 per file). ` +
        `${RUNS} cold runs (compiled-validator cache emptied first, as on the first run after npm ci) and ${RUNS} usual runs, after one warm-up.\n\n` +
        `| figure | value |\n|---|---|\n| wall time, median (from process start) | ${result.wallMsMedian} ms |\n| wall time, max | ${result.wallMsMax} ms |\n| CPU time (user + system), median | ${result.cpuMsMedian} ms |\n` +
        `| cold wall time, median | ${result.coldWallMsMedian} ms |\n| cold CPU time, median | ${result.coldCpuMsMedian} ms |\n| 1-min load average during the run | ${result.loadAverage} (${result.cpus} CPUs) |\n| peak RSS | ${result.peakRssMiB} MiB |\n| budget | < ${BUDGET_MS} ms: ${result.withinBudget ? 'met' : 'MISSED'} |\n` +
        (result.loadAverage > result.cpus
          ? `\nThe machine was busy (load average ${result.loadAverage} on ${result.cpus} CPUs): wall times include waiting for a CPU and overstate what an idle machine takes. CPU time is the figure to compare between runs.\n`
          : ''),
    )
    return result
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (e: unknown) => {
      process.stderr.write(`load-validate bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
