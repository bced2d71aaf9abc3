/**
 * Size and duration parsing for manifest fields (DESIGN §2). Pure; no I/O.
 *
 * Sizes are written `512Mi`, `2Gi`, `1Ti` or as plain numbers in the field's base unit (MiB for
 * memory and swap, GiB for disks). Durations are written `30s`, `5m`, `1h`, `1h30m`, `250ms`, or
 * as a plain number of seconds.
 */

/** Raised for a size or duration that cannot be parsed; `message` is short and actionable. */
export class UnitError extends Error {
  override readonly name = 'UnitError'
}

const SIZE_RE = /^([0-9]+(?:\.[0-9]+)?)(Mi|Gi|Ti)$/
const MIB_PER: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 }

function parseSizeMiB(value: unknown, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`${what} must be a non-negative number, got ${value}`)
    return value
  }
  if (typeof value !== 'string') throw new UnitError(`${what} must be a size such as 512Mi or 2Gi`)
  const m = SIZE_RE.exec(value.trim())
  if (!m) {
    const hint = /^[0-9.]+\s*(MB|GB|M|G|MiB|GiB|mb|gb|m|g)$/.test(value.trim()) ? '; use the binary suffixes Mi or Gi' : ''
    throw new UnitError(`${what} must be a size such as 512Mi or 2Gi, got "${value}"${hint}`)
  }
  return Number(m[1]) * MIB_PER[m[2]]
}

/**
 * Parses a memory or swap size into MiB. A number is taken as MiB; strings need a Mi/Gi/Ti
 * suffix. Fractional MiB are rounded up (Proxmox takes whole MiB).
 * @throws UnitError on anything else (`512MB`, `-1Gi`, `lots`).
 */
export function parseMemoryMiB(value: unknown): number {
  return Math.ceil(parseSizeMiB(value, 'memory size'))
}

/**
 * Parses a disk size into GiB. A number is taken as GiB; strings need a Mi/Gi/Ti suffix.
 * The result keeps up to 3 decimals (Proxmox accepts fractional GiB for rootfs and mount points).
 * @throws UnitError on anything else.
 */
export function parseDiskGiB(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new UnitError(`disk size must be a positive number of GiB, got ${value}`)
    return value
  }
  const mib = parseSizeMiB(value, 'disk size')
  if (mib <= 0) throw new UnitError(`disk size must be greater than zero, got "${String(value)}"`)
  return Math.round((mib / 1024) * 1000) / 1000
}

const DURATION_PART = /([0-9]+)(ms|s|m|h)/g
const DURATION_RE = /^([0-9]+(ms|s|m|h))+$/
const MS_PER: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses a duration into milliseconds: `30s`, `5m`, `1h`, `1h30m`, `250ms`, or a number of
 * seconds.
 * @throws UnitError on anything else (`5 minutes`, `-1s`, `1d`).
 */
export function parseDurationMs(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new UnitError(`duration must be a non-negative number of seconds, got ${value}`)
    return Math.round(value * 1000)
  }
  if (typeof value !== 'string' || !DURATION_RE.test(value.trim())) {
    throw new UnitError(`duration must look like 30s, 5m or 1h, got "${String(value)}"`)
  }
  let total = 0
  for (const m of value.trim().matchAll(DURATION_PART)) total += Number(m[1]) * MS_PER[m[2]]
  return total
}

/** Formats MiB for people: `512Mi`, `2Gi`. */
export function formatMiB(mib: number): string {
  return mib % 1024 === 0 && mib !== 0 ? `${mib / 1024}Gi` : `${mib}Mi`
}
