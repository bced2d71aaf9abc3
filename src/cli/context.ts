import type { Readable, Writable } from 'node:stream'
import type { Clock } from '../runtime/clock.js'

/**
 * What a command may touch of the outside world. `main` builds it from the process; tests build
 * their own to run the CLI in-process. Only the CLI reads `env` and decides exit codes.
 */
export interface CliContext {
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable & { isTTY?: boolean }
  stdin: Readable
  env: NodeJS.ProcessEnv
  cwd: string
  /** Set by a command; `main` resolves with it. @default 0 */
  exitCode: number
  /**
   * Aborted when the user interrupts a long-running read (`logs --follow`). When absent, such a
   * command listens for SIGINT itself; tests pass their own signal. @default undefined
   */
  interrupt?: AbortSignal
  /**
   * In-process callers (tests) stop a long-running command (`serve`) by aborting this, as a
   * SIGTERM would. @default none: only process signals stop it
   */
  signal?: AbortSignal
  /** The clock of the runtime (tests pass a manual one). @default the system clock */
  clock?: Clock
  /**
   * In-process callers (benches) see every controller progress report of `serve`; the phase
   * `observing` marks the start of one reconcile of `key`. Must not block. @default none
   */
  onProgress?: (key: string, phase: string, detail?: string) => void
}

/** Writes a line to stdout. */
export const out = (ctx: CliContext, text: string): void => {
  ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Writes a line to stderr. */
export const err = (ctx: CliContext, text: string): void => {
  ctx.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Collects repeatable option values (`-f a -f b`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
