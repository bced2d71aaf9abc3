/**
 * PVE calendar events (`pve-calendar-event`, the systemd-like subset proxmox-time parses):
 * `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]`, a single field meaning minutes (a star,
 * a slash and 5 is every fifth minute), or a named event (`daily`, `weekly`, …). Each field is a
 * star, a number, a range `a..b`, a repetition `a/r` (a star before the slash starts at the
 * field's minimum), or a comma list of those; weekdays are names (`mon..fri,sun`).
 * Written here because no npm package parses this dialect (cron libraries do not).
 */

/** A parsed calendar event: the allowed values of each field. */
export interface CalendarSpec {
  weekdays: Set<number>
  years: Set<number> | undefined
  months: Set<number>
  days: Set<number>
  hours: Set<number>
  minutes: Set<number>
}

const DOW = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const DOW_LONG = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']
const NAMED: Record<string, string> = {
  minutely: '*-*-* *:*:00',
  hourly: '*-*-* *:00:00',
  daily: '*-*-* 00:00:00',
  weekly: 'mon *-*-* 00:00:00',
  monthly: '*-*-01 00:00:00',
  yearly: '*-01-01 00:00:00',
  annually: '*-01-01 00:00:00',
  quarterly: '*-01,04,07,10-01 00:00:00',
  semiannually: '*-01,07-01 00:00:00',
}

const range = (lo: number, hi: number, step = 1): number[] => {
  const out: number[] = []
  for (let i = lo; i <= hi; i += step) out.push(i)
  return out
}

/** One numeric field: `*`, `n`, `a..b`, `a/r`, `a..b/r` (star-slash-r too), comma lists. Undefined when invalid. */
function parseField(text: string, min: number, max: number): Set<number> | undefined {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(part)
    if (!m) return undefined
    const lo = m[1] === '*' ? min : Number(m[1])
    const hi = m[2] !== undefined ? Number(m[2]) : m[1] === '*' || m[3] !== undefined ? max : lo
    const step = m[3] !== undefined ? Number(m[3]) : 1
    if (lo < min || hi > max || lo > hi || step < 1) return undefined
    for (const v of range(lo, hi, step)) out.add(v)
  }
  return out
}

function parseWeekdays(text: string): Set<number> | undefined {
  const idx = (name: string): number => {
    const i = DOW.indexOf(name)
    return i >= 0 ? i : DOW_LONG.indexOf(name)
  }
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const [a, b, extra] = part.split('..')
    if (extra !== undefined || a === undefined) return undefined
    const lo = idx(a)
    const hi = b === undefined ? lo : idx(b)
    if (lo < 0 || hi < 0) return undefined
    // mon..sun wraps past saturday (sunday is 0).
    for (let d = lo; ; d = (d + 1) % 7) {
      out.add(d)
      if (d === hi) break
    }
  }
  return out
}

/** Parses a calendar event; throws an Error with PVE's message when it is not one. */
export function parseCalendarEvent(text: string): CalendarSpec {
  const trimmed = text.trim().toLowerCase()
  if (trimmed === '') throw new Error('unable to parse calendar event - event is empty')
  const src = NAMED[trimmed] ?? trimmed
  const bad = (): Error => new Error('unable to parse calendar event')
  const must = <T>(v: T | undefined): T => {
    if (v === undefined) throw bad()
    return v
  }
  const tokens = src.split(/\s+/)
  let weekdays = new Set(range(0, 6))
  if (tokens[0] !== undefined && /^[a-z]/.test(tokens[0])) {
    weekdays = must(parseWeekdays(tokens.shift() as string))
  }
  let years: Set<number> | undefined
  let months = new Set(range(1, 12))
  let days = new Set(range(1, 31))
  let hours: Set<number> | undefined
  let minutes: Set<number> | undefined
  for (const tok of tokens) {
    if (tok.includes('-') && hours === undefined) {
      const parts = tok.split('-')
      if (parts.length < 2 || parts.length > 3) throw bad()
      const [y, mo, d] = parts.length === 3 ? parts : [undefined, ...parts]
      if (y !== undefined) years = must(parseField(y, 1970, 9999))
      months = must(parseField(mo as string, 1, 12))
      days = must(parseField(d as string, 1, 31))
    } else if (hours === undefined) {
      const parts = tok.split(':')
      if (parts.length > 3) throw bad()
      if (parts.length === 1) {
        hours = new Set(range(0, 23))
        minutes = parseField(parts[0] as string, 0, 59)
      } else {
        hours = parseField(parts[0] as string, 0, 23)
        minutes = parseField(parts[1] as string, 0, 59)
        if (parts[2] !== undefined && !parseField(parts[2], 0, 59)) throw bad()
      }
      if (!hours || !minutes) throw bad()
    } else throw bad()
  }
  return { weekdays, years, months, days, hours: hours ?? new Set([0]), minutes: minutes ?? new Set([0]) }
}

/** The `pve-calendar-event` verifier: undefined when valid, else PVE's message. */
export function verifyCalendarEvent(text: string): string | undefined {
  try {
    parseCalendarEvent(text)
    return undefined
  } catch (e) {
    return `invalid calendar event '${text}' - ${(e as Error).message}`
  }
}

/**
 * The first event strictly after `afterS` (epoch seconds), in the node's (process) local time as
 * pvescheduler computes it; undefined when none falls within the next four years. Pure.
 */
export function nextEvent(spec: CalendarSpec, afterS: number): number | undefined {
  const start = new Date(afterS * 1000)
  const hours = [...spec.hours].sort((a, b) => a - b)
  const minutes = [...spec.minutes].sort((a, b) => a - b)
  for (let i = 0; i < 4 * 366 + 1; i++) {
    const day = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i)
    if (!spec.weekdays.has(day.getDay()) || !spec.months.has(day.getMonth() + 1) || !spec.days.has(day.getDate())) continue
    if (spec.years && !spec.years.has(day.getFullYear())) continue
    for (const h of hours) {
      for (const m of minutes) {
        const t = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m, 0).getTime() / 1000
        if (t > afterS) return t
      }
    }
  }
  return undefined
}
