import { describe, expect, it } from 'vitest'
import { CalendarEventError, checkCalendarEvent, parseCalendarEvent } from '../../src/model/calendar.js'
import { checkBackupSchedule, matchesCalendarEvent, nextOccurrence, previousOccurrence } from '../../src/model/calendar-occurrence.js'
import { checkTimeZone } from '../../src/model/time-zone.js'

/** Monday 2026-11-30 10:17:00 UTC: the clock every case starts from unless it says otherwise. */
const MONDAY = new Date('2026-11-30T10:17:00Z')

/** The next `n` occurrences after `from`, as ISO strings. */
function upcoming(schedule: string, from: Date, n: number, timeZone?: string): string[] {
  const out: string[] = []
  let t = from
  for (let i = 0; i < n; i++) {
    const next = nextOccurrence(schedule, t, { timeZone })
    if (!next) break
    out.push(next.toISOString())
    t = next
  }
  return out
}

const iso = (s: string): string => new Date(s).toISOString()

describe('documented examples (pve-docs "Schedule Examples"): each string and its alternative fire at the same instants', () => {
  const cases: { name: string; reason: string; given: string; alt: string }[] = [
    { name: 'workdays list vs range', reason: 'the docs introduce `mon..fri` as the short form of the five-day list', given: 'mon,tue,wed,thu,fri', alt: 'mon..fri' },
    { name: 'weekend list vs range', reason: 'a two-day range must cover both ends', given: 'sat,sun', alt: 'sat..sun' },
    { name: 'every five minutes', reason: '`*/5` starts at the field minimum, so it equals `0/5`', given: '*/5', alt: '0/5' },
    { name: 'minutes after every hour on mon..wed', reason: 'a single group without ":" is minutes, and a day range equals its list', given: 'mon..wed 30/10', alt: 'mon,tue,wed 30/10' },
    { name: 'hour range vs hour list', reason: '`12..13` is both hours, each with minutes 5/20', given: 'fri 12..13:5/20', alt: 'fri 12,13:5/20' },
    { name: 'hour list vs hour repetition', reason: '`12/2` repeats every 2 hours up to the field maximum (22)', given: '12,14,16,18,20,22:5', alt: '12/2:5' },
    { name: 'every minute', reason: '`*` alone is the minute field with every value; seconds default to 0', given: '*', alt: '*/1' },
    { name: 'same time every day', reason: 'a time alone means every day; `*-*-*` is the explicit any-date', given: '12:05', alt: '*-*-* 12:05' },
  ]
  for (const c of cases) {
    it(`${c.name}: "${c.given}" == "${c.alt}"`, () => {
      const a = upcoming(c.given, MONDAY, 40)
      expect(a.length, c.reason).toBe(40)
      expect(a, c.reason).toEqual(upcoming(c.alt, MONDAY, 40))
    })
  }
})

