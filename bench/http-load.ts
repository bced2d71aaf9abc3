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
 */
import { readFile } from 'node:fs/promises'
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

/**
 * Runs autocannon against `url` for `seconds` with `connections` clients and reads the serving
 * process's CPU time around it. Asks once first to learn the answer's size as sent.
 */
export async function load(url: string, headers: Record<string, string>, opts: { pid: number; connections: number; seconds: number }): Promise<LoadFigures> {
  // fetch asks for compressed answers unless told otherwise; autocannon sends what `headers` say.
  const sample = await fetch(url, { headers: { 'Accept-Encoding': 'identity', ...headers } })
  // fetch decodes a compressed body: the size sent is Content-Length when given.
  const declared = Number(sample.headers.get('content-length') ?? NaN)
  const bodyBytes = Number.isFinite(declared) ? declared : (await sample.arrayBuffer()).byteLength
  await sample.body?.cancel().catch(() => {})
  const cpu0 = await cpuMs(opts.pid)
  const own0 = process.cpuUsage()
  const r = await autocannon({ url, connections: opts.connections, duration: opts.seconds, headers, setupClient: discardBodies })
  const own = process.cpuUsage(own0)
  const cpu1 = await cpuMs(opts.pid)
  const answered = r.requests.total || 1
  return {
    requestsPerSec: Math.round(r.requests.average),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    non2xx: r.non2xx,
    bodyBytes,
    serverCpuMsPerRequest: Number(((cpu1 - cpu0) / answered).toFixed(3)),
    clientCpuMsPerRequest: Number(((own.user + own.system) / 1000 / answered).toFixed(3)),
  }
}
