/**
 * When a Proxmox calendar event fires: next and previous occurrence in the node's time zone, as
 * pvescheduler evaluates backup jobs (proxmox-time's `compute_next_event`). Pure: the caller
 * passes the instant. Parsing is in calendar.ts.
 */
import { CALENDAR_FIELD_LIMITS, checkCalendarEvent, parseCalendarEvent, type CalendarEvent, type CalendarValue } from './calendar.js'
import { civilFields, civilSec, daysInMonth, firstOffsetChange, offsetAt, offsetStretchStart, resolveTimeZone, weekdayOf, zoneFormatter } from './time-zone.js'

export interface OccurrenceOptions {
  /**
   * IANA time zone the node runs in (pvescheduler evaluates in the node's local time), or
   * `local` for this process's zone. Ignored when the event ends in `UTC`.
   * @default 'UTC'
   */
  timeZone?: string
}

/** Value sets expanded to lookup tables (index = value). */
interface Compiled {
  weekdays: boolean[] | undefined
  years: boolean[] | undefined
  months: boolean[] | undefined
  days: boolean[] | undefined
  hours: boolean[] | undefined
  minutes: boolean[] | undefined
  seconds: boolean[] | undefined
}

function contains(v: CalendarValue, x: number): boolean {
  switch (v.type) {
    case 'single':
      return v.value === x
    case 'range':
      return x >= v.start && x <= v.end
    case 'repeat':
      if (x < v.start) return false
      if (v.step === 0) return x === v.start
      return (x - v.start) % v.step === 0 && (v.end === undefined || x <= v.end)
  }
}

function table(list: CalendarValue[], size: number): boolean[] | undefined {
  if (list.length === 0) return undefined
  return Array.from({ length: size }, (_, x) => list.some((v) => contains(v, x)))
}

const compiledCache = new WeakMap<CalendarEvent, Compiled>()

function compile(ev: CalendarEvent): Compiled {
  let c = compiledCache.get(ev)
  if (!c) {
    const wd = ev.weekdays.length === 0 || ev.weekdays.length === 7 ? undefined : Array.from({ length: 7 }, (_, d) => ev.weekdays.includes(d))
    c = {
      weekdays: wd,
      years: table(ev.years, CALENDAR_FIELD_LIMITS.year),
      months: table(ev.months, CALENDAR_FIELD_LIMITS.month),
      days: table(ev.days, CALENDAR_FIELD_LIMITS.day),
      hours: table(ev.hours, CALENDAR_FIELD_LIMITS.hour),
      minutes: table(ev.minutes, CALENDAR_FIELD_LIMITS.minute),
      seconds: table(ev.seconds, CALENDAR_FIELD_LIMITS.second),
    }
    compiledCache.set(ev, c)
  }
  return c
}

const ok = (t: boolean[] | undefined, x: number): boolean => t === undefined || t[x] === true
function nextIn(t: boolean[] | undefined, after: number, last: number): number | undefined {
  for (let x = after + 1; x <= last; x++) if (ok(t, x)) return x
  return undefined
}
function prevIn(t: boolean[] | undefined, before: number, first: number): number | undefined {
  for (let x = Math.min(before - 1, (t?.length ?? Infinity) - 1); x >= first; x--) if (ok(t, x)) return x
  return undefined
}

/** Every weekday/date combination repeats within 400 Gregorian years. */
const SEARCH_YEARS = 400

