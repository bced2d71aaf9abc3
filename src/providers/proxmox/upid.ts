/**
 * UPID parsing (REFERENCE §3.1) and Proxmox size formatting (§4.2.2). Pure.
 */

/** The fields of `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`. */
export interface ParsedUpid {
  node: string
  pid: number
  pstart: number
  /** Unix epoch seconds of the task start. */
  starttime: number
  /** Worker type (`vzcreate`, `vzdump`, …). */
  type: string
  /** Usually the vmid; empty for multi-guest vzdump. */
  id: string
  /** Authenticated id, including `!tokenid` for tokens. */
  user: string
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/

/** Parses a UPID; returns undefined when it is not one (e.g. vzdump's literal `OK`). */
export function parseUpid(upid: string): ParsedUpid | undefined {
  const m = UPID_RE.exec(upid)
  if (!m) return undefined
  return {
    node: m[1]!,
    pid: parseInt(m[3]!, 16),
    pstart: parseInt(m[4]!, 16),
    starttime: parseInt(m[5]!, 16),
    type: m[6]!,
    id: m[7]!,
    user: m[8]!,
  }
}

/** True for a syntactically valid UPID. */
export const isUpid = (value: unknown): value is string => typeof value === 'string' && UPID_RE.test(value)

const UNITS: [string, number][] = [
  ['T', 1024 ** 4],
  ['G', 1024 ** 3],
  ['M', 1024 ** 2],
  ['K', 1024],
]

/**
 * Bytes as PVE prints sizes (`format_size`): the largest unit among T, G, M, K that divides the
 * value exactly, else plain bytes. `8589934592` → `8G`, `1536 MiB` → `1536M`.
 */
export function formatProxmoxSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`size must be a non-negative whole number of bytes, got ${bytes}`)
  if (bytes === 0) return '0'
  for (const [unit, factor] of UNITS) if (bytes % factor === 0) return `${bytes / factor}${unit}`
  return String(bytes)
}

/**
 * Parses a PVE size (`8G`, `512M`, `1.5G`, `1024`) into bytes. Throws on anything else.
 */
export function parseProxmoxSize(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(size.trim())
  if (!m) throw new Error(`invalid proxmox size "${size}"; use a number with an optional K, M, G or T suffix`)
  const factor = m[2] ? UNITS.find(([u]) => u === m[2])![1] : 1
  return Math.round(Number(m[1]) * factor)
}
