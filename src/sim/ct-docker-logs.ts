/**
 * `docker compose logs` in the simulated container: deterministic, realistic output per
 * container, prefixed the way Compose prints it without a TTY (`web-1  | …`, the service name and
 * container number padded to the longest one). Lines are derived from the container's image,
 * ports and start/stop times, so two calls print the same history; `--tail N` keeps the last N
 * lines of each container. `--follow` first prints that history, then `follow` emits one request
 * line per running container every `intervalMs` until the client closes the channel (or a cap).
 */
import type { CtContainer, CtContext } from './ct-state.js'
import { splitImageRef } from './ct-docker-format.js'

/** One log line of one container, before prefixing. */
interface LogLine {
  at: number
  text: string
}

const iso = (ms: number): string => new Date(ms).toISOString()
/** nginx's own timestamp form: `2026/11/30 10:00:00`. */
const nginxTime = (ms: number): string => iso(ms).replace('T', ' ').replace(/\.\d{3}Z$/, '').replace(/-/g, '/')

/** The history a container has logged so far. */
export function containerHistory(c: CtContainer): LogLine[] {
  if (!c.startedAt) return []
  const t = c.startedAt
  const { repository, tag } = splitImageRef(c.image)
  const base = repository.split('/').pop() ?? repository
  const lines: LogLine[] = []
  if (base === 'nginx') {
    lines.push({ at: t, text: '/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration' })
    lines.push({ at: t, text: '/docker-entrypoint.sh: Configuration complete; ready for start up' })
    lines.push({ at: t + 5, text: `${nginxTime(t + 5)} [notice] 1#1: nginx/${/^\d/.test(tag) ? tag : '1.27.5'}` })
    lines.push({ at: t + 6, text: `${nginxTime(t + 6)} [notice] 1#1: start worker processes` })
  } else {
    lines.push({ at: t, text: `${iso(t)} INFO starting ${base} ${tag}` })
    for (const p of c.ports) lines.push({ at: t + 10, text: `${iso(t + 10)} INFO listening on :${p.target}/${p.protocol}` })
    if (/crash/.test(c.image)) lines.push({ at: t + 20, text: `${iso(t + 20)} FATAL unrecoverable error, exiting` })
    else lines.push({ at: t + 20, text: `${iso(t + 20)} INFO ready` })
  }
  if (c.state === 'exited' && c.finishedAt) lines.push({ at: c.finishedAt, text: `${iso(c.finishedAt)} INFO received ${c.stoppedByUser ? 'SIGTERM, shutting down' : `exit, code ${c.exitCode}`}` })
  return lines
}

/** The `service-N` label Compose prints for a container. */
const labelOf = (c: CtContainer): string => `${c.service}-${c.labels['com.docker.compose.container-number'] ?? '1'}`

/** Prefixes lines as Compose does: the label padded to the widest label, then ` | `. */
function prefixer(containers: CtContainer[]): (c: CtContainer, text: string) => string {
  const width = Math.max(0, ...containers.map((c) => labelOf(c).length))
  return (c, text) => `${labelOf(c).padEnd(width)}  | ${text}\n`
}

export interface LogsRequest {
  services: string[]
  /** Lines per container from the end; undefined means all. */
  tail?: number
  timestamps: boolean
}

/**
 * Parses the arguments after `logs`. Returns an error text for unknown flags, as compose does.
 */
export function parseLogsArgs(args: string[]): { req: LogsRequest & { follow: boolean }; error?: undefined } | { error: string } {
  const req: LogsRequest & { follow: boolean } = { services: [], timestamps: false, follow: false }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '-f' || a === '--follow') req.follow = true
    else if (a === '--no-color' || a === '--no-log-prefix') continue
    else if (a === '-t' || a === '--timestamps') req.timestamps = true
    else if (a === '-n' || a === '--tail' || a.startsWith('--tail=')) {
      const v = a.startsWith('--tail=') ? a.slice(7) : args[++i]
      if (v === undefined) return { error: `flag needs an argument: ${a}` }
      if (v === 'all') req.tail = undefined
      else if (/^\d+$/.test(v)) req.tail = Number(v)
      else return { error: `invalid argument "${v}" for "-n, --tail" flag: strconv.Atoi: parsing "${v}": invalid syntax` }
    } else if (a.startsWith('-')) return { error: `unknown flag: ${a}` }
    else req.services.push(a)
  }
  return { req }
}

/** The containers a logs request covers, or an error for an unknown service. */
export function selectContainers(all: CtContainer[], services: string[]): CtContainer[] | string {
  for (const s of services) if (!all.some((c) => c.service === s)) return `no such service: ${s}`
  return all.filter((c) => services.length === 0 || services.includes(c.service))
}

/** The history output of `logs` for `containers` (merged in time order, as compose interleaves them). */
export function renderHistory(containers: CtContainer[], req: LogsRequest): string {
  const prefix = prefixer(containers)
  const all: { c: CtContainer; line: LogLine; order: number }[] = []
  let order = 0
  for (const c of containers) {
    let lines = containerHistory(c)
    if (req.tail !== undefined) lines = req.tail === 0 ? [] : lines.slice(-req.tail)
    for (const line of lines) all.push({ c, line, order: order++ })
  }
  all.sort((a, b) => a.line.at - b.line.at || a.order - b.order)
  return all.map(({ c, line }) => prefix(c, req.timestamps ? `${iso(line.at)} ${line.text}` : line.text)).join('')
}

/** Options of `followLogs`. */
export interface FollowOptions {
  /** Milliseconds between emitted rounds. @default 250 */
  intervalMs?: number
  /** Rounds before the simulator ends the stream on its own (a real `-f` runs until stopped). @default 2400 */
  maxRounds?: number
}

/**
 * Streams new lines (one access-log style line per running container per round) through `emit`
 * until `closed()` is true or `maxRounds` passed. Resolves with the exit code (0).
 */
export async function followLogs(ctx: CtContext, containers: CtContainer[], emit: (chunk: string) => void, closed: () => boolean, opts: FollowOptions = {}): Promise<number> {
  const prefix = prefixer(containers)
  const interval = opts.intervalMs ?? 250
  const max = opts.maxRounds ?? 2400
  for (let round = 1; round <= max && !closed(); round++) {
    await new Promise((r) => setTimeout(r, interval))
    if (closed()) break
    const now = ctx.now()
    for (const c of containers) {
      if (c.state !== 'running') continue
      const port = c.ports[0]?.target ?? 80
      emit(prefix(c, `10.0.3.1 - - [${iso(now)}] "GET /?n=${round} HTTP/1.1" 200 615 "-" "probe/1.0" :${port}`))
    }
  }
  return 0
}
