/**
 * Proxmox calendar events (`pve-calendar-event`, the schedule of backup jobs), parsed and evaluated
 * the way Proxmox does it. Pure: no I/O, no clock (callers pass the instant).
 *
 * Grammar (pve-docs "Schedule Format"; the implementation is proxmox-time's `CalendarEvent`):
 *
 *   [WEEKDAY] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]] [UTC]
 *
 * - weekdays: `mon`…`sun` or the full English names, any case, as a `,` list of single days or
 *   `a..b` ranges (a range may wrap: `sat..mon`); omitted means every day.
 * - every number field is `*` (any), `*∕N` (every N from the field's minimum), or a `,` list of
 *   `V`, `A..B`, `V/N` (V, V+N, … up to the field's maximum) and `A..B/N`.
 * - a single number group without `:` is the minute (`*∕15`, `30/10`); `H:M` and `H:M:S` name
 *   hours, minutes and seconds. Omitted hours mean every hour; omitted seconds mean `:00`.
 * - the date is `Y-M-D` or `M-D` (`*-*-*`, `2026-12-24`, `*-05`, `*-1..7`).
 * - with neither date nor time, the time is 00:00:00 (`sat` = Saturday at midnight).
 * - special words (whole string, lower case): minutely, hourly, daily, weekly, monthly, yearly,
 *   annually, quarterly, semiannually, semi-annually.
 * - a trailing `UTC` evaluates in UTC instead of the node's local time zone.
 *
 * Values are bounded as Proxmox bounds them: hours < 24, minutes and seconds < 60, months < 13,
 * days < 32, years < 2200; month 0 or day 0 parse but never match (as in Proxmox).
 */

/** One item of a number field. */
export type CalendarValue =
  | { type: 'single'; value: number }
  | { type: 'range'; start: number; end: number }
  | { type: 'repeat'; start: number; step: number; end?: number }

/** A parsed calendar event. Empty value lists mean "any". */
export interface CalendarEvent {
  /** The text as written. */
  source: string
  /** True with a trailing `UTC`: evaluated in UTC whatever time zone the caller passes. */
  utc: boolean
  /** Weekdays, 0 = Monday … 6 = Sunday (Proxmox's order), sorted; empty = every day. */
  weekdays: number[]
  years: CalendarValue[]
  months: CalendarValue[]
  days: CalendarValue[]
  hours: CalendarValue[]
  minutes: CalendarValue[]
  seconds: CalendarValue[]
}

/** A calendar event Proxmox would refuse. `column` is 1-based. */
export class CalendarEventError extends Error {
  constructor(
    message: string,
    readonly input: string,
    readonly column: number,
  ) {
    super(message)
    this.name = 'CalendarEventError'
  }
}

/** Proxmox's limit on the schedule of a backup job (`maxLength` in the API schema). */
export const CALENDAR_EVENT_MAX_LENGTH = 128

const EXAMPLES = 'use e.g. "daily", "sat 02:00", "mon..fri 22:30", "*-*-* 03:00" or "*/15"'

const WEEKDAY_NAMES: Record<string, number> = {
  mon: 0, monday: 0, tue: 1, tuesday: 1, wed: 2, wednesday: 2, thu: 3, thursday: 3,
  fri: 4, friday: 4, sat: 5, saturday: 5, sun: 6, sunday: 6,
}

const single = (value: number): CalendarValue => ({ type: 'single', value })
const ZERO = [single(0)]

type Fields = Omit<CalendarEvent, 'source' | 'utc'>
const blank = (): Fields => ({ weekdays: [], years: [], months: [], days: [], hours: [], minutes: [], seconds: [] })