describe('documented meanings: the next occurrences are the ones the docs describe', () => {
  const cases: { name: string; reason: string; given: string; from?: Date; want: string[] }[] = [
    {
      name: 'mon,tue,wed,thu,fri',
      reason: '"every working day at 0:00": the weekday part alone implies 00:00:00',
      given: 'mon,tue,wed,thu,fri',
      want: ['2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z', '2026-12-04T00:00:00Z', '2026-12-07T00:00:00Z'],
    },
    { name: 'sat,sun', reason: '"only on weekends at 0:00"', given: 'sat,sun', want: ['2026-12-05T00:00:00Z', '2026-12-06T00:00:00Z', '2026-12-12T00:00:00Z'] },
    { name: 'mon,wed,fri', reason: 'a list of single days, no range', given: 'mon,wed,fri', want: ['2026-12-02T00:00:00Z', '2026-12-04T00:00:00Z', '2026-12-07T00:00:00Z'] },
    { name: '12:05', reason: '"every day at 12:05 PM"; today is still ahead at 10:17', given: '12:05', want: ['2026-11-30T12:05:00Z', '2026-12-01T12:05:00Z'] },
    { name: '*/5', reason: '"every five minutes", aligned to the hour', given: '*/5', want: ['2026-11-30T10:20:00Z', '2026-11-30T10:25:00Z', '2026-11-30T10:30:00Z'] },
    {
      name: 'mon..wed 30/10',
      reason: '"30, 40 and 50 minutes after every full hour"',
      given: 'mon..wed 30/10',
      want: ['2026-11-30T10:30:00Z', '2026-11-30T10:40:00Z', '2026-11-30T10:50:00Z', '2026-11-30T11:30:00Z'],
    },
    {
      name: 'mon..fri 8..17,22:0/15',
      reason: '"every 15 minutes between 8 AM and 6 PM and between 10 PM and 11 PM": 17:45 is the last before 22:00',
      given: 'mon..fri 8..17,22:0/15',
      from: new Date('2026-11-30T17:31:00Z'),
      want: ['2026-11-30T17:45:00Z', '2026-11-30T22:00:00Z', '2026-11-30T22:15:00Z', '2026-11-30T22:30:00Z', '2026-11-30T22:45:00Z', '2026-12-01T08:00:00Z'],
    },
    {
      name: 'fri 12..13:5/20',
      reason: '"Friday at 12:05, 12:25, 12:45, 13:05, 13:25 and 13:45", then next Friday',
      given: 'fri 12..13:5/20',
      want: ['2026-12-04T12:05:00Z', '2026-12-04T12:25:00Z', '2026-12-04T12:45:00Z', '2026-12-04T13:05:00Z', '2026-12-04T13:25:00Z', '2026-12-04T13:45:00Z', '2026-12-11T12:05:00Z'],
    },
    {
      name: '12,14,16,18,20,22:5',
      reason: '"every day starting at 12:05 until 22:05, every 2 hours"',
      given: '12,14,16,18,20,22:5',
      want: ['2026-11-30T12:05:00Z', '2026-11-30T14:05:00Z', '2026-11-30T16:05:00Z', '2026-11-30T18:05:00Z', '2026-11-30T20:05:00Z', '2026-11-30T22:05:00Z', '2026-12-01T12:05:00Z'],
    },
    { name: '*', reason: '"every minute (minimum interval)"', given: '*', want: ['2026-11-30T10:18:00Z', '2026-11-30T10:19:00Z'] },
    { name: '*-05', reason: '"on the 5th day of every month" at midnight', given: '*-05', want: ['2026-12-05T00:00:00Z', '2027-01-05T00:00:00Z', '2027-02-05T00:00:00Z'] },
    {
      name: 'Sat *-1..7 15:00',
      reason: '"first Saturday each month at 15:00": weekday and day-of-month must both match; weekday names are case-insensitive',
      given: 'Sat *-1..7 15:00',
      want: ['2026-12-05T15:00:00Z', '2027-01-02T15:00:00Z', '2027-02-06T15:00:00Z'],
    },
    { name: '2015-10-21', reason: '"21st October 2015 at 00:00": a full date fires once', given: '2015-10-21', from: new Date('2015-01-01T00:00:00Z'), want: ['2015-10-21T00:00:00Z'] },
    { name: '8:00/15', reason: 'the docs\' first repetition example: 8 AM every 15 minutes until 9 AM', given: '8:00/15', from: new Date('2026-11-30T07:00:00Z'), want: ['2026-11-30T08:00:00Z', '2026-11-30T08:15:00Z', '2026-11-30T08:30:00Z', '2026-11-30T08:45:00Z', '2026-12-01T08:00:00Z'] },
    { name: 'mon..fri 22', reason: 'the intro example "every workday at 10 PM" written as `22` is minute 22, exactly as Proxmox reads it', given: 'mon..fri 22', want: ['2026-11-30T10:22:00Z', '2026-11-30T11:22:00Z'] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(upcoming(c.given, c.from ?? MONDAY, c.want.length)).toEqual(c.want.map(iso))
    })
  }

  it('a full date in the past never fires again', () => {
    expect(nextOccurrence('2015-10-21', MONDAY)).toBeUndefined()
  })
})

