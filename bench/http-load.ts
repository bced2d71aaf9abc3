/**
 * Load and process figures the status API benches share (not a bench itself: it exports no
 * `run`): an autocannon run against one URL with the serving process's CPU time per request
 * (robust when other work shares the machine, unlike latency), and a process's RSS.
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
  const r = await autocannon({ url, connections: opts.connections, duration: opts.seconds, headers })
  const cpu1 = await cpuMs(opts.pid)
  const answered = r.requests.total || 1
  return {
    requestsPerSec: Math.round(r.requests.average),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    non2xx: r.non2xx,
    bodyBytes,
    serverCpuMsPerRequest: Number(((cpu1 - cpu0) / answered).toFixed(3)),
  }
}
