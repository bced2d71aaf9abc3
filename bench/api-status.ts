/**
 * Status API bench (DESIGN §8). A child process serves the API over a real store holding 1,000
 * Ready apps (statuses written with the runtime's own nextStatus); this process is the client:
 * - `GET /api/v1/apps` (the whole list, ~1,000 objects) under autocannon at 50 connections:
 *   requests per second, latency percentiles (budget: p99 under 20 ms) and the server's CPU
 *   time per request, for the plain list, the list as browsers ask for it (brotli), gzip, and a
 *   page of 100 (`?limit=100`; the list is not paginated by default);
 * - 200 concurrent stream clients: time from one status change to its arrival at every client
 *   (budget: 100 ms);
 * - the serving process's RSS (the budget for `serve` itself is measured by serve-rss.ts).
 * Writes bench/results/api-status.{json,md}. Run the child alone with
 * `node dist/bench/api-status.js --serve N`.
 */
import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { packageRoot } from '../src/model/paths.js'
import { load, rssMiB } from './http-load.js'

const APPS = 1000
const STREAM_CLIENTS = 200

/** The serving side: builds the fixture, starts the API on 127.0.0.1:0, prints one JSON line. */
async function serveFixture(n: number): Promise<void> {
  const { loadManifests } = await import('../src/manifest/index.js')
  const { openStateStore } = await import('../src/store/state-store.js')
  const { nextStatus } = await import('../src/runtime/status.js')
  const { createApiApp } = await import('../src/api/app.js')
  const { createFailureLimiter } = await import('../src/api/auth.js')
  const { createChangeFeed } = await import('../src/api/status-source.js')
  const { createStoreStatusSource } = await import('../src/api/store-status-source.js')
  const { startApiServer } = await import('../src/api/server.js')
  const { createTokenAuthority } = await import('../src/api/tokens.js')
  const { createEngineMetrics } = await import('../src/runtime/metrics.js')

  const dir = await mkdtemp(join(tmpdir(), 'proximity-bench-api-'))
  const mdir = join(dir, 'manifests')
  await mkdir(mdir)
  const docs: string[] = []
  for (let i = 0; i < n; i++) {
    docs.push(
      [
        'apiVersion: proximity/v1alpha1',
        'kind: App',
        'metadata:',
        `  name: app-${i}`,
        `  labels: {tier: ${i % 2 ? 'web' : 'db'}}`,
        'spec:',
        '  source:',
        '    compose:',
        '      services:',
        `        web: {image: "nginx:1.27", ports: ["${8000 + (i % 1000)}:80"]}`,
        `  network: {bridge: vmbr0, ip: "10.1.${i >> 7}.${(i & 127) + 1}/16", gateway: 10.1.255.254}`,
      ].join('\n'),
    )
  }
  await writeFile(join(mdir, 'apps.yaml'), docs.join('\n---\n'))
  const loaded = await loadManifests([mdir], { cwd: dir })
  if (!loaded.ok) throw new Error(`bench manifests invalid: ${loaded.errors[0]?.message}`)
  const set = loaded.set
  const store = await openStateStore(join(dir, 'state'))
  const t0 = Date.now()
  for (const [i, m] of set.apps.entries()) {
    const key = `App/${m.metadata.name}`
    const { status } = nextStatus(undefined, {
      key,
      kind: 'App',
      name: m.metadata.name,
      specHash: m.specHash,
      revision: 'bench@sha256:0',
      outcome: 'success',
      result: { ready: true, reason: 'Succeeded', message: 'running', inventory: { vmid: 1000 + i, node: 'pve' }, extra: { ip: `10.44.${Math.floor(i / 250)}.${(i % 250) + 2}` } },
      startedAt: t0,
      finishedAt: t0 + 10,
    })
    store.putStatus(status)
  }
  await store.flush()
  const bus = new EventEmitter()
  bus.setMaxListeners(0)
  const tokens = createTokenAuthority({ configDir: join(dir, 'config') })
  const source = createStoreStatusSource({
    store,
    manifests: () => set,
    managedKinds: new Set(['App']),
    revision: () => ({ revision: 'bench@sha256:0' }),
    readiness: async () => ({ ready: true, checks: [] }),
    lastResync: () => new Date().toISOString(),
    onChange: (l) => {
      bus.on('change', l)
      return () => bus.off('change', l)
    },
  })
  const feed = createChangeFeed(source)
  const app = createApiApp({ source, feed, tokens, metrics: createEngineMetrics(), limiter: createFailureLimiter({ max: 1_000_000 }) })
  const server = await startApiServer({ app, listen: { host: '127.0.0.1', port: 0 } })
  const { token } = await tokens.issue({ role: 'viewer', ttlMs: 3600_000 })
  // Commands from the parent: `change` flips one app's state and announces it.
  const rl = createInterface({ input: process.stdin })
  let flip = 0
  rl.on('line', (line) => {
    if (line.trim() === 'change') {
      flip++
      const m = set.apps[0]!
      const key = `App/${m.metadata.name}`
      const { status } = nextStatus(store.getStatus(key), {
        key,
        kind: 'App',
        name: m.metadata.name,
        specHash: m.specHash,
        revision: 'bench@sha256:0',
        outcome: flip % 2 ? 'waiting' : 'success',
        ...(flip % 2 ? { reason: 'DependencyNotReady', message: 'waiting' } : { result: { ready: true, reason: 'Succeeded', message: 'running' } }),
        startedAt: Date.now(),
        finishedAt: Date.now(),
      } as Parameters<typeof nextStatus>[1])
      store.putStatus(status)
      bus.emit('change', { type: 'status', key })
    }
  })
  rl.on('close', async () => {
    await server.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
    process.exit(0)
  })
  process.stdout.write(`${JSON.stringify({ url: server.url, token })}\n`)
}