describe('schedules a backup policy uses (DESIGN §2, issue 11)', () => {
  const cases: { name: string; reason: string; given: string; want: string[] }[] = [
    { name: 'sat 02:00', reason: 'the weekly full backup: Saturday 02:00, once a week', given: 'sat 02:00', want: ['2026-12-05T02:00:00Z', '2026-12-12T02:00:00Z'] },
    { name: '*-*-* 03:00', reason: 'the nightly backup with an explicit any-date', given: '*-*-* 03:00', want: ['2026-12-01T03:00:00Z', '2026-12-02T03:00:00Z'] },
    { name: 'mon..fri 22:30', reason: 'evening backups on workdays skip the weekend', given: 'mon..fri 22:30', want: ['2026-11-30T22:30:00Z', '2026-12-01T22:30:00Z', '2026-12-02T22:30:00Z', '2026-12-03T22:30:00Z', '2026-12-04T22:30:00Z', '2026-12-07T22:30:00Z'] },
    { name: '*/15', reason: 'a quarter-hourly job aligns to :00/:15/:30/:45', given: '*/15', want: ['2026-11-30T10:30:00Z', '2026-11-30T10:45:00Z', '2026-11-30T11:00:00Z'] },
    { name: '*/2:0', reason: 'every two hours on even hours: `*/N` in the hour field starts at 0', given: '*/2:0', want: ['2026-11-30T12:00:00Z', '2026-11-30T14:00:00Z'] },
    { name: '0/2 (minutes)', reason: 'a bare repetition is minutes, starting at 0', given: '0/2', want: ['2026-11-30T10:18:00Z', '2026-11-30T10:20:00Z'] },
    { name: '8..17/2:00', reason: 'a range with a step stops at its end: 8, 10, 12, 14, 16 (not 18)', given: '8..17/2:00', want: ['2026-11-30T12:00:00Z', '2026-11-30T14:00:00Z', '2026-11-30T16:00:00Z', '2026-12-01T08:00:00Z'] },
    { name: '2026-12-24', reason: 'a one-off date at midnight (e.g. before a migration)', given: '2026-12-24', want: ['2026-12-24T00:00:00Z'] },
    { name: 'sat..mon 04:00', reason: 'a weekday range wraps over the week end (sat, sun, mon)', given: 'sat..mon 04:00', want: ['2026-12-05T04:00:00Z', '2026-12-06T04:00:00Z', '2026-12-07T04:00:00Z', '2026-12-12T04:00:00Z'] },
    { name: 'monday 01:00', reason: 'full weekday names are accepted', given: 'monday 01:00', want: ['2026-12-07T01:00:00Z'] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(upcoming(c.given, MONDAY, c.want.length)).toEqual(c.want.map(iso))
    })
  }
})

describe('special words equal the expansions the docs give', () => {
  const cases: { word: string; reason: string; expansion: string }[] = [
    { word: 'minutely', reason: 'every minute at second 0', expansion: '*-*-* *:*:00' },
    { word: 'hourly', reason: 'every full hour', expansion: '*-*-* *:00:00' },
    { word: 'daily', reason: 'midnight every day', expansion: '*-*-* 00:00:00' },
    { word: 'weekly', reason: 'Monday midnight', expansion: 'mon *-*-* 00:00:00' },
    { word: 'monthly', reason: 'the 1st at midnight', expansion: '*-*-01 00:00:00' },
    { word: 'yearly', reason: 'January 1st at midnight', expansion: '*-01-01 00:00:00' },
    { word: 'annually', reason: 'a synonym of yearly', expansion: '*-01-01 00:00:00' },
    { word: 'quarterly', reason: 'the first day of each quarter', expansion: '*-01,04,07,10-01 00:00:00' },
    { word: 'semiannually', reason: 'January and July 1st', expansion: '*-01,07-01 00:00:00' },
    { word: 'semi-annually', reason: 'the hyphenated spelling is accepted too', expansion: '*-01,07-01 00:00:00' },
  ]
  for (const c of cases) {
    it(`${c.word} == "${c.expansion}" (${c.reason})`, () => {
      const n = c.word === 'minutely' || c.word === 'hourly' ? 30 : 6
      const a = upcoming(c.word, MONDAY, n)
      expect(a.length).toBe(n)
      expect(a).toEqual(upcoming(c.expansion, MONDAY, n))
    })
  }
})

