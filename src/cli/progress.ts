/**
 * Live progress of an apply (DESIGN §6: "live progress on a TTY and plain lines otherwise").
 *
 * On a TTY every object owns one line that is redrawn in place with ANSI cursor moves
 * (`web   creating   UPID:…`); otherwise each phase change is printed once as a plain line
 * (`App/web: creating (vmid 1001 on pve)`), which keeps CI logs readable. Details must never
 * carry secrets (controllers pass vmids, nodes and UPIDs only).
 */
import type { Writable } from 'node:stream'
import type { ProgressPhase } from '../runtime/controller.js'

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
  /** Clock (tests). @default Date.now */
  now?: () => number
  /** Terminal height. @default stream.rows, else 24 */
  rows?: number
  /** Terminal width; longer rows are cut so a wrapped line never breaks the redraw. @default stream.columns, else 80 */
  columns?: number
}

const PHASE_WIDTH = 14

/**
 * Creates a reporter writing to `stream` (normally stderr so `-o json` stdout stays parseable).
 * Plain mode prints a line only when the phase or detail of a key changes.
 */
export function createProgress(stream: Writable & { isTTY?: boolean }, opts: ProgressOptions = {}): ProgressReporter {
  const tty = opts.tty ?? stream.isTTY === true
  return tty ? createTtyProgress(stream, opts) : createPlainProgress(stream)
}

/** A reporter that discards everything (for `plan` and `-o json` runs). */
export const silentProgress: ProgressReporter = { update() {}, finish() {} }

function createPlainProgress(stream: Writable): ProgressReporter {
  const last = new Map<string, string>()
  return {
    update(key, phase, detail) {
      const text = detail ? `${phase} (${detail})` : phase
      if (last.get(key) === text) return
      last.set(key, text)
      stream.write(`${key}: ${text}\n`)
    },
    finish() {},
  }
}

interface Row {
  key: string
  phase: ProgressPhase
  detail?: string
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
  const finishedPhase = (r: Row): boolean => r.phase === 'done' || r.phase === 'healthy' || r.phase === 'failed'
  const draw = (): void => {
    timer = undefined
    lastDraw = now()
    // Keep the frame inside the terminal: with many objects, finished rows collapse into a count.
    const max = Math.max(3, (opts.rows ?? (stream as { rows?: number }).rows ?? 24) - 2)
    let visible: Row[] = rows
    let summary: string | undefined
    if (rows.length > max) {
      const active = rows.filter((r) => !finishedPhase(r))
      const failed = rows.filter((r) => r.phase === 'failed').length
      visible = active.slice(0, max - 1)
      summary = `… ${rows.length - active.length - failed} done, ${failed} failed, ${active.length - visible.length} more in progress`
    }
    const width = Math.max(8, ...visible.map((r) => label(r.key).length))
    const cols = Math.max(20, opts.columns ?? (stream as { columns?: number }).columns ?? 80) - 1
    const fit = (line: string): string => ([...line].length > cols ? `${[...line].slice(0, cols - 1).join('')}…` : line)
    let frame = drawn > 0 ? `\x1b[${drawn}A` : ''
    for (const r of visible) {
      const mark = r.phase === 'failed' ? '✗' : r.phase === 'healthy' || r.phase === 'done' ? '✓' : '•'
      frame += `\x1b[2K${fit(`${mark} ${label(r.key).padEnd(width)}   ${r.phase.padEnd(PHASE_WIDTH)}${r.detail ?? ''}`)}\n`
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
  return {
    update(key, phase, detail) {
      let r = byKey.get(key)
      if (!r) {
        r = { key, phase }
        byKey.set(key, r)
        rows.push(r)
      }
      r.phase = phase
      r.detail = detail
      schedule()
    },
    finish() {
      if (finished) return
      if (timer) clearTimeout(timer)
      if (rows.length > 0) draw()
      finished = true
    },
  }
}
