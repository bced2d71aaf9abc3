/**
 * Runs `proximity serve` in-process (the real CLI, real engine, real simulator over HTTPS/SSH)
 * with a manual clock, and stops it by aborting its context signal as a SIGTERM would.
 */
import { PassThrough } from 'node:stream'
import { main } from '../../src/cli/main.js'
import { createManualClock, type ManualClock } from '../../src/runtime/manual-clock.js'
import { testHomeDir, testStateHome, type CliRun } from './helpers.js'

/** One pino JSON line. */
export interface LogRecord {
  level: number
  msg: string
  [k: string]: unknown
}

export interface ServeRun {
  clock: ManualClock
  /** Everything written to stderr so far (JSON log lines). */
  log(): string
  /** Parsed log records so far. */
  records(): LogRecord[]
  /** The /healthz base URL from the start-up line. */
  url(): Promise<string>
  /** Aborts (as SIGTERM) and resolves with the exit code and output. */
  stop(): Promise<CliRun>
  /** Resolves when serve exits by itself. */
  exited: Promise<CliRun>
}

/** Starts `proximity serve <args>` (add `--listen 127.0.0.1:0`); `env` adds to the test environment. */
export function startServe(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): ServeRun {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let errText = ''
  stdout.on('data', (d: Buffer) => (out += d.toString()))
  stderr.on('data', (d: Buffer) => (errText += d.toString()))
  const clock = createManualClock(Date.now())
  const abort = new AbortController()
  const exited = main(['serve', ...args], {
    stdout,
    stderr,
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, HOME: testHomeDir(), XDG_STATE_HOME: testStateHome(opts.cwd), ...(opts.env ?? {}) },
    stdin: new PassThrough(),
    signal: abort.signal,
    clock,
  }).then((code) => ({ code, stdout: out, stderr: errText }))
  const records = (): LogRecord[] =>
    errText
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogRecord)
  return {
    clock,
    log: () => errText,
    records,
    async url() {
      const hit = await until(clock, () => records().find((r) => typeof r.listen === 'string'))
      return String(hit.listen)
    },
    stop() {
      abort.abort()
      return exited
    },
    exited,
  }
}

/**
 * Waits until `probe` returns something truthy, letting real time pass (Proxmox tasks, SSH) and
 * moving the manual clock by `stepMs` each round so requeues and backoffs fire. Throws with
 * `what` after `rounds` rounds.
 */
export async function until<T>(clock: ManualClock, probe: () => T | undefined | false | Promise<T | undefined | false>, o: { stepMs?: number; rounds?: number; what?: string } = {}): Promise<T> {
  for (let i = 0; i < (o.rounds ?? 1500); i++) {
    const v = await probe()
    if (v) return v
    await new Promise((r) => setTimeout(r, 20))
    await clock.advance(o.stepMs ?? 200)
  }
  throw new Error(`gave up waiting for ${o.what ?? 'a condition'}`)
}