describe('proxmox-time reference vectors (epoch 0 is Thursday 1970-01-01 00:00 UTC)', () => {
  const MIN = 60
  const HOUR = 3600
  const DAY = 86400
  const JUL_31_2020 = 1596153600
  const DEC_31_2020 = 1609372800
  const cases: { given: string; from: number; want: number; reason: string }[] = [
    { given: '0', from: 0, want: HOUR, reason: 'a bare number is the minute; strictly after the start' },
    { given: '*', from: 0, want: MIN, reason: 'every minute' },
    { given: '*:0', from: 0, want: HOUR, reason: 'every hour at :00' },
    { given: '*:*:*', from: 0, want: 1, reason: 'seconds are allowed and every second fires' },
    { given: '*:3:5', from: 0, want: 3 * MIN + 5, reason: 'H:M:S with explicit seconds' },
    { given: 'mon *:*', from: 0, want: 4 * DAY, reason: 'next Monday from a Thursday' },
    { given: 'mon 2:50', from: 0, want: 4 * DAY + 2 * HOUR + 50 * MIN, reason: 'weekday with a time' },
    { given: 'thu', from: 0, want: 7 * DAY, reason: 'the same weekday at the start instant is next week (strictly after)' },
    { given: 'fri', from: 0, want: DAY, reason: 'tomorrow' },
    { given: '4..10/2:0', from: 5 * HOUR, want: 6 * HOUR, reason: 'a stepped range continues from its start, not from now' },
    { given: '4..10/2:0', from: 11 * HOUR, want: DAY + 4 * HOUR, reason: 'past the range end it wraps to the next day' },
    { given: '10,5:8,4', from: 0, want: 5 * HOUR + 4 * MIN, reason: 'list order does not matter' },
    { given: '4..10,6:5/5,23', from: 0, want: 4 * HOUR + 5 * MIN, reason: 'mixed ranges, lists and repetitions' },
    { given: 'sat', from: JUL_31_2020, want: JUL_31_2020 + DAY, reason: 'month wrap' },
    { given: 'thu', from: DEC_31_2020, want: DEC_31_2020 + 7 * DAY, reason: 'year wrap' },
    { given: 'daily', from: 1, want: DAY, reason: 'daily is midnight' },
    { given: '2020-07-31', from: 0, want: JUL_31_2020, reason: 'a full date far ahead' },
    { given: '02-29', from: 0, want: 2 * 365 * DAY + (31 + 28) * DAY, reason: 'Feb 29 waits for a leap year (1972)' },
    { given: '1965/5-01-01', from: -1, want: 0, reason: 'year repetitions: 1965, 1970, …' },
    { given: '2020-7..9-2/2', from: JUL_31_2020, want: JUL_31_2020 + 2 * DAY, reason: 'repeated days within a month range' },
    { given: '2020,2021-12-31', from: JUL_31_2020, want: DEC_31_2020, reason: 'a year list' },
    { given: 'monthly', from: 0, want: 31 * DAY, reason: 'monthly' },
    { given: 'quarterly', from: 0, want: (31 + 28 + 31) * DAY, reason: 'quarterly' },
    { given: 'semiannually', from: 0, want: (31 + 28 + 31 + 30 + 31 + 30) * DAY, reason: 'semiannually' },
    { given: 'yearly', from: 0, want: 365 * DAY, reason: 'yearly' },
  ]
  for (const c of cases) {
    it(`"${c.given}" after ${c.from}: ${c.reason}`, () => {
      expect(nextOccurrence(c.given, new Date(c.from * 1000))?.getTime()).toBe(c.want * 1000)
    })
  }

  it('dates that cannot exist never fire (2021-02-29, 02-30)', () => {
    expect(nextOccurrence('2021-02-29', new Date(0))).toBeUndefined()
    expect(nextOccurrence('02-30', new Date(0))).toBeUndefined()
    expect(previousOccurrence('02-30', new Date(0))).toBeUndefined()
  })

  it('successive calls walk the schedule without skipping or repeating', () => {
    expect(upcoming('5/2:0', new Date(0), 4)).toEqual([5, 7, 9, 11].map((h) => new Date(h * HOUR * 1000).toISOString()))
    expect(upcoming('1:0', new Date(15 * HOUR * 1000), 99)).toEqual(Array.from({ length: 99 }, (_, i) => new Date(((i + 1) * DAY + HOUR) * 1000).toISOString()))
  })
})