/** Opens one stream client; resolves its "first status event arrived" waiter factory. */
async function streamClient(url: string, token: string): Promise<{ waitStatus: () => Promise<number>; close: () => void }> {
  const ac = new AbortController()
  const r = await fetch(`${url}/api/v1/stream`, { headers: { Authorization: `Bearer ${token}` }, signal: ac.signal })
  const reader = r.body!.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  let waiter: ((t: number) => void) | undefined
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buf += decoder.decode(value, { stream: true })
        let idx
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx)
          buf = buf.slice(idx + 2)
          if (block.includes('event: status') && waiter) {
            const w = waiter
            waiter = undefined
            w(performance.now())
          }
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    waitStatus: () => new Promise<number>((r) => (waiter = r)),
    close: () => ac.abort(),
  }
}

/** Runs the bench and returns its figures. */
export async function run(): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', String(APPS)], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! })
      rl.once('line', resolve)
      child.once('exit', (c) => reject(new Error(`api fixture exited ${c}`)))
    })
    const { url, token } = JSON.parse(first) as { url: string; token: string }
    const headers = { Authorization: `Bearer ${token}` }
    const opts = { pid: child.pid!, connections: 50, seconds: 10 }
    await autocannon({ url: `${url}/api/v1/apps`, connections: 10, duration: 2, headers })
    const list = await load(`${url}/api/v1/apps`, headers, opts)
    // Browsers ask for gzip, deflate, br (brotli is sent); curl --compressed asks for gzip.
    const listBrotli = await load(`${url}/api/v1/apps`, { ...headers, 'Accept-Encoding': 'gzip, deflate, br' }, opts)
    const listGzip = await load(`${url}/api/v1/apps`, { ...headers, 'Accept-Encoding': 'gzip' }, opts)
    const page = await load(`${url}/api/v1/apps?limit=100`, headers, opts)
    const one = await load(`${url}/api/v1/apps/app-7`, headers, { ...opts, seconds: 5 })
    const rssAfterLoad = await rssMiB(child.pid!)

    const clients = await Promise.all(Array.from({ length: STREAM_CLIENTS }, () => streamClient(url, token)))
    await new Promise((r) => setTimeout(r, 500))
    const rounds: number[] = []
    for (let i = 0; i < 5; i++) {
      const waits = clients.map((c) => c.waitStatus())
      const t = performance.now()
      child.stdin!.write('change\n')
      const arrivals = await Promise.all(waits)
      rounds.push(Math.max(...arrivals) - t)
      await new Promise((r) => setTimeout(r, 200))
    }
    const rssWithStreams = await rssMiB(child.pid!)
    for (const c of clients) c.close()
    rounds.sort((a, b) => a - b)
    const figures = {
      apps: APPS,
      listBodyKiB: Math.round(list.bodyBytes / 1024),
      listRequestsPerSec: list.requestsPerSec,
      listLatencyP50Ms: list.latencyP50Ms,
      listLatencyP99Ms: list.latencyP99Ms,
      listNon2xx: list.non2xx,
      listServerCpuMsPerRequest: list.serverCpuMsPerRequest,
      listClientCpuMsPerRequest: list.clientCpuMsPerRequest,
      listBrotliBodyKiB: Math.round(listBrotli.bodyBytes / 1024),
      listBrotliRequestsPerSec: listBrotli.requestsPerSec,
      listBrotliLatencyP50Ms: listBrotli.latencyP50Ms,
      listBrotliLatencyP99Ms: listBrotli.latencyP99Ms,
      listBrotliServerCpuMsPerRequest: listBrotli.serverCpuMsPerRequest,
      listBrotliClientCpuMsPerRequest: listBrotli.clientCpuMsPerRequest,
      listGzipBodyKiB: Math.round(listGzip.bodyBytes / 1024),
      listGzipRequestsPerSec: listGzip.requestsPerSec,
      listGzipLatencyP50Ms: listGzip.latencyP50Ms,
      listGzipLatencyP99Ms: listGzip.latencyP99Ms,
      listGzipServerCpuMsPerRequest: listGzip.serverCpuMsPerRequest,
      listGzipClientCpuMsPerRequest: listGzip.clientCpuMsPerRequest,
      pageBodyKiB: Math.round(page.bodyBytes / 1024),
      pageRequestsPerSec: page.requestsPerSec,
      pageLatencyP50Ms: page.latencyP50Ms,
      pageLatencyP99Ms: page.latencyP99Ms,
      pageServerCpuMsPerRequest: page.serverCpuMsPerRequest,
      pageClientCpuMsPerRequest: page.clientCpuMsPerRequest,
      oneRequestsPerSec: one.requestsPerSec,
      oneLatencyP99Ms: one.latencyP99Ms,
      oneServerCpuMsPerRequest: one.serverCpuMsPerRequest,
      oneClientCpuMsPerRequest: one.clientCpuMsPerRequest,
      streamClients: STREAM_CLIENTS,
      streamFanoutMedianMs: Number(rounds[2]!.toFixed(1)),
      streamFanoutMaxMs: Number(rounds[rounds.length - 1]!.toFixed(1)),
      serverRssMiB: rssAfterLoad,
      serverRssWithStreamsMiB: rssWithStreams,
      loadAverage: Number(loadavg()[0]!.toFixed(2)),
    }
    const dir = join(packageRoot(), 'bench', 'results')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'api-status.json'), `${JSON.stringify(figures, null, 2)}\n`)
    await writeFile(
      join(dir, 'api-status.md'),
      [
        '# Status API',
        '',
        `Run at ${new Date().toISOString()}; server in a child process (the API over a real store with ${APPS} Ready apps), autocannon in a process of its own and the stream clients in the bench process, loopback; 1-minute load average ${figures.loadAverage} on 2 cores when it ended.`,
        'Latency depends on what else runs on the machine; the server CPU time per request does not, and is the figure to compare between runs.',
        'The load generator (autocannon) drops bodies unread (see bench/http-load.ts: decoding each compressed body into a string cost it ~1 ms per answer); its own CPU time per answer is the last column: client and server share the same 2 cores.',
        '',
        '| What | Body as sent | Result | Server CPU / request | Budget | Client CPU / request |',
        '|---|---:|---|---:|---|---:|',
        `| GET /api/v1/apps, ${APPS} apps, 50 connections, 10 s | ${figures.listBodyKiB} KiB | ${figures.listRequestsPerSec} req/s, p50 ${figures.listLatencyP50Ms} ms, p99 **${figures.listLatencyP99Ms} ms** | ${figures.listServerCpuMsPerRequest} ms | p99 < 20 ms | ${figures.listClientCpuMsPerRequest} ms |`,
        `| same, Accept-Encoding: gzip, deflate, br (browsers; brotli sent) | ${figures.listBrotliBodyKiB} KiB | ${figures.listBrotliRequestsPerSec} req/s, p50 ${figures.listBrotliLatencyP50Ms} ms, p99 **${figures.listBrotliLatencyP99Ms} ms** | ${figures.listBrotliServerCpuMsPerRequest} ms | p99 < 20 ms | ${figures.listBrotliClientCpuMsPerRequest} ms |`,
        `| same, Accept-Encoding: gzip (curl --compressed) | ${figures.listGzipBodyKiB} KiB | ${figures.listGzipRequestsPerSec} req/s, p50 ${figures.listGzipLatencyP50Ms} ms, p99 **${figures.listGzipLatencyP99Ms} ms** | ${figures.listGzipServerCpuMsPerRequest} ms | p99 < 20 ms | ${figures.listGzipClientCpuMsPerRequest} ms |`,
        `| GET /api/v1/apps?limit=100 (first page; opt-in, not the default) | ${figures.pageBodyKiB} KiB | ${figures.pageRequestsPerSec} req/s, p50 ${figures.pageLatencyP50Ms} ms, p99 **${figures.pageLatencyP99Ms} ms** | ${figures.pageServerCpuMsPerRequest} ms | | ${figures.pageClientCpuMsPerRequest} ms |`,
        `| GET /api/v1/apps/NAME, 50 connections, 5 s | | ${figures.oneRequestsPerSec} req/s, p99 ${figures.oneLatencyP99Ms} ms | ${figures.oneServerCpuMsPerRequest} ms | | ${figures.oneClientCpuMsPerRequest} ms |`,
        `| One status change → all ${STREAM_CLIENTS} stream clients (5 rounds) | | median ${figures.streamFanoutMedianMs} ms, max **${figures.streamFanoutMaxMs} ms** | | < 100 ms | |`,
        `| Serving process RSS with ${APPS} apps / plus ${STREAM_CLIENTS} streams (API fixture, not serve: see serve-rss.md) | | ${figures.serverRssMiB} MiB / ${figures.serverRssWithStreamsMiB} MiB | | | |`,
        '',
      ].join('\n'),
    )
    return figures
  } finally {
    child.stdin?.end()
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') {
  serveFixture(Number(process.argv[3] ?? APPS)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}