/** The special words and what they stand for (pve-docs "Special Values"). */
const SPECIAL: Record<string, () => Fields> = {
  minutely: () => ({ ...blank(), seconds: ZERO }),
  hourly: () => ({ ...blank(), minutes: ZERO, seconds: ZERO }),
  daily: () => ({ ...blank(), hours: ZERO, minutes: ZERO, seconds: ZERO }),
  weekly: () => ({ ...blank(), weekdays: [0], hours: ZERO, minutes: ZERO, seconds: ZERO }),
  monthly: () => ({ ...blank(), days: [single(1)], hours: ZERO, minutes: ZERO, seconds: ZERO }),
  yearly: () => ({ ...blank(), months: [single(1)], days: [single(1)], hours: ZERO, minutes: ZERO, seconds: ZERO }),
  quarterly: () => ({ ...blank(), months: [1, 4, 7, 10].map(single), days: [single(1)], hours: ZERO, minutes: ZERO, seconds: ZERO }),
  semiannually: () => ({ ...blank(), months: [1, 7].map(single), days: [single(1)], hours: ZERO, minutes: ZERO, seconds: ZERO }),
}
SPECIAL.annually = SPECIAL.yearly
SPECIAL['semi-annually'] = SPECIAL.semiannually

interface FieldInfo {
  name: string
  /** Values must be below this. */
  max: number
  /** Where `*∕N` starts. */
  start: number
}
const F_YEAR: FieldInfo = { name: 'year', max: 2200, start: 0 }
const F_MONTH: FieldInfo = { name: 'month', max: 13, start: 1 }
const F_DAY: FieldInfo = { name: 'day', max: 32, start: 1 }
const F_HOUR: FieldInfo = { name: 'hour', max: 24, start: 0 }
const F_MINUTE: FieldInfo = { name: 'minute', max: 60, start: 0 }
const F_SECOND: FieldInfo = { name: 'second', max: 60, start: 0 }

/**
 * Thrown inside the parser to backtrack; carries the position and the problem. A strong failure
 * names a bad value (out of range, unknown weekday) and is reported in preference to the
 * structural ones that backtracking produces on the way.
 */
class Fail {
  constructor(
    readonly pos: number,
    readonly problem: string,
    readonly strong: boolean,
  ) {}
}

/**
 * A recursive-descent parser that accepts exactly what proxmox-time's nom parser accepts,
 * including its backtracking: a time group that is not a valid hour list is re-read as minutes
 * (so `30/10` is minutes 30, 40, 50), and a date that is not `Y-M-D` is re-read as `M-D`.
 * The furthest failure is kept for the error message.
 */
class Parser {
  pos = 0
  /** The failure to report: the first strong one at the furthest position, else the furthest. */
  report: Fail = new Fail(0, 'expected a weekday, a date or a time', false)

  constructor(readonly text: string) {}

  /** Set while reading a group whose role is still a guess (see {@link guess}). */
  weak = false

  fail(pos: number, problem: string, strong = false): never {
    const f = new Fail(pos, problem, strong && !this.weak)
    const r = this.report
    if (strong ? !r.strong || pos > r.pos : !r.strong && pos >= r.pos) this.report = f
    throw f
  }

  /**
   * Reads a number group whose role is only known from what follows it: its bad values are
   * reported only when `follows` (e.g. `-` for a date, `:` for hours) comes after the group.
   */
  guess<T>(follows: string, fn: () => T): T {
    const group = /^[0-9*.,/]*/.exec(this.text.slice(this.pos))![0]
    const saved = this.weak
    this.weak = !this.text.startsWith(follows, this.pos + group.length)
    try {
      return fn()
    } finally {
      this.weak = saved
    }
  }

  /** Runs `fn`; on failure restores the position and returns undefined. */
  attempt<T>(fn: () => T): T | undefined {
    const saved = this.pos
    try {
      return fn()
    } catch (e) {
      if (!(e instanceof Fail)) throw e
      this.pos = saved
      return undefined
    }
  }

  peek(s: string): boolean {
    return this.text.startsWith(s, this.pos)
  }

  eat(s: string): boolean {
    if (!this.peek(s)) return false
    this.pos += s.length
    return true
  }

  spaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++
  }

  number(field: FieldInfo): number {
    const m = /^[0-9]+/.exec(this.text.slice(this.pos))
    if (!m) this.fail(this.pos, `expected a number for the ${field.name}`)
    const value = Number(m[0])
    // proxmox-time parses into a u32 and then bounds it; anything that large is "too large" either way.
    if (!Number.isSafeInteger(value) || value >= field.max) {
      this.fail(this.pos, `${field.name} ${m[0]} is out of range (0-${field.max - 1})`, true)
    }
    this.pos += m[0].length
    return value
  }

  /** `V`, `A..B`, `V/N`, `A..B/N`. */
  item(field: FieldInfo): CalendarValue {
    const startPos = this.pos
    const value = this.number(field)
    if (this.peek('..') && /^[0-9]/.test(this.text.slice(this.pos + 2))) {
      this.pos += 2
      const end = this.number(field)
      if (value > end) this.fail(startPos, `${field.name} range ${value}..${end} runs backwards`, true)
      if (this.eat('/')) return { type: 'repeat', start: value, step: this.number(field), end }
      return { type: 'range', start: value, end }
    }
    if (this.eat('/')) return { type: 'repeat', start: value, step: this.number(field) }
    return single(value)
  }

  /** `*`, `*∕N` (N > 0) or a `,` list of items. */
  list(field: FieldInfo): CalendarValue[] {
    if (this.eat('*')) {
      if (this.eat('/')) {
        const at = this.pos
        const step = this.number(field)
        if (step === 0) this.fail(at, `repetition "*/0" never advances (use a step of at least 1)`, true)
        return [{ type: 'repeat', start: field.start, step }]
      }
      return []
    }
    const out = [this.item(field)]
    while (this.eat(',')) out.push(this.item(field))
    return out
  }

  weekday(): number {
    const m = /^[A-Za-z]+/.exec(this.text.slice(this.pos))
    if (!m) this.fail(this.pos, 'expected a weekday')
    const key = m[0].toLowerCase()
    const day = Object.hasOwn(WEEKDAY_NAMES, key) ? WEEKDAY_NAMES[key] : undefined
    if (day === undefined) this.fail(this.pos, `unknown weekday "${m[0]}" (use mon, tue, wed, thu, fri, sat, sun)`, true)
    this.pos += m[0].length
    return day
  }

  weekdays(): number[] {
    const set = new Set<number>()
    do {
      const start = this.weekday()
      let end = start
      if (this.peek('..') && /^[A-Za-z]/.test(this.text.slice(this.pos + 2))) {
        this.pos += 2
        end = this.weekday()
      }
      // A range may wrap around the week end: `sat..mon` is sat, sun, mon.
      for (let d = start; ; d = (d + 1) % 7) {
        set.add(d)
        if (d === end) break
      }
    } while (this.eat(','))
    return [...set].sort((a, b) => a - b)
  }

  date(): Pick<Fields, 'years' | 'months' | 'days'> {
    const ymd = this.attempt(() => {
      const years = this.guess('-', () => this.list(F_YEAR))
      if (!this.eat('-')) this.fail(this.pos, 'expected "-" in the date')
      const months = this.list(F_MONTH)
      if (!this.eat('-')) this.fail(this.pos, 'expected "-" in the date')
      const days = this.list(F_DAY)
      return { years, months, days }
    })
    if (ymd) return ymd
    const months = this.guess('-', () => this.list(F_MONTH))
    if (!this.eat('-')) this.fail(this.pos, 'expected "-" in the date')
    const days = this.list(F_DAY)
    return { years: [], months, days }
  }

  time(): Pick<Fields, 'hours' | 'minutes' | 'seconds'> {
    const hours = this.attempt(() => {
      const h = this.guess(':', () => this.list(F_HOUR))
      if (!this.eat(':')) this.fail(this.pos, 'expected ":"')
      return h
    })
    const minutes = this.list(F_MINUTE)
    const seconds = this.eat(':') ? this.list(F_SECOND) : ZERO
    return { hours: hours ?? [], minutes, seconds }
  }

  event(): Fields {
    const text = this.text
    if (/^[A-Za-z]/.test(text)) {
      const special = Object.hasOwn(SPECIAL, text) ? SPECIAL[text] : undefined
      if (special) {
        this.pos = text.length
        return special()
      }
    }
    const out = blank()
    let has = false
    if (/^[A-Za-z]/.test(text)) {
      out.weekdays = this.weekdays()
      has = true
      this.spaces()
    }
    const date = this.attempt(() => this.date())
    if (date) {
      Object.assign(out, date)
      has = true
      this.spaces()
    }
    const time = this.attempt(() => this.time())
    if (time) {
      Object.assign(out, time)
      has = true
    } else {
      out.hours = ZERO
      out.minutes = ZERO
      out.seconds = ZERO
    }
    if (!has) this.fail(this.pos, 'expected a weekday, a date or a time')
    if (this.pos < text.length) this.fail(this.pos, `unexpected "${text.slice(this.pos)}"`)
    return out
  }
}

