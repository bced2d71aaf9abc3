/**
 * Wall-clock arithmetic and IANA time zones through the built-in Intl API (no library: Node ships
 * the zone database). Pure: no I/O, no clock. Wall-clock ("civil") times are handled as seconds
 * on a naive UTC time line, so calendar arithmetic never meets a time zone until it is converted.
 */

/** Seconds in a day. */
export const DAY_SECONDS = 86_400

/** A wall-clock time. */
export interface Civil {
  y: number
  mo: number
  d: number
  h: number
  mi: number
  s: number
}

/** Seconds for a wall-clock time; out-of-range fields roll over (day 0 = last day of the previous month). */
export function civilSec(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d) // setUTCFullYear keeps years 0-99 literal, unlike Date.UTC
  date.setUTCHours(h, mi, s, 0)
  return date.getTime() / 1000
}

/** The wall-clock fields of {@link civilSec} seconds. */
export function civilFields(sec: number): Civil {
  const d = new Date(sec * 1000)
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
}

/** Days in a month (1-12). */
export const daysInMonth = (y: number, mo: number): number => new Date(civilSec(y, mo + 1, 0, 0, 0, 0) * 1000).getUTCDate()
/** Weekday of a date, 0 = Monday … 6 = Sunday (Proxmox's order). */
export const weekdayOf = (y: number, mo: number, d: number): number => (new Date(civilSec(y, mo, d, 0, 0, 0) * 1000).getUTCDay() + 6) % 7

/**
 * A zone name as given, with `local` (and undefined → `UTC`) resolved: `local` is the zone this
 * process runs in, for a Proximity that runs on the Proxmox node itself.
 */
export function resolveTimeZone(timeZone: string | undefined): string {
  if (timeZone === undefined) return 'UTC'
  if (timeZone === 'local') return new Intl.DateTimeFormat().resolvedOptions().timeZone
  return timeZone
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** The cached formatter of a zone; throws RangeError naming an unknown zone. */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
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
    zoneFormatter(resolveTimeZone(timeZone))
    return undefined
  } catch (e) {
    return (e as Error).message
  }
}

/** UTC offset (seconds east) of `timeZone` at the instant `sec`. */
export function offsetAt(timeZone: string, sec: number): number {
  const parts: Record<string, string> = {}
  for (const p of zoneFormatter(timeZone).formatToParts(new Date(sec * 1000))) parts[p.type] = p.value
  let y = Number(parts.year)
  if (parts.era === 'BC' || parts.era === 'B') y = 1 - y
  return civilSec(y, Number(parts.month), Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) - sec
}

/**
 * The first second in (a, b] whose offset differs from `off`, or undefined.
 * WARNING: probes once a day, so two transitions less than a day apart that cancel each other out
 * are not seen; no current zone has them.
 */
export function firstOffsetChange(tz: string, a: number, b: number, off: number): number | undefined {
  let lo = a
  let hi: number
  for (let x = a + DAY_SECONDS; ; x += DAY_SECONDS) {
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
export function offsetStretchStart(tz: string, a: number, b: number, off: number): number | undefined {
  let hi = b
  let lo: number
  for (let x = b - DAY_SECONDS; ; x -= DAY_SECONDS) {
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

/**
 * The instant a wall-clock time in `timeZone` names, as the node's `timelocal` reads vzdump file
 * names. A time that exists twice (clocks going back) gives the earlier instant; a time that does
 * not exist (clocks going forward) is read with the offset in force before the gap, so it lands
 * inside the hour after. Throws RangeError for an unknown zone.
 */
export function wallClockToDate(
  wall: { year: number; month: number; day: number; hour: number; minute: number; second: number },
  zone = 'UTC',
): Date {
  const timeZone = resolveTimeZone(zone)
  const civil = civilSec(wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second)
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return new Date(civil * 1000)
  zoneFormatter(timeZone)
  // Offsets in force a day either side cover every candidate; keep those that map back exactly.
  const offsets = [...new Set([offsetAt(timeZone, civil - DAY_SECONDS), offsetAt(timeZone, civil), offsetAt(timeZone, civil + DAY_SECONDS)])]
  const exact = offsets.map((o) => civil - o).filter((t) => t + offsetAt(timeZone, t) === civil)
  if (exact.length > 0) return new Date(Math.min(...exact) * 1000)
  return new Date((civil - offsetAt(timeZone, civil - DAY_SECONDS)) * 1000)
}
