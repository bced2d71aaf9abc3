/**
 * Load and process figures the status API benches share (not a bench itself: it exports no
 * `run`): an autocannon run against one URL with the serving process's CPU time per request
 * (robust when other work shares the machine, unlike latency), and a process's RSS.
 *
 * autocannon appends every response body to a JavaScript string (`body += chunk`), i.e. it
 * UTF-8-decodes each body. For JSON that is cheap (ASCII fast path: ~0.02 ms for 140 KiB), but
 * a brotli or gzip body is binary and takes the decoder's slow path: ~1 ms for the 57 KiB
 * compressed list, which capped the client (one thread, saturated) at ~700-850 answers per
 * second while the server sat ~75 % idle. The runs here drop the bodies unread (`discardBodies`)
 * and report the client's own CPU time per answer, so a saturated client shows in the figures.
 * autocannon runs in a process of its own (`node dist/bench/http-load.js --client`, options on
 * stdin): inside the bench process, next to the fixture's pipes and the bench's own state, the
 * same run cost the client about twice the CPU per answer.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

/** Resident set size of a process in MiB (VmRSS of /proc/PID/status). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round((kb / 1024) * 10) / 10
}

/** Peak resident set size of a process in MiB (VmHWM). */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round((kb / 1024) * 10) / 10
}

/** User + system CPU time of a process in ms (clock ticks of /proc/PID/stat, 100 per second). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export interface LoadFigures {
  requestsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  non2xx: number
  /** Bytes of one answer as sent (compressed when a coding was asked for). */
  bodyBytes: number
  /** CPU time of the serving process per answered request. */
  serverCpuMsPerRequest: number
  /** CPU time of this (the load-generating) process per answered request. */
  clientCpuMsPerRequest: number
}

/**
 * autocannon's per-connection hook: its clients keep each response's body in
 * `pipelinedRequests.addBody` (as a string, for `expectBody`/`verifyBody`, which these runs do not
 * use); replacing that with a no-op leaves the byte counts, status codes and latencies as they
 * were. Throws if a later autocannon moved it, rather than silently measuring the decoder again.
 */
function discardBodies(client: unknown): void {
  const queue = (client as { pipelinedRequests?: { addBody?: unknown } }).pipelinedRequests
  if (!queue || typeof queue.addBody !== 'function') throw new Error('autocannon client has no pipelinedRequests.addBody: update bench/http-load.ts discardBodies')
  queue.addBody = () => {}
}

interface ClientRequest {
  url: string
  headers: Record<string, string>
  connections: number
  seconds: number
}

interface ClientFigures {
  requestsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  non2xx: number
  answered: number
  cpuMs: number
}

/** The client side, in its own process: one autocannon run, its figures as one JSON line. */
async function clientMain(): Promise<void> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  const req = JSON.parse(text) as ClientRequest
  const own0 = process.cpuUsage()
  const r = await autocannon({ url: req.url, connections: req.connections, duration: req.seconds, headers: req.headers, setupClient: discardBodies })
  const own = process.cpuUsage(own0)
  const figures: ClientFigures = {
    requestsPerSec: Math.round(r.requests.average),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    non2xx: r.non2xx,
    answered: r.requests.total,
    cpuMs: (own.user + own.system) / 1000,
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}

/** Runs the client in a child process (the token travels on its stdin, never in its arguments). */
function runClient(req: ClientRequest): Promise<ClientFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--client'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load client exited ${code}`))
      try {
        resolve(JSON.parse(out) as ClientFigures)
      } catch {
        reject(new Error('load client printed no figures'))
      }
    })
    child.stdin.end(JSON.stringify(req))
  })
}

/**
 * Runs autocannon (in a child process) against `url` for `seconds` with `connections` clients and
 * reads the serving process's CPU time around it. Asks once first to learn the answer's size as sent.
 */
export async function load(url: string, headers: Record<string, string>, opts: { pid: number; connections: number; seconds: number }): Promise<LoadFigures> {
  // fetch asks for compressed answers unless told otherwise; autocannon sends what `headers` say.
  const sample = await fetch(url, { headers: { 'Accept-Encoding': 'identity', ...headers } })
  // fetch decodes a compressed body: the size sent is Content-Length when given.
  const declared = Number(sample.headers.get('content-length') ?? NaN)
  const bodyBytes = Number.isFinite(declared) ? declared : (await sample.arrayBuffer()).byteLength
  await sample.body?.cancel().catch(() => {})
  const cpu0 = await cpuMs(opts.pid)
  const r = await runClient({ url, headers, connections: opts.connections, seconds: opts.seconds })
  const cpu1 = await cpuMs(opts.pid)
  const answered = r.answered || 1
  return {
    requestsPerSec: r.requestsPerSec,
    latencyP50Ms: r.latencyP50Ms,
    latencyP99Ms: r.latencyP99Ms,
    non2xx: r.non2xx,
    bodyBytes,
    serverCpuMsPerRequest: Number(((cpu1 - cpu0) / answered).toFixed(3)),
    clientCpuMsPerRequest: Number((r.cpuMs / answered).toFixed(3)),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--client') {
  clientMain().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}