/**
 * Parses a Proxmox calendar event. Accepts exactly the strings Proxmox accepts (see the module
 * comment) and throws a {@link CalendarEventError} naming the column and the problem otherwise.
 */
export function parseCalendarEvent(text: string): CalendarEvent {
  if (typeof text !== 'string' || text === '') {
    throw new CalendarEventError(`invalid calendar event: it is empty; ${EXAMPLES}`, String(text ?? ''), 1)
  }
  if (text.length > CALENDAR_EVENT_MAX_LENGTH) {
    throw new CalendarEventError(
      `invalid calendar event: it is ${text.length} characters long; Proxmox allows at most ${CALENDAR_EVENT_MAX_LENGTH}`,
      text,
      CALENDAR_EVENT_MAX_LENGTH + 1,
    )
  }
  let body = text
  let utc = false
  if (body.endsWith('UTC')) {
    utc = true
    body = body.slice(0, -3).replace(/ +$/, '')
  }
  const p = new Parser(body)
  try {
    return { source: text, utc, ...p.event() }
  } catch (e) {
    if (!(e instanceof Fail)) throw e
    const f = p.report
    const column = f.pos + 1
    throw new CalendarEventError(`invalid calendar event "${text}": ${f.problem} at column ${column}; ${EXAMPLES}`, text, column)
  }
}

/** Explains why `v` is not a calendar event Proxmox accepts, or undefined when it is one. */
export function checkCalendarEvent(v: unknown): string | undefined {
  if (typeof v !== 'string') return `invalid calendar event: expected a string; ${EXAMPLES}`
  try {
    parseCalendarEvent(v)
    return undefined
  } catch (e) {
    if (e instanceof CalendarEventError) return e.message
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

export interface OccurrenceOptions {
  /**
   * IANA time zone the node runs in (pvescheduler evaluates in the node's local time). Ignored
   * when the event ends in `UTC`.
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
      years: table(ev.years, F_YEAR.max),
      months: table(ev.months, F_MONTH.max),
      days: table(ev.days, F_DAY.max),
      hours: table(ev.hours, F_HOUR.max),
      minutes: table(ev.minutes, F_MINUTE.max),
      seconds: table(ev.seconds, F_SECOND.max),
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

// Civil (wall-clock) times are handled as seconds on a naive UTC time line.
interface Civil {
  y: number
  mo: number
  d: number
  h: number
  mi: number
  s: number
}

/** Seconds for a wall-clock time; out-of-range fields roll over (day 0 = last day of the previous month). */
function civilSec(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d) // setUTCFullYear keeps years 0-99 literal, unlike Date.UTC
  date.setUTCHours(h, mi, s, 0)
  return date.getTime() / 1000
}

function civilFields(sec: number): Civil {
  const d = new Date(sec * 1000)
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
}

const daysInMonth = (y: number, mo: number): number => new Date(civilSec(y, mo + 1, 0, 0, 0, 0) * 1000).getUTCDate()
/** 0 = Monday … 6 = Sunday. */
const weekdayOf = (y: number, mo: number, d: number): number => (new Date(civilSec(y, mo, d, 0, 0, 0) * 1000).getUTCDay() + 6) % 7

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

// ---------------------------------------------------------------------------------------------
// Time zones (Intl, built into Node)
// ---------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
    } catch {
      throw new RangeError(`unknown time zone "${timeZone}"; use an IANA name such as "Europe/Berlin" or "UTC"`)
    }
    formatters.set(timeZone, f)
  }
  return f
}

/** Checks a time zone name; returns a problem sentence or undefined. */
export function checkTimeZone(timeZone: unknown): string | undefined {
  if (typeof timeZone !== 'string' || timeZone === '') return 'time zone must be a non-empty IANA name such as "Europe/Berlin" or "UTC"'
  try {
    formatter(timeZone)
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

/** UTC offset (seconds east) of `timeZone` at the instant `sec`. */
function offsetAt(timeZone: string, sec: number): number {
  const parts: Record<string, string> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(sec * 1000))) parts[p.type] = p.value
  let y = Number(parts.year)
  if (parts.era === 'BC' || parts.era === 'B') y = 1 - y
  return civilSec(y, Number(parts.month), Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) - sec
}

