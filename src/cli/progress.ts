/**
 * Live progress of an apply (DESIGN §6: "live progress on a TTY and plain lines otherwise").
 *
 * Every line names the object, the controller's phase (`creating`, `installing`,
 * `waiting-health`, …), the time since the object's first phase, and the detail the controller
 * gave, with Proxmox task ids shortened to type and guest id (`vzcreate 105`; the full UPID with
 * `verbose`). On a TTY every object owns one line that is redrawn in place with ANSI cursor moves
 * (`• web   creating        3s   vmid 105 on pve, task vzcreate 105`) and ticks every second;
 * otherwise each phase change is printed once as a plain line
 * (`App/web: creating (vmid 105 on pve) [3s]`), which keeps CI logs readable. Details must never
 * carry secrets (controllers pass vmids, nodes and UPIDs only).
 */
import type { Writable } from 'node:stream'
import type { ProgressPhase } from '../runtime/controller.js'
import { shortenTaskIds } from './task-id.js'

/** Receives phase changes from controllers (ControllerContext.progress). */
export interface ProgressReporter {
  update(key: string, phase: ProgressPhase, detail?: string): void
  /** Stops redrawing; leaves the last frame on screen. Idempotent. */
  finish(): void
}

export interface ProgressOptions {
  /** Redraw in place with ANSI escapes. @default stream.isTTY */
  tty?: boolean
  /** Minimum ms between two redraws on a TTY. @default 80 */
  redrawMs?: number
  /** Clock (tests pass a manual one; timings are never asserted). @default Date.now */
  now?: () => number
  /** Show full Proxmox task ids (UPIDs) beside the short ones (`-v`). @default false */
  verbose?: boolean
  /** On a TTY, redraw this often so elapsed times tick while nothing else changes; 0 disables. @default 1000 */
  tickMs?: number
  /** Terminal height. @default stream.rows, else (unknown or 0) 24 */
  rows?: number
  /** Terminal width; longer rows are cut so a wrapped line never breaks the redraw. @default stream.columns, else (unknown or 0) 80 */
  columns?: number
}

const PHASE_WIDTH = 15

/** Elapsed time as people read it: `0s`, `42s`, `3m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** Phases after which an object does no more work in this run. */
const isFinished = (phase: ProgressPhase): boolean => phase === 'done' || phase === 'healthy' || phase === 'failed'

/**
 * Creates a reporter writing to `stream` (normally stderr so `-o json` stdout stays parseable).
 * Plain mode prints a line only when the phase or detail of a key changes.
 */
export function createProgress(stream: Writable & { isTTY?: boolean }, opts: ProgressOptions = {}): ProgressReporter {
  const tty = opts.tty ?? stream.isTTY === true
  return tty ? createTtyProgress(stream, opts) : createPlainProgress(stream, opts)
}

/** A reporter that discards everything (for `plan` and `-o json` runs). */
export const silentProgress: ProgressReporter = { update() {}, finish() {} }

function createPlainProgress(stream: Writable, opts: ProgressOptions): ProgressReporter {
  const now = opts.now ?? Date.now
  const last = new Map<string, string>()
  const started = new Map<string, number>()
  return {
    update(key, phase, detail) {
      const shown = detail ? shortenTaskIds(detail, opts.verbose) : undefined
      const text = shown ? `${phase} (${shown})` : phase
      if (last.get(key) === text) return
      last.set(key, text)
      if (!started.has(key)) started.set(key, now())
      stream.write(`${key}: ${text} [${formatElapsed(now() - (started.get(key) as number))}]\n`)
    },
    finish() {},
  }
}

interface Row {
  key: string
  phase: ProgressPhase
  detail?: string
  startedAt: number
  /** When the row reached a finished phase (its elapsed time stops there). */
  endedAt?: number
}

function createTtyProgress(stream: Writable, opts: ProgressOptions): ProgressReporter {
  const now = opts.now ?? Date.now
  const redrawMs = opts.redrawMs ?? 80
  const rows: Row[] = []
  const byKey = new Map<string, Row>()
  let drawn = 0
  let lastDraw = 0
  let timer: NodeJS.Timeout | undefined
  let finished = false

  const label = (k: string): string => (k.startsWith('App/') ? k.slice(4) : k)
  const finishedPhase = (r: Row): boolean => isFinished(r.phase)
  const elapsed = (r: Row): string => formatElapsed((r.endedAt ?? now()) - r.startedAt)
  const draw = (): void => {
    timer = undefined
    lastDraw = now()
    // Keep the frame inside the terminal: with many objects, finished rows collapse into a count.
    // A pseudo-terminal without a size reports 0 rows and columns: treat that as unknown.
    const max = Math.max(3, (opts.rows ?? ((stream as { rows?: number }).rows || 24)) - 2)
    let visible: Row[] = rows
    let summary: string | undefined
    if (rows.length > max) {
      const active = rows.filter((r) => !finishedPhase(r))
      const failed = rows.filter((r) => r.phase === 'failed').length
      visible = active.slice(0, max - 1)
      summary = `… ${rows.length - active.length - failed} done, ${failed} failed, ${active.length - visible.length} more in progress`
    }
    const width = Math.max(8, ...visible.map((r) => label(r.key).length))
    const cols = Math.max(20, opts.columns ?? ((stream as { columns?: number }).columns || 80)) - 1
    const fit = (line: string): string => ([...line].length > cols ? `${[...line].slice(0, cols - 1).join('')}…` : line)
    let frame = drawn > 0 ? `\x1b[${drawn}A` : ''
    for (const r of visible) {
      const mark = r.phase === 'failed' ? '✗' : r.phase === 'healthy' || r.phase === 'done' ? '✓' : '•'
      const detail = r.detail ? `   ${shortenTaskIds(r.detail, opts.verbose)}` : ''
      frame += `\x1b[2K${fit(`${mark} ${label(r.key).padEnd(width)}   ${r.phase.padEnd(PHASE_WIDTH)}${elapsed(r).padStart(6)}${detail}`)}\n`
    }
    if (summary) frame += `\x1b[2K${fit(summary)}\n`
    frame += '\x1b[J'
    drawn = visible.length + (summary ? 1 : 0)
    stream.write(frame)
  }
  const schedule = (): void => {
    if (finished || timer) return
    const wait = redrawMs - (now() - lastDraw)
    if (wait <= 0) draw()
    else timer = setTimeout(draw, wait)
  }
  // Elapsed times tick while objects are working; the timer never keeps the process alive.
  const tickMs = opts.tickMs ?? 1000
  let ticker: NodeJS.Timeout | undefined
  const tick = (): void => {
    if (ticker || tickMs <= 0 || finished) return
    ticker = setInterval(() => {
      if (rows.some((r) => !finishedPhase(r))) schedule()
    }, tickMs)
    ticker.unref()
  }
  return {
    update(key, phase, detail) {
      let r = byKey.get(key)
      if (!r) {
        r = { key, phase, startedAt: now() }
        byKey.set(key, r)
        rows.push(r)
      }
      r.phase = phase
      r.detail = detail
      // A finished row freezes its time; a row that works again (a retry) counts on from its start.
      r.endedAt = isFinished(phase) ? (r.endedAt ?? now()) : undefined
      schedule()
      tick()
    },
    finish() {
      if (finished) return
      if (timer) clearTimeout(timer)
      if (ticker) clearInterval(ticker)
      if (rows.length > 0) draw()
      finished = true
    },
  }
}
