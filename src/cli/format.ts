/**
 * Output formatting for read commands (`get`, `describe`, `events`, `apply -o json`): aligned
 * tables like kubectl, kubectl-style ages, and stable JSON / YAML renderings. Pure functions.
 */
import { stringify } from 'yaml'
import { parseDurationMs } from '../model/units.js'

/** Output formats accepted by `-o`. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml'

/** Thrown for an unsupported `-o` value; the message lists the accepted ones. */
export class OutputFormatError extends Error {
  override readonly name = 'OutputFormatError'
}

/**
 * Parses an `-o` value. `allowed` lists what the command supports; `undefined` means the default
 * table. Throws OutputFormatError (`unknown output format "x"; use one of: json, yaml`).
 */
export function parseOutputFormat(value: string | undefined, allowed: OutputFormat[]): OutputFormat {
  if (value === undefined || value === '') return 'table'
  const v = value.toLowerCase() as OutputFormat
  if (!allowed.includes(v) || v === 'table') {
    const shown = allowed.filter((a) => a !== 'table').join(', ')
    throw new OutputFormatError(`unknown output format "${value}"; use one of: ${shown}`)
  }
  return v
}

/**
 * Renders rows as a left-aligned table with a header, columns separated by three spaces
 * (kubectl style). Cells are stringified; missing cells render as `<none>`.
 */
export function renderTable(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === '' ? '<none>' : String(r[i]))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)))
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd()
  return [line(headers), ...cells.map(line)].join('\n') + '\n'
}

/** Appends a titled table to `lines`, indented two spaces, or `  <none>` when there are no rows (describe). */
export function pushSection(lines: string[], title: string, headers: string[], rows: (string | number | undefined)[][]): void {
  lines.push(`${title}:`)
  if (rows.length === 0) {
    lines.push('  <none>')
    return
  }
  for (const l of renderTable(headers, rows).trimEnd().split('\n')) lines.push(`  ${l}`)
}

/**
 * A kubectl-style age of `since` relative to `now`: `45s`, `5m`, `2h`, `3d`, `2y`; for short
 * spans two units (`2m30s`, `3h12m`) as kubectl prints them. `<unknown>` for bad input.
 */
export function formatAge(since: string | number | undefined, now: number): string {
  if (since === undefined) return '<unknown>'
  const t = typeof since === 'number' ? since : Date.parse(since)
  if (!Number.isFinite(t)) return '<unknown>'
  const s = Math.max(0, Math.floor((now - t) / 1000))
  if (s < 120) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  if (m < 180) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  if (h < 48) return `${h}h`
  const d = Math.floor(h / 24)
  if (d < 365 * 2) return `${d}d`
  return `${Math.floor(d / 365)}y`
}

/** Pretty JSON with a trailing newline (2-space indent, insertion order kept). */
export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** YAML document (block style) with a trailing newline. */
export function renderYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 })
}

/**
 * Indents every non-empty line of `text` by `n` spaces (for `describe` sections).
 */
export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n)
  return text
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n')
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const SECONDS = /^\d+(?:\.\d+)?$/

/**
 * Parses a CLI duration to milliseconds, accepting what manifests accept (model/units.ts
 * `parseDurationMs`): `500ms`, `30s`, `15m`, `1h`, `7d`, `1h30m`, or a plain number of seconds
 * (`90`), plus a decimal with one unit (`1.5s`). Throws an Error naming the option otherwise.
 */
export function parseDurationOption(value: string, option: string): number {
  const v = value.trim()
  if (SECONDS.test(v)) return Math.round(Number(v) * 1000)
  const m = DURATION.exec(v)
  if (m) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']
    return Math.round(Number(m[1]) * unit)
  }
  try {
    return parseDurationMs(v)
  } catch {
    throw new Error(`${option} must be a duration such as 30s, 15m, 1h30m or a number of seconds, got "${value}"`)
  }
}