describe('previousOccurrence: the last time the job should have started', () => {
  const cases: { name: string; reason: string; given: string; at: string; want: string | undefined }[] = [
    { name: 'nightly, after today\'s run', reason: 'at 10:17 the 03:00 run of today is the expected one', given: '*-*-* 03:00', at: '2026-11-30T10:17:00Z', want: '2026-11-30T03:00:00Z' },
    { name: 'nightly, before today\'s run', reason: 'at 02:59 the expected run is yesterday\'s', given: '*-*-* 03:00', at: '2026-11-30T02:59:59Z', want: '2026-11-29T03:00:00Z' },
    { name: 'exactly at the run', reason: 'previous is "at or before": previous(t) <= t < next(t)', given: '*-*-* 03:00', at: '2026-11-30T03:00:00Z', want: '2026-11-30T03:00:00Z' },
    { name: 'weekly on a Monday', reason: 'sat 02:00 looked at on Monday is two days back', given: 'sat 02:00', at: '2026-11-30T10:17:00Z', want: '2026-11-28T02:00:00Z' },
    { name: 'workdays across a weekend', reason: 'on Monday morning the last workday run is Friday', given: 'mon..fri 22:30', at: '2026-11-30T10:17:00Z', want: '2026-11-27T22:30:00Z' },
    { name: 'quarter-hourly', reason: 'the last quarter hour', given: '*/15', at: '2026-11-30T10:17:00Z', want: '2026-11-30T10:15:00Z' },
    { name: 'first Saturday of the month', reason: 'backward search across a month boundary', given: 'Sat *-1..7 15:00', at: '2026-11-30T10:17:00Z', want: '2026-11-07T15:00:00Z' },
    { name: 'leap day', reason: 'backward search skips non-leap years', given: '02-29 12:00', at: '2026-11-30T10:17:00Z', want: '2024-02-29T12:00:00Z' },
    { name: 'future one-off date', reason: 'a date that has not come yet has no previous run', given: '2027-01-01', at: '2026-11-30T10:17:00Z', want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(previousOccurrence(c.given, new Date(c.at))?.toISOString()).toBe(c.want === undefined ? undefined : iso(c.want))
    })
  }

  it('agrees with nextOccurrence around many instants', () => {
    for (const schedule of ['mon..fri 22:30', '*/15', 'sat 02:00', '12/2:5', 'Sat *-1..7 15:00']) {
      for (let i = 0; i < 20; i++) {
        const at = new Date(MONDAY.getTime() + i * 37_813_000)
        const prev = previousOccurrence(schedule, at)!
        const next = nextOccurrence(schedule, at)!
        expect(prev.getTime()).toBeLessThanOrEqual(at.getTime())
        expect(next.getTime()).toBeGreaterThan(at.getTime())
        // prev is the latest run at or before `at`, so the run after it is `next`
        expect(nextOccurrence(schedule, prev)!.getTime()).toBe(next.getTime())
      }
    }
  })
})

