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
 * Evaluation (next/previous occurrence in a zone) is in calendar-occurrence.ts.
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
/** Each number field's values must be below these (as in proxmox-time). */
export const CALENDAR_FIELD_LIMITS = { year: 2200, month: 13, day: 32, hour: 24, minute: 60, second: 60 } as const

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