/** The first wall-clock time at or after `start` that matches, or undefined when none does. */
function searchForward(c: Compiled, start: number): number | undefined {
  let { y, mo, d, h, mi, s } = civilFields(start)
  const limit = y + SEARCH_YEARS
  const reset = (sec: number): void => {
    ;({ y, mo, d, h, mi, s } = civilFields(sec))
  }
  for (;;) {
    if (y > limit) return undefined
    if (!ok(c.years, y)) {
      const ny = c.years && y < c.years.length ? nextIn(c.years, y, c.years.length - 1) : undefined
      if (ny === undefined) return undefined
      reset(civilSec(ny, 1, 1, 0, 0, 0))
      continue
    }
    if (!ok(c.months, mo)) {
      const nm = nextIn(c.months, mo, 12)
      reset(nm === undefined ? civilSec(y + 1, 1, 1, 0, 0, 0) : civilSec(y, nm, 1, 0, 0, 0))
      continue
    }
    if (!ok(c.days, d)) {
      const nd = nextIn(c.days, d, daysInMonth(y, mo))
      reset(nd === undefined ? civilSec(y, mo + 1, 1, 0, 0, 0) : civilSec(y, mo, nd, 0, 0, 0))
      continue
    }
    if (c.weekdays && !c.weekdays[weekdayOf(y, mo, d)]) {
      reset(civilSec(y, mo, d + 1, 0, 0, 0))
      continue
    }
    if (!ok(c.hours, h)) {
      const nh = nextIn(c.hours, h, 23)
      reset(nh === undefined ? civilSec(y, mo, d + 1, 0, 0, 0) : civilSec(y, mo, d, nh, 0, 0))
      continue
    }
    if (!ok(c.minutes, mi)) {
      const nm = nextIn(c.minutes, mi, 59)
      reset(nm === undefined ? civilSec(y, mo, d, h + 1, 0, 0) : civilSec(y, mo, d, h, nm, 0))
      continue
    }
    if (!ok(c.seconds, s)) {
      const ns = nextIn(c.seconds, s, 59)
      reset(ns === undefined ? civilSec(y, mo, d, h, mi + 1, 0) : civilSec(y, mo, d, h, mi, ns))
      continue
    }
    return civilSec(y, mo, d, h, mi, s)
  }
}

/** The last wall-clock time at or before `start` that matches, or undefined when none does. */
function searchBackward(c: Compiled, start: number): number | undefined {
  let { y, mo, d, h, mi, s } = civilFields(start)
  const limit = y - SEARCH_YEARS
  const reset = (sec: number): void => {
    ;({ y, mo, d, h, mi, s } = civilFields(sec))
  }
  for (;;) {
    if (y < limit) return undefined
    if (!ok(c.years, y)) {
      const py = c.years ? prevIn(c.years, y, 0) : undefined
      if (py === undefined) return undefined
      reset(civilSec(py, 12, 31, 23, 59, 59))
      continue
    }
    if (!ok(c.months, mo)) {
      const pm = prevIn(c.months, mo, 1)
      reset(pm === undefined ? civilSec(y - 1, 12, 31, 23, 59, 59) : civilSec(y, pm + 1, 0, 23, 59, 59))
      continue
    }
    if (!ok(c.days, d)) {
      const pd = prevIn(c.days, d, 1)
      reset(pd === undefined ? civilSec(y, mo, 0, 23, 59, 59) : civilSec(y, mo, pd, 23, 59, 59))
      continue
    }
    if (c.weekdays && !c.weekdays[weekdayOf(y, mo, d)]) {
      reset(civilSec(y, mo, d - 1, 23, 59, 59))
      continue
    }
    if (!ok(c.hours, h)) {
      const ph = prevIn(c.hours, h, 0)
      reset(ph === undefined ? civilSec(y, mo, d - 1, 23, 59, 59) : civilSec(y, mo, d, ph, 59, 59))
      continue
    }
    if (!ok(c.minutes, mi)) {
      const pm = prevIn(c.minutes, mi, 0)
      reset(pm === undefined ? civilSec(y, mo, d, h - 1, 59, 59) : civilSec(y, mo, d, h, pm, 59))
      continue
    }
    if (!ok(c.seconds, s)) {
      const ps = prevIn(c.seconds, s, 0)
      reset(ps === undefined ? civilSec(y, mo, d, h, mi - 1, 59) : civilSec(y, mo, d, h, mi, ps))
      continue
    }
    return civilSec(y, mo, d, h, mi, s)
  }
}

const isUtc = (ev: CalendarEvent, tz: string): boolean => ev.utc || tz === 'UTC' || tz === 'Etc/UTC'
const toEvent = (ev: CalendarEvent | string): CalendarEvent => (typeof ev === 'string' ? parseCalendarEvent(ev) : ev)

/**
 * The first instant strictly after `after` at which the event fires, or undefined when it never
 * fires again (a past date, `02-30`). Like Proxmox, only whole seconds count (the search starts
 * one second after `after`, truncated), wall-clock times that do not exist in the zone (the hour
 * skipped when clocks go forward) are skipped, and times that exist twice (clocks go back) fire
 * twice. Throws CalendarEventError for an invalid string and RangeError for an unknown zone.
 */
