/**
 * How plan values read for people: sizes with their units (`512Mi`, `8Gi`), strings quoted,
 * secrets as `(sensitive)`. Shared by the text renderer and the JSON form (`display`). Pure.
 */
import { formatMiB } from '../model/units.js'
import type { PlanFieldChange, SizeUnit } from './types.js'

/** Paths whose plain numbers have a unit even when the change does not say so (create plans). */
const PATH_UNITS: [RegExp, SizeUnit][] = [
  [/^resources\.(memory|swap)$/, 'MiB'],
  [/^resources\.disk$/, 'GiB'],
  [/^volumes\.[^.]+\.size$/, 'GiB'],
]

/** The unit of a change's numeric values: its own `unit`, else the one its path implies. */
export function unitOf(c: Pick<PlanFieldChange, 'path' | 'unit'>): SizeUnit | undefined {
  if (c.unit) return c.unit
  for (const [re, unit] of PATH_UNITS) if (re.test(c.path)) return unit
  return undefined
}

/** A size as a manifest would write it: MiB `1024` → `1Gi`; GiB `8` → `8Gi`, `0.5` → `512Mi`. */
export function formatSize(n: number, unit: SizeUnit): string {
  if (unit === 'MiB') return formatMiB(n)
  if (Number.isInteger(n)) return n !== 0 && n % 1024 === 0 ? `${n / 1024}Ti` : `${n}Gi`
  return formatMiB(Math.round(n * 1024))
}

/** Formats a raw value for a plan line: strings quoted, arrays/objects as compact JSON. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

/**
 * One side of a change as shown to people, or undefined when that side is absent. Sensitive
 * values are always `(sensitive)`, whatever the change carries.
 */
export function displayValue(c: PlanFieldChange, side: 'before' | 'after'): string | undefined {
  const v = c[side]
  if (v === undefined || v === null) return undefined
  if (c.sensitive) return '(sensitive)'
  const unit = unitOf(c)
  if (unit && typeof v === 'number') return formatSize(v, unit)
  return formatValue(v)
}
