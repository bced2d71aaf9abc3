/**
 * The real `proximity serve` with 1,000 converged apps (issue 10 budget: RSS under 200 MB).
 * A real `apply` converges 1,000 small apps in the built-in sandbox (state in a temporary state
 * dir), then the built CLI runs `serve` over the same manifests and state, the way a user runs it
 * (engine, watcher, in-process sandbox, API). Measured on that process:
 * - RSS after a resync that started after the API was up (the steady state);
 * - `GET /api/v1/apps` under autocannon at 50 connections on this store (plain, brotli as
 *   browsers ask, and one page of 100), with the server's CPU time per request;
 * - RSS right after that load, and after the next resync.
 * Writes bench/results/serve-rss.{json,md}. Run alone: `npm run build && node dist/bench/run.js serve-rss`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../src/model/paths.js'
import { benchAppDoc } from './fixtures.js'
import { cpuMs, load, peakRssMiB, rssMiB, type LoadFigures } from './http-load.js'

const APPS = 1000
const CONNECTIONS = 50
const SECONDS = 10
/** Resync period of the measured serve (the default is 5m; shorter so the bench sees several). */
const RESYNC = '20s'

function cli(args: string[], cwd: string, home: string): ChildProcess {
  return spawn(process.execPath, [join(packageRoot(), 'bin', 'proximity.js'), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code ?? 1))))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The dashboard URL line `serve --viewer-token` prints: the API base and a viewer token. */
function waitForUrl(child: ChildProcess): Promise<{ url: string; token: string }> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const onData = (d: Buffer) => {
      // Logs keep flowing (the pipes must be drained); only the start is kept.
      if (seen.length > 100_000) return
      seen += d.toString()
      const m = /Dashboard: (https?:\/\/[^/\s]+)\/#token=([A-Za-z0-9._-]+)/.exec(seen)
      if (m) resolve({ url: m[1]!, token: m[2]! })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`serve exited ${code} before listening: ${seen.slice(-500)}`)))
  })
}

async function lastResync(url: string, token: string): Promise<string | undefined> {
  const r = await fetch(`${url}/api/v1/summary`, { headers: { Authorization: `Bearer ${token}` } })
  return ((await r.json()) as { lastResync?: string }).lastResync
}

/** Waits until a resync finishes after the current one (bounded). */
async function nextResync(url: string, token: string, timeoutMs: number): Promise<boolean> {
  const before = await lastResync(url, token)
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    await sleep(250)
    const now = await lastResync(url, token)
    if (now && now !== before) return true
  }
  return false
}

/** Runs the bench and returns its figures. */
export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'proximity-bench-serve-'))
  const home = join(dir, 'home')
  await mkdir(join(dir, 'apps'), { recursive: true })
  await mkdir(home)
  await writeFile(join(dir, 'apps', 'apps.yaml'), Array.from({ length: APPS }, (_, i) => benchAppDoc(`app-${i}`, { tier: i % 2 ? 'web' : 'db' })).join('---\n'))
  let serve: ChildProcess | undefined
  try {
    const t0 = performance.now()
    const apply = cli(['apply', '-f', 'apps', '--state-dir', 'state', '--parallelism', '32'], dir, home)
    apply.stdout!.resume()
    apply.stderr!.resume()
    const applyCode = await exited(apply)
    if (applyCode !== 0) throw new Error(`apply of ${APPS} apps exited ${applyCode}`)
    const applyMs = performance.now() - t0

    serve = cli(['serve', '-f', 'apps', '--state-dir', 'state', '--listen', '127.0.0.1:0', '--viewer-token', '--resync', RESYNC], dir, home)
    const { url, token } = await waitForUrl(serve)
    const pid = serve.pid!
    for (let i = 0; i < 240 && (await fetch(`${url}/readyz`)).status !== 200; i++) await sleep(250)
    const resynced = await nextResync(url, token, 120_000)
    const rssAfterResync = await rssMiB(pid)
    const cpuIdle0 = await cpuMs(pid)
    const resyncedAgain = await nextResync(url, token, 120_000)
    const resyncCpuMs = (await cpuMs(pid)) - cpuIdle0

    const auth = { Authorization: `Bearer ${token}` }
    const opts = { pid, connections: CONNECTIONS, seconds: SECONDS }
    const list: Record<string, LoadFigures> = {
      plain: await load(`${url}/api/v1/apps`, auth, opts),
      brotli: await load(`${url}/api/v1/apps`, { ...auth, 'Accept-Encoding': 'gzip, deflate, br' }, opts),
      page100: await load(`${url}/api/v1/apps?limit=100`, auth, opts),
    }
    const rssAfterList = await rssMiB(pid)
    await nextResync(url, token, 120_000)
    const rssAfterListAndResync = await rssMiB(pid)
    const peakRss = await peakRssMiB(pid)

    const figures = {
      apps: APPS,
      applyMs: Math.round(applyMs),
      resyncObserved: resynced && resyncedAgain,
      /** CPU of the serve process between two resyncs, i.e. one resync pass plus idle time. */
      resyncCpuMs,
      rssAfterResyncMiB: rssAfterResync,
      rssAfterListMiB: rssAfterList,
      rssAfterListAndResyncMiB: rssAfterListAndResync,
      peakRssMiB: peakRss,
      list,
      loadAverage: Number(loadavg()[0]!.toFixed(2)),
    }
    const out = join(packageRoot(), 'bench', 'results')
    await mkdir(out, { recursive: true })
    await writeFile(join(out, 'serve-rss.json'), `${JSON.stringify(figures, null, 2)}\n`)
    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${Math.round(f.bodyBytes / 1024)} KiB | ${f.requestsPerSec} | ${f.latencyP50Ms} ms | **${f.latencyP99Ms} ms** | ${f.serverCpuMsPerRequest} ms |`
    await writeFile(
      join(out, 'serve-rss.md'),
      [
        '# `proximity serve` with 1,000 converged apps',
        '',
        `Run at ${new Date().toISOString()} on Node ${process.version}; 1-minute load average ${figures.loadAverage} on this 2-core machine when it ended.`,
        `The real CLI: \`apply\` of ${APPS} apps to the built-in sandbox (${(applyMs / 1000).toFixed(0)} s), then \`serve --resync ${RESYNC}\` over the same state; the process measured is \`serve\` itself (engine, watcher, in-process sandbox, API).`,
        '',
        '| RSS of `serve` | MiB | Budget |',
        '|---|---:|---|',
        `| after a resync (steady) | **${rssAfterResync}** | < 200 MB (190.7 MiB) |`,
        `| right after the list load below | **${rssAfterList}** | |`,
        `| after the next resync | ${rssAfterListAndResync} | |`,
        `| peak over the whole run (VmHWM) | ${peakRss} | |`,
        '',
        `One resync pass (plus idle time between two): ${resyncCpuMs} ms of CPU.`,
        '',
        `\`GET /api/v1/apps\` on this store, ${CONNECTIONS} connections, ${SECONDS} s each (budget p99 < 20 ms); server CPU per request is the figure that does not depend on other work on the machine:`,
        '',
        '| Request | Body as sent | req/s | p50 | p99 | Server CPU / request |',
        '|---|---:|---:|---:|---:|---:|',
        row('full list, plain', list.plain!),
        row('full list, `Accept-Encoding: gzip, deflate, br` (browsers)', list.brotli!),
        row('first page, `?limit=100`', list.page100!),
        '',
      ].join('\n'),
    )
    return figures
  } finally {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGINT')
      await Promise.race([exited(serve), sleep(30_000)])
      if (serve.exitCode === null) serve.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
}
