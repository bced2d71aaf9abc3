import { TaskFailure } from './errors.js'

/** One worker task as PVE tracks it (REFERENCE §3). */
export interface SimTask {
  upid: string
  node: string
  pid: number
  pstart: number
  starttime: number
  type: string
  id: string
  /** Full authenticated id, `root@pam!proximity` for tokens. */
  user: string
  status: 'running' | 'stopped'
  exitstatus?: string
  endtime?: number
  log: string[]
}

/** What a task body may do. */
export interface TaskContext {
  log(line: string): void
  /** Logs `WARN: …` and counts a warning (final status `WARNINGS: n`). */
  warn(line: string): void
  /** Waits `ms` (for multi-step tasks such as vzdump). */
  sleep(ms: number): Promise<void>
}

/** Options of the task runner. */
export interface TaskRunnerOptions {
  /** Duration of a task of the given type in ms. */
  latency: (type: string) => number
  now: () => number
  nextPid: () => number
  /** Returns an injected failure message for the type, consuming it, or undefined. */
  takeFailure: (type: string) => string | undefined
  /** Told whenever a task body may have changed state (at each of its yields and at its end). */
  onChange?: () => void
}

const hex = (n: number, width = 8): string => n.toString(16).toUpperCase().padStart(width, '0')

/** UPID text exactly as pve-common `UPID.pm` encodes it (upper-case hex, trailing colon). */
export function encodeUpid(t: Pick<SimTask, 'node' | 'pid' | 'pstart' | 'starttime' | 'type' | 'id' | 'user'>): string {
  return `UPID:${t.node}:${hex(t.pid)}:${hex(t.pstart)}:${hex(t.starttime)}:${t.type}:${t.id}:${t.user}:`
}

/** The decoding regex of UPID.pm. */
export const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

/**
 * Runs simulated worker tasks: each waits its latency, then runs its body; the log ends with
 * `TASK OK`, `TASK WARNINGS: n` or `TASK ERROR: <msg>`. Tasks live in memory only.
 */
export class TaskRunner {
  private readonly tasks = new Map<string, SimTask>()
  private readonly running = new Set<Promise<void>>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor(private readonly opts: TaskRunnerOptions) {}

  /**
   * Starts a task and returns its UPID at once. `onError` runs (before the task is marked
   * stopped) when the body or an injected failure fails, e.g. to roll a create back.
   */
  start(
    node: string,
    type: string,
    id: string,
    user: string,
    body: (t: TaskContext) => Promise<void> | void,
    onError?: (message: string) => void,
  ): string {
    const now = this.opts.now()
    const task: SimTask = {
      upid: '',
      node,
      pid: this.opts.nextPid(),
      pstart: Math.floor(now / 10) & 0x7fffffff,
      starttime: Math.floor(now / 1000),
      type,
      id,
      user,
      status: 'running',
      log: [],
    }
    task.upid = encodeUpid(task)
    this.tasks.set(task.upid, task)
    const p = this.run(task, body, onError).finally(() => this.running.delete(p))
    this.running.add(p)
    return task.upid
  }

  private async run(task: SimTask, body: (t: TaskContext) => Promise<void> | void, onError?: (m: string) => void): Promise<void> {
    let warnings = 0
    const ctx: TaskContext = {
      log: (line) => void task.log.push(line),
      warn: (line) => {
        warnings++
        task.log.push(`WARN: ${line}`)
      },
      sleep: (ms) => this.sleep(ms),
    }
    let error: string | undefined
    try {
      await this.sleep(this.opts.latency(task.type))
      if (this.closed) return
      const injected = this.opts.takeFailure(task.type)
      if (injected !== undefined) throw new TaskFailure(injected)
      await body(ctx)
    } catch (e) {
      error = (e instanceof Error ? e.message : String(e)).replace(/\n+$/, '').replace(/[\r\n]+/g, ' ')
      try {
        onError?.(error)
      } catch {
        /* rollback problems do not change the task result */
      }
    }
    this.opts.onChange?.()
    if (this.closed) return
    task.log.push(error !== undefined ? `TASK ERROR: ${error}` : warnings > 0 ? `TASK WARNINGS: ${warnings}` : 'TASK OK')
    task.exitstatus = error !== undefined ? error : warnings > 0 ? `WARNINGS: ${warnings}` : 'OK'
    task.endtime = Math.floor(this.opts.now() / 1000)
    task.status = 'stopped'
  }

  private sleep(ms: number): Promise<void> {
    this.opts.onChange?.()
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t)
        resolve()
      }, ms)
      this.timers.add(t)
    })
  }

  /** A task by UPID. */
  get(upid: string): SimTask | undefined {
    return this.tasks.get(upid)
  }

  /** All tasks, newest first, optionally of one node. */
  list(node?: string): SimTask[] {
    const all = [...this.tasks.values()].filter((t) => node === undefined || t.node === node)
    return all.sort((a, b) => b.starttime - a.starttime || b.pid - a.pid)
  }

  /** Resolves when no task is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running])
  }

  /** Stops timers; running tasks never finish. */
  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
