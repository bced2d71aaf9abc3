/**
 * `npm run bench`: runs every bench module beside this file that exports `run()` (in file-name
 * order, one at a time so figures do not disturb each other), then writes
 * `bench/results/summary.md` with each module's returned figures. A module that throws is
 * reported as failed and the run continues; the process exit code is 1 if any failed.
 *
 * Usage: `npm run bench` (builds first), or `node dist/bench/run.js [name-filter…]`.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { packageRoot } from '../src/model/paths.js'

interface BenchOutcome {
  name: string
  ok: boolean
  ms: number
  result?: unknown
  error?: string
}

/** Flattens a result object into `key: value` lines for the summary. */
function describeResult(v: unknown, prefix = ''): string[] {
  if (v === null || v === undefined) return []
  if (typeof v !== 'object') return [`- ${prefix || 'result'}: ${String(v)}`]
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return [`- ${prefix}: ${v.join(', ')}`]
    return v.flatMap((x, i) => describeResult(x, `${prefix}[${i}]`))
  }
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => describeResult(x, prefix ? `${prefix}.${k}` : k))
}

/** Runs the bench modules matching `filters` (all when empty) and writes the summary. */
export async function runAll(filters: string[] = []): Promise<BenchOutcome[]> {
  const here = dirname(fileURLToPath(import.meta.url))
  const self = basename(fileURLToPath(import.meta.url))
  const files = (await readdir(here))
    .filter((f) => f.endsWith('.js') && f !== self && !f.endsWith('.test.js'))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort()
  const outcomes: BenchOutcome[] = []
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { run?: () => Promise<unknown> }
    if (typeof mod.run !== 'function') continue
    const name = f.replace(/\.js$/, '')
    process.stderr.write(`bench: ${name} …\n`)
    const t0 = performance.now()
    try {
      const result = await mod.run()
      outcomes.push({ name, ok: true, ms: performance.now() - t0, result })
      process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    } catch (e) {
      outcomes.push({ name, ok: false, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) })
      process.stderr.write(`bench: ${name} FAILED: ${e instanceof Error ? e.message : String(e)}\n`)
    }
  }
  const lines = [
    '# Benchmark summary',
    '',
    `Run at ${new Date().toISOString()} on Node ${process.version} (${process.platform}/${process.arch}).`,
    'Per-bench details are in the JSON/markdown files beside this one.',
    '',
  ]
  for (const o of outcomes) {
    lines.push(`## ${o.name} — ${o.ok ? 'ok' : 'FAILED'} (${(o.ms / 1000).toFixed(1)} s)`, '')
    if (o.ok) lines.push(...describeResult(o.result))
    else lines.push(`- error: ${o.error}`)
    lines.push('')
  }
  const dir = join(packageRoot(), 'bench', 'results')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'summary.md'), lines.join('\n'))
  return outcomes
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]
if (invokedDirectly) {
  runAll(process.argv.slice(2)).then(
    (o) => {
      process.stderr.write(`bench: summary written to bench/results/summary.md\n`)
      process.exitCode = o.every((x) => x.ok) ? 0 : 1
    },
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
