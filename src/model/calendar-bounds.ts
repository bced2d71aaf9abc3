/**
 * Value bounds of Proxmox calendar events (`pve-calendar-event`, the systemd-like schedule of
 * backup jobs). The schema pattern checks the shape; Proxmox also refuses hour 24, minute 60,
 * month 13, day 32, a range that runs backwards and a zero repetition, with a 400 when the job
 * is created. Pure; never throws.
 */

const WEEKDAY = /^(mon|tue|wed|thu|fri|sat|sun)/
const DATE_BOUNDS: [string, number, number][] = [
  ['year', 1970, 9999],
  ['month', 1, 12],
  ['day', 1, 31],
]
const TIME_BOUNDS: [string, number, number][] = [
  ['hour', 0, 23],
  ['minute', 0, 59],
  ['second', 0, 59],
]

/** Checks one component such as `*`, `5`, `1..5`, `1,3,5`, `0/2` against [lo, hi]. */
function checkComponent(text: string, [what, lo, hi]: [string, number, number]): string | undefined {
  const [values, step] = text.split('/')
  if (step !== undefined && Number(step) < 1) return `repetition /${step} of the ${what} must be at least 1`
  for (const item of values.split(',')) {
    if (item === '*') continue
    const [a, b] = item.split('..').map(Number)
    for (const n of b === undefined ? [a] : [a, b]) if (n < lo || n > hi) return `${what} ${n} is out of range; use ${lo} to ${hi}`
    if (b !== undefined && a > b) return `${what} range ${item} runs backwards; write the smaller value first`
  }
  return undefined
}

/**
 * Explains why a schedule that matches the calendar-event pattern holds an out-of-range value,
 * or returns undefined. A single time component (`*\/15`) is minutes; two are hour:minute.
 */
export function checkCalendarBounds(schedule: string): string | undefined {
  for (const token of schedule.trim().split(/\s+/)) {
    if (WEEKDAY.test(token) || /^[a-z]+$/.test(token)) continue
    if (token.includes(':') || !token.includes('-')) {
      const parts = token.split(':')
      const bounds = parts.length === 1 ? [TIME_BOUNDS[1]] : TIME_BOUNDS.slice(0, parts.length)
      for (let i = 0; i < parts.length; i++) {
        const p = checkComponent(parts[i], bounds[i])
        if (p) return p
      }
    } else {
      const parts = token.split('-')
      const bounds = parts.length === 3 ? DATE_BOUNDS : DATE_BOUNDS.slice(1)
      for (let i = 0; i < parts.length; i++) {
        const p = checkComponent(parts[i], bounds[i])
        if (p) return p
      }
    }
  }
  return undefined
}
