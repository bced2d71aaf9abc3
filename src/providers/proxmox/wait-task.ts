/**
 * Waiting for a Proxmox task (REFERENCE §3.2, trap 7): poll the status until `stopped`, count
 * `OK` and `WARNINGS: n` as success, turn anything else into a `PveTaskError` with the log tail.
 */
import { PveAbortError, PveApiError, PveTaskError, PveTaskTimeoutError } from './errors.js'
import type { PveEngine } from './engine.js'
import type { TaskResult, TaskStatus, Upid, WaitTaskOptions } from './types.js'
import { parseUpid } from './upid.js'

/** Extra options of our `waitTask` (beyond the port's `WaitTaskOptions`). */
export interface WaitTaskExtraOptions extends WaitTaskOptions {
  signal?: AbortSignal
  /** How long a freshly returned UPID may answer 400 `no such task`. @default 5000 */
  notFoundGraceMs?: number
  /** Log lines kept in a PveTaskError. @default 20 */
  logTailLines?: number
  /**
   * The poll interval starts at `pollMs` and grows by half after every poll that finds the task
   * still running, up to this ceiling (a long backup is not polled ten times a second).
   * @default 1000 (or `pollMs`, when larger)
   */
  maxPollMs?: number
}

/** Growth of the poll interval after each poll that finds the task running. */
export const POLL_GROWTH = 1.5

/** One task log line as PVE returns it. */
export interface TaskLogLine {
  n: number
  t: string
}

const OK_RE = /^(OK|WARNINGS: \d+)$/

/** True for the exit statuses PVE counts as success (`OK`, `WARNINGS: n`). */
export const isTaskSuccess = (exitstatus: string | undefined): boolean => exitstatus !== undefined && OK_RE.test(exitstatus)

/** Task log page plus the envelope's `total` line count. */
export async function readTaskLog(engine: PveEngine, node: string, upid: Upid, start = 0, limit = 50): Promise<{ lines: TaskLogLine[]; total: number }> {
  const env = await engine.requestRaw<TaskLogLine[]>('GET', taskPath(node, upid, '/log'), '/nodes/{node}/tasks/{upid}/log', { start, limit })
  const lines = Array.isArray(env.data) ? env.data : []
  return { lines, total: env.total ?? lines.length }
}

/** The last `count` log lines of a task (two reads: the total, then the tail). */
export async function readTaskLogTail(engine: PveEngine, node: string, upid: Upid, count = 20): Promise<string[]> {
  const head = await readTaskLog(engine, node, upid, 0, 1)
  const start = Math.max(0, head.total - count)
  const tail = await readTaskLog(engine, node, upid, start, count)
  return tail.lines.map((l) => l.t)
}

/**
 * Polls `GET /nodes/{node}/tasks/{upid}/status` until the task stops: first at once, then after
 * `pollMs`, each pause half again as long as the one before, up to `maxPollMs` (short tasks are
 * seen finishing quickly; long ones cost few requests). Resolves
 * for `OK` / `WARNINGS: n`; rejects with `PveTaskError` (with the last log lines) otherwise,
 * with `PveTaskTimeoutError` (a TransientError; the task keeps running) after `timeoutMs`, with
 * `PveAbortError` when `signal` aborts, and with `PveApiError` when polling itself fails. Read
 * only; safe to call again for the same UPID.
 */
export async function waitForTask(
  engine: PveEngine,
  node: string,
  upid: Upid,
  opts: WaitTaskExtraOptions = {},
  now: () => number = Date.now,
): Promise<TaskResult> {
  const pollMs = opts.pollMs ?? 500
  const maxPollMs = Math.max(pollMs, opts.maxPollMs ?? 1000)
  let intervalMs = pollMs
  const timeoutMs = opts.timeoutMs ?? 600_000
  const graceMs = opts.notFoundGraceMs ?? 5000
  const started = now()
  for (;;) {
    if (opts.signal?.aborted) throw new PveAbortError(`stopped waiting for task on ${node}`)
    let status: TaskStatus | undefined
    try {
      status = (await engine.requestRaw<TaskStatus>('GET', taskPath(node, upid, '/status'), '/nodes/{node}/tasks/{upid}/status', undefined, opts.signal ? { signal: opts.signal } : {})).data
    } catch (err) {
      const early = err instanceof PveApiError && err.status === 400 && err.isNotFound() && now() - started < graceMs
      if (!early) throw err
    }
    if (status) {
      opts.onProgress?.(status)
      if (status.status === 'stopped') {
        const exitstatus = status.exitstatus ?? 'unexpected status'
        if (isTaskSuccess(exitstatus)) return { upid, exitstatus }
        const logTail = await readTaskLogTail(engine, node, upid, opts.logTailLines ?? 20).catch(() => [] as string[])
        throw new PveTaskError({ upid, node, type: status.type ?? parseUpid(upid)?.type ?? 'task', exitstatus, logTail })
      }
    }
    const elapsed = now() - started
    if (elapsed >= timeoutMs) throw new PveTaskTimeoutError(node, upid, timeoutMs)
    await pause(Math.min(intervalMs, timeoutMs - elapsed), opts.signal)
    intervalMs = Math.min(maxPollMs, intervalMs * POLL_GROWTH)
  }
}

function taskPath(node: string, upid: string, suffix: string): string {
  return `/api2/json/nodes/${encodeURIComponent(node)}/tasks/${upid.replace(/\//g, '%2F')}${suffix}`
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, Math.max(0, ms))
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