export function nextOccurrence(event: CalendarEvent | string, after: Date, opts: OccurrenceOptions = {}): Date | undefined {
  const ev = toEvent(event)
  const tz = resolveTimeZone(opts.timeZone)
  const c = compile(ev)
  let t = Math.floor(after.getTime() / 1000) + 1
  if (isUtc(ev, tz)) {
    const hit = searchForward(c, t)
    return hit === undefined ? undefined : new Date(hit * 1000)
  }
  zoneFormatter(tz)
  for (let guard = 0; guard < 2 * SEARCH_YEARS * 4; guard++) {
    const off = offsetAt(tz, t)
    const civil = searchForward(c, t + off)
    if (civil === undefined) return undefined
    const hit = civil - off
    const change = firstOffsetChange(tz, t, hit, off)
    if (change === undefined) return new Date(hit * 1000)
    t = change // the offset changed before the hit: search again from there with the new offset
  }
  return undefined
}

/**
 * The last instant at or before `atOrBefore` at which the event fired, or undefined when it never
 * did (within 400 years). With {@link nextOccurrence}: `previous(t) <= t < next(t)`. Used for
 * "overdue": the job should have started at `previousOccurrence(schedule, now)`.
 */
export function previousOccurrence(event: CalendarEvent | string, atOrBefore: Date, opts: OccurrenceOptions = {}): Date | undefined {
  const ev = toEvent(event)
  const tz = resolveTimeZone(opts.timeZone)
  const c = compile(ev)
  let t = Math.floor(atOrBefore.getTime() / 1000)
  if (isUtc(ev, tz)) {
    const hit = searchBackward(c, t)
    return hit === undefined ? undefined : new Date(hit * 1000)
  }
  zoneFormatter(tz)
  for (let guard = 0; guard < 2 * SEARCH_YEARS * 4; guard++) {
    const off = offsetAt(tz, t)
    const civil = searchBackward(c, t + off)
    if (civil === undefined) return undefined
    const hit = civil - off
    const start = offsetStretchStart(tz, hit, t, off)
    if (start === undefined) return new Date(hit * 1000)
    t = start - 1 // the offset was different at the hit: search again from before the change
  }
  return undefined
}

/**
 * Checks a BackupPolicy schedule: a calendar event Proxmox accepts (see {@link checkCalendarEvent})
 * that also fires at least once after 1970 (Proxmox accepts `02-30` or `00-00`, which never run: a
 * backup job that never runs is a mistake, not a schedule). Independent of the clock, so a manifest
 * never turns invalid by itself; a one-off date in the past is accepted. Returns a problem sentence
 * or undefined.
 */
export function checkBackupSchedule(v: unknown): string | undefined {
  const problem = checkCalendarEvent(v)
  if (problem) return problem
  const ev = parseCalendarEvent(v as string)
  if (nextOccurrence(ev, new Date(Date.UTC(1970, 0, 1))) === undefined) {
    return `calendar event "${ev.source}" never fires: no date matches it (check the month and day, e.g. "02-30" does not exist)`
  }
  return undefined
}

/**
 * True when the event fires at `at` (whole seconds; milliseconds are ignored): the wall clock of
 * `at` in the zone matches every field. The plain definition that nextOccurrence and
 * previousOccurrence compute efficiently.
 */
export function matchesCalendarEvent(event: CalendarEvent | string, at: Date, opts: OccurrenceOptions = {}): boolean {
  const ev = toEvent(event)
  const tz = resolveTimeZone(opts.timeZone)
  const sec = Math.floor(at.getTime() / 1000)
  const civil = isUtc(ev, tz) ? sec : sec + offsetAt(tz, sec)
  const f = civilFields(civil)
  const c = compile(ev)
  return (
    ok(c.years, f.y) &&
    ok(c.months, f.mo) &&
    ok(c.days, f.d) &&
    (c.weekdays === undefined || c.weekdays[weekdayOf(f.y, f.mo, f.d)] === true) &&
    ok(c.hours, f.h) &&
    ok(c.minutes, f.mi) &&
    ok(c.seconds, f.s)
  )
}