const DAY = 86_400

/**
 * The first second in (a, b] whose offset differs from `off`, or undefined.
 * WARNING: probes once a day, so two transitions less than a day apart that cancel each other out
 * are not seen; no current zone has them.
 */
function firstChange(tz: string, a: number, b: number, off: number): number | undefined {
  let lo = a
  let hi: number
  for (let x = a + DAY; ; x += DAY) {
    const probe = Math.min(x, b)
    if (offsetAt(tz, probe) !== off) {
      hi = probe
      break
    }
    lo = probe
    if (probe >= b) return undefined
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(tz, mid) === off) lo = mid
    else hi = mid
  }
  return hi
}

/** The first second of the constant-offset stretch that ends at `b`, if it starts after `a`; else undefined. */
function stretchStart(tz: string, a: number, b: number, off: number): number | undefined {
  let hi = b
  let lo: number
  for (let x = b - DAY; ; x -= DAY) {
    const probe = Math.max(x, a)
    if (offsetAt(tz, probe) !== off) {
      lo = probe
      break
    }
    hi = probe
    if (probe <= a) return undefined
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(tz, mid) === off) hi = mid
    else lo = mid
  }
  return hi
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
  const tz = opts.timeZone ?? 'UTC'
  const c = compile(ev)
  let t = Math.floor(after.getTime() / 1000) + 1
  if (isUtc(ev, tz)) {
    const hit = searchForward(c, t)
    return hit === undefined ? undefined : new Date(hit * 1000)
  }
  formatter(tz)
  for (let guard = 0; guard < 2 * SEARCH_YEARS * 4; guard++) {
    const off = offsetAt(tz, t)
    const civil = searchForward(c, t + off)
    if (civil === undefined) return undefined
    const hit = civil - off
    const change = firstChange(tz, t, hit, off)
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
  const tz = opts.timeZone ?? 'UTC'
  const c = compile(ev)
  let t = Math.floor(atOrBefore.getTime() / 1000)
  if (isUtc(ev, tz)) {
    const hit = searchBackward(c, t)
    return hit === undefined ? undefined : new Date(hit * 1000)
  }
  formatter(tz)
  for (let guard = 0; guard < 2 * SEARCH_YEARS * 4; guard++) {
    const off = offsetAt(tz, t)
    const civil = searchBackward(c, t + off)
    if (civil === undefined) return undefined
    const hit = civil - off
    const start = stretchStart(tz, hit, t, off)
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
 * The instant a wall-clock time in `timeZone` names, as the node's `timelocal` reads vzdump file
 * names. A time that exists twice (clocks going back) gives the earlier instant; a time that does
 * not exist (clocks going forward) is read with the offset in force before the gap, so it lands
 * inside the hour after. Throws RangeError for an unknown zone.
 */
export function wallClockToDate(
  wall: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  timeZone = 'UTC',
): Date {
  const civil = civilSec(wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second)
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return new Date(civil * 1000)
  formatter(timeZone)
  // Offsets in force a day either side cover every candidate; keep those that map back exactly.
  const offsets = [...new Set([offsetAt(timeZone, civil - DAY), offsetAt(timeZone, civil), offsetAt(timeZone, civil + DAY)])]
  const exact = offsets.map((o) => civil - o).filter((t) => t + offsetAt(timeZone, t) === civil)
  if (exact.length > 0) return new Date(Math.min(...exact) * 1000)
  return new Date((civil - offsetAt(timeZone, civil - DAY)) * 1000)
}

/**
 * True when the event fires at `at` (whole seconds; milliseconds are ignored): the wall clock of
 * `at` in the zone matches every field. The plain definition that nextOccurrence and
 * previousOccurrence compute efficiently.
 */
export function matchesCalendarEvent(event: CalendarEvent | string, at: Date, opts: OccurrenceOptions = {}): boolean {
  const ev = toEvent(event)
  const tz = opts.timeZone ?? 'UTC'
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