describe('time zones: Proxmox evaluates in the node\'s local time', () => {
  it('a nightly 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer', () => {
    expect(nextOccurrence('*-*-* 03:00', MONDAY, { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-12-01T02:00:00.000Z')
    expect(nextOccurrence('*-*-* 03:00', new Date('2026-07-01T12:00:00Z'), { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-07-02T01:00:00.000Z')
  })

  it('the weekday is the local one: sat 00:30 in Auckland is Friday in UTC', () => {
    expect(nextOccurrence('sat 00:30', MONDAY, { timeZone: 'Pacific/Auckland' })?.toISOString()).toBe('2026-12-04T11:30:00.000Z')
  })

  it('a wall-clock time skipped when clocks go forward does not fire that day (02:30 on 2026-03-29 in Berlin)', () => {
    const from = new Date('2026-03-28T12:00:00Z')
    expect(upcoming('02:30', from, 2, 'Europe/Berlin')).toEqual(['2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z'])
    expect(previousOccurrence('02:30', new Date('2026-03-29T12:00:00Z'), { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-03-28T01:30:00.000Z')
  })

  it('a wall-clock time that exists twice when clocks go back fires at both instants (02:30 on 2026-10-25 in Berlin)', () => {
    const from = new Date('2026-10-24T12:00:00Z')
    expect(upcoming('02:30', from, 3, 'Europe/Berlin')).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-26T01:30:00.000Z'])
    expect(previousOccurrence('02:30', new Date('2026-10-25T01:45:00Z'), { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-10-25T01:30:00.000Z')
    expect(previousOccurrence('02:30', new Date('2026-10-25T01:29:59Z'), { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-10-25T00:30:00.000Z')
  })

  it('hourly across the fall-back hour in New York fires every real hour', () => {
    // 2026-11-01 02:00 EDT -> 01:00 EST: 01:00 local happens twice
    expect(upcoming('hourly', new Date('2026-11-01T04:30:00Z'), 4, 'America/New_York')).toEqual([
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T08:00:00.000Z',
    ])
  })

  it('a trailing UTC evaluates in UTC whatever zone the node has', () => {
    expect(nextOccurrence('*-*-* 03:00 UTC', MONDAY, { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-12-01T03:00:00.000Z')
    expect(parseCalendarEvent('daily UTC').utc).toBe(true)
  })

  it('a yearly schedule crosses several transitions in a local zone', () => {
    expect(nextOccurrence('yearly', MONDAY, { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2026-12-31T23:00:00.000Z')
    expect(previousOccurrence('yearly', MONDAY, { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2025-12-31T23:00:00.000Z')
    expect(nextOccurrence('*-07-01 12:00', MONDAY, { timeZone: 'Europe/Berlin' })?.toISOString()).toBe('2027-07-01T10:00:00.000Z')
  })

  it('"local" is the zone this process runs in', () => {
    const here = new Intl.DateTimeFormat().resolvedOptions().timeZone
    for (const schedule of ['*-*-* 03:00', 'sat 02:00']) {
      expect(nextOccurrence(schedule, MONDAY, { timeZone: 'local' })).toEqual(nextOccurrence(schedule, MONDAY, { timeZone: here }))
      expect(previousOccurrence(schedule, MONDAY, { timeZone: 'local' })).toEqual(previousOccurrence(schedule, MONDAY, { timeZone: here }))
    }
  })

  it('an unknown zone is refused with a clear message', () => {
    expect(() => nextOccurrence('daily', MONDAY, { timeZone: 'Mars/Olympus' })).toThrow(/unknown time zone "Mars\/Olympus"/)
    expect(checkTimeZone('Europe/Berlin')).toBeUndefined()
    expect(checkTimeZone('local')).toBeUndefined()
    expect(checkTimeZone('Nowhere/Else')).toMatch(/unknown time zone/)
  })
})

describe('parse: accepted forms and their fields', () => {
  it('records weekdays Monday-first, lists and repetitions as written', () => {
    const ev = parseCalendarEvent('mon..wed,sun 8..17/2,22:0/15')
    expect(ev.weekdays).toEqual([0, 1, 2, 6])
    expect(ev.hours).toEqual([{ type: 'repeat', start: 8, step: 2, end: 17 }, { type: 'single', value: 22 }])
    expect(ev.minutes).toEqual([{ type: 'repeat', start: 0, step: 15 }])
    expect(ev.seconds).toEqual([{ type: 'single', value: 0 }])
  })

  const accepted: { given: string; reason: string }[] = [
    { given: 'MON', reason: 'weekday names are case-insensitive' },
    { given: 'Tuesday 3:00', reason: 'full names with any case' },
    { given: 'mon03:00', reason: 'Proxmox allows no space between the weekday and the time' },
    { given: '25:00', reason: 'not an hour list, so Proxmox re-reads it as minute 25 second 0; we accept what Proxmox accepts' },
    { given: '*-*-*03:00', reason: 'no space needed between date and time' },
    { given: '1..5', reason: 'a minute range' },
    { given: '*:*:0/10', reason: 'seconds repetition' },
    { given: '00-00', reason: 'month/day 0 parse (never fire), as in Proxmox' },
  ]
  for (const c of accepted) {
    it(`accepts "${c.given}": ${c.reason}`, () => {
      expect(checkCalendarEvent(c.given)).toBeUndefined()
    })
  }
})

describe('parse: invalid strings are refused with a located, actionable message', () => {
  const cases: { given: string; reason: string; want: RegExp; column?: number }[] = [
    { given: '', reason: 'an empty schedule would never run', want: /it is empty/ },
    { given: 'mon..fxi 03:00', reason: 'a typo in a weekday names the word', want: /unknown weekday "fxi"/, column: 6 },
    { given: 'Daily', reason: 'special words are lower case only; "Daily" is read as a weekday', want: /unknown weekday "Daily"/, column: 1 },
    { given: 'daily ', reason: 'Proxmox does not trim: a trailing blank is an error', want: /unknown weekday "daily"/ },
    { given: ' 03:00', reason: 'a leading blank is an error', want: /expected a weekday, a date or a time/, column: 1 },
    { given: '03:00 ', reason: 'a trailing blank after a time is an error', want: /unexpected " "/, column: 6 },
    { given: '12:60', reason: 'minutes stop at 59', want: /minute 60 is out of range \(0-59\)/, column: 4 },
    { given: '*-13-01', reason: 'months stop at 12', want: /out of range/ },
    { given: '2200-01-01', reason: 'years stop at 2199 (systemd\'s limit)', want: /out of range/ },
    { given: '*/0', reason: 'a zero step would never advance', want: /repetition "\*\/0" never advances/ },
    { given: '17..8:00', reason: 'a backwards range', want: /runs backwards/ },
    { given: 'mon,', reason: 'a dangling comma', want: /expected a weekday/ },
    { given: 'every day', reason: 'English is not a schedule', want: /unknown weekday "every"/ },
    { given: 'toString', reason: 'names of built-in object properties are neither special words nor weekdays', want: /unknown weekday "toString"/ },
    { given: 'constructor 03:00', reason: 'same, before a time', want: /unknown weekday "constructor"/ },
    { given: '0 3 * * *', reason: 'cron syntax is not a Proxmox calendar event', want: /unexpected/ },
    { given: '03:00 Europe/Berlin', reason: 'a zone name is not part of the format (only UTC)', want: /unexpected/ },
    { given: `${'1,'.repeat(64)}1`, reason: 'Proxmox limits the schedule to 128 characters', want: /at most 128/ },
  ]
  for (const c of cases) {
    it(`refuses ${JSON.stringify(c.given)}: ${c.reason}`, () => {
      let err: unknown
      try {
        parseCalendarEvent(c.given)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(CalendarEventError)
      const e = err as CalendarEventError
      expect(e.message).toMatch(c.want)
      expect(e.message).toMatch(/invalid calendar event/)
      if (c.column !== undefined) expect(e.column).toBe(c.column)
      expect(checkCalendarEvent(c.given)).toBe(e.message)
      expect(() => nextOccurrence(c.given, MONDAY)).toThrow(CalendarEventError)
    })
  }

  it('a non-string is refused by checkCalendarEvent', () => {
    expect(checkCalendarEvent(3)).toMatch(/expected a string/)
  })
})

describe('checkBackupSchedule: what the loader accepts for BackupPolicy.schedule', () => {
  const cases: { given: unknown; reason: string; want: RegExp | undefined }[] = [
    { given: 'sat 02:00', reason: 'a normal weekly schedule', want: undefined },
    { given: '2015-10-21', reason: 'a past one-off date is still a schedule Proxmox keeps; the check must not depend on the clock', want: undefined },
    { given: '02-30', reason: 'Proxmox accepts it, but no February has a 30th: the job would never run', want: /never fires/ },
    { given: '00-00', reason: 'month 0 and day 0 parse in Proxmox but never match', want: /never fires/ },
    { given: 'mon..fxi', reason: 'syntax errors are reported as by checkCalendarEvent', want: /unknown weekday "fxi"/ },
    { given: undefined, reason: 'a missing schedule is not a string', want: /expected a string/ },
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.given)}: ${c.reason}`, () => {
      const got = checkBackupSchedule(c.given)
      if (c.want === undefined) expect(got).toBeUndefined()
      else expect(got).toMatch(c.want)
    })
  }
})

describe('next/previous agree with a brute-force scan of every minute (DST weeks included)', () => {
  const schedules = ['*/15', '02:30', '1..3:0/20', 'sun 01,02,03:00', 'sat..mon 0/7:30']
  const windows: { tz: string; from: string; reason: string }[] = [
    { tz: 'Europe/Berlin', from: '2026-03-28T00:00:00Z', reason: 'clocks go forward on Sunday 2026-03-29 02:00' },
    { tz: 'Europe/Berlin', from: '2026-10-24T00:00:00Z', reason: 'clocks go back on Sunday 2026-10-25 03:00' },
    { tz: 'America/New_York', from: '2026-10-31T06:00:00Z', reason: 'clocks go back on Sunday 2026-11-01 02:00' },
  ]
  for (const w of windows) {
    it(`${w.tz} from ${w.from}: ${w.reason}`, () => {
      const start = Date.parse(w.from)
      const end = start + 2 * 86_400_000
      for (const schedule of schedules) {
        const hits: number[] = []
        for (let t = start; t <= end; t += 60_000) if (matchesCalendarEvent(schedule, new Date(t), { timeZone: w.tz })) hits.push(t)
        expect(hits.length, schedule).toBeGreaterThan(0)
        // next(): walking from the start must visit exactly the brute-force hits
        const walked: number[] = []
        let t = new Date(start - 1000)
        for (;;) {
          const n = nextOccurrence(schedule, t, { timeZone: w.tz })
          if (!n || n.getTime() > end) break
          walked.push(n.getTime())
          t = n
        }
        expect(walked.map((x) => new Date(x).toISOString()), `${schedule} in ${w.tz}`).toEqual(hits.map((x) => new Date(x).toISOString()))
        // previous(): from each hit + 59 s back to that hit, and from a hit - 1 s to the one before
        for (let i = 1; i < hits.length; i += Math.max(1, Math.floor(hits.length / 25))) {
          expect(previousOccurrence(schedule, new Date(hits[i]! + 59_000), { timeZone: w.tz })?.getTime(), schedule).toBe(hits[i])
          expect(previousOccurrence(schedule, new Date(hits[i]! - 1000), { timeZone: w.tz })?.getTime(), schedule).toBe(hits[i - 1])
        }
      }
    })
  }
})
