/**
 * Value normalisation before comparison (DESIGN §4, REFERENCE §5 and trap 10): Proxmox stores
 * what we send in canonical forms (sorted lower-case tags, descriptions with trailing newlines,
 * property strings re-ordered with server-added keys, sizes as `8G`, memory in bytes in
 * `/cluster/resources`). These helpers turn both sides into comparable values. Pure.
 */
import { descriptionWithoutMarker, parseTags } from '../model/marker.js'
import { parsePropertyString } from './property-string.js'

const MIB = 1024 * 1024
const GIB = 1024 * MIB

const UNIT: Record<string, number> = { '': 1, B: 1, K: 1024, M: MIB, G: GIB, T: 1024 * GIB }

/**
 * Parses a Proxmox size (`8G`, `512M`, `1.5T`, `1073741824`) into bytes. Returns undefined when
 * the text is not a size.
 */
export function parseSizeBytes(size: string | number | undefined | null): number | undefined {
  if (size === undefined || size === null) return undefined
  if (typeof size === 'number') return Number.isFinite(size) ? size : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([BKMGT]?)i?B?\s*$/i.exec(size)
  if (!m) return undefined
  return Math.round(Number(m[1]) * UNIT[m[2].toUpperCase()])
}

/** Bytes → GiB, rounded to 3 decimals (so `8G` and 8589934592 both give 8). */
export function bytesToGiB(bytes: number): number {
  return Math.round((bytes / GIB) * 1000) / 1000
}

/** Bytes → MiB, rounded to a whole MiB (maxmem in `/cluster/resources` is memory × 1 MiB). */
export function bytesToMiB(bytes: number): number {
  return Math.round(bytes / MIB)
}

/** GiB → bytes. */
export const gibToBytes = (gib: number): number => Math.round(gib * GIB)
/** MiB → bytes. */
export const mibToBytes = (mib: number): number => Math.round(mib * MIB)

/** Tags as a canonical `a;b` string (lower-cased, de-duplicated, sorted), as Proxmox stores them. */
export function normalizeTags(tags: string | string[] | undefined | null): string {
  const list = Array.isArray(tags) ? parseTags(tags.join(';')) : parseTags(tags)
  return list.join(';')
}

/** A description's user-visible text: marker line removed, `\r\n` → `\n`, trailing newlines dropped. */
export function normalizeDescription(text: string | number | undefined | null): string {
  if (text === undefined || text === null) return ''
  return descriptionWithoutMarker(String(text).replace(/\r\n/g, '\n'))
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n')
}

/** A volume as the diff sees it: where it lives and how big it is. */
export interface VolumeView {
  /** `local-lvm` from `local-lvm:vm-101-disk-0` or the allocation form `local-lvm:8`. */
  storage: string
  /** The full volume id (observed) or allocation text (desired). */
  volume: string
  /** GiB, from `size=8G` or from the allocation form `<storage>:<GiB>`. */
  sizeGiB?: number
  /** The other options (mp, backup, acl, …) minus the volume and size. */
  options: Record<string, string>
}

/** Parses a `rootfs`/`mp[n]` value (either the allocation form `store:8` or a stored volume). */
export function parseVolume(value: string | number | undefined | null): VolumeView | undefined {
  if (value === undefined || value === null || String(value).trim() === '') return undefined
  const map = parsePropertyString(value, 'volume')
  const volume = map.volume ?? ''
  delete map.volume
  const colon = volume.indexOf(':')
  const storage = colon >= 0 ? volume.slice(0, colon) : volume
  const rest = colon >= 0 ? volume.slice(colon + 1) : ''
  let sizeGiB: number | undefined
  if (/^\d+(\.\d+)?$/.test(rest)) sizeGiB = Number(rest)
  if (map.size !== undefined) {
    const bytes = parseSizeBytes(map.size)
    if (bytes !== undefined) sizeGiB = bytesToGiB(bytes)
  }
  delete map.size
  return { storage, volume, sizeGiB, options: map }
}

/**
 * Compares two parsed property maps the way a reconciler must: keys only the observed side has
 * are ignored when listed in `serverKeys` (hwaddr, type, size …) — unless the desired side sets
 * them. Returns the keys whose values differ, sorted.
 */
export function diffPropertyMaps(
  desired: Record<string, string>,
  observed: Record<string, string>,
  serverKeys: readonly string[] = [],
): { key: string; before?: string; after?: string }[] {
  const keys = new Set([...Object.keys(desired), ...Object.keys(observed)])
  const out: { key: string; before?: string; after?: string }[] = []
  for (const key of [...keys].sort()) {
    const d = desired[key]
    const o = observed[key]
    if (d === undefined && serverKeys.includes(key)) continue
    if (d === undefined && o === undefined) continue
    if (d !== undefined && o !== undefined && sameScalar(key, d, o)) continue
    out.push({ key, before: o, after: d })
  }
  return out
}

function sameScalar(key: string, a: string, b: string): boolean {
  if (a === b) return true
  if (key === 'hwaddr') return a.toUpperCase() === b.toUpperCase()
  const na = Number(a)
  const nb = Number(b)
  return a.trim() !== '' && b.trim() !== '' && Number.isFinite(na) && Number.isFinite(nb) && na === nb
}
