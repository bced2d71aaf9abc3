/**
 * The guest marker (DESIGN §3): one description line that says which Proximity installation owns a
 * guest and which spec it last converged to.
 *
 *   proximity:managed {"kind":"App","name":"web","owner":"home","specHash":"…"}
 *
 * Pure helpers: no I/O. Parsing is tolerant (Proxmox appends `\n` to every description line, users
 * may write their own lines before or after ours, `\r\n` and surrounding blanks are accepted).
 */
import type { Kind } from './types.js'

/** The literal prefix of the marker line. */
export const MARKER_PREFIX = 'proximity:managed'

/** The Proxmox tag every managed guest carries (lower-case, as Proxmox stores it). */
export const MANAGED_TAG = 'proximity'

export interface GuestMarker {
  kind: Kind
  name: string
  owner: string
  /** The specHash the guest was last fully converged to (written last by apply). */
  specHash: string
}

const KINDS: ReadonlySet<string> = new Set(['Cluster', 'App', 'Appliance', 'BackupPolicy', 'Restore'])

/** Renders the marker line (no trailing newline). Key order is fixed so the line is stable. */
export function encodeMarker(m: GuestMarker): string {
  const body = JSON.stringify({ kind: m.kind, name: m.name, owner: m.owner, specHash: m.specHash })
  return `${MARKER_PREFIX} ${body}`
}

function parseLine(line: string): GuestMarker | undefined {
  const trimmed = line.trim()
  if (!trimmed.startsWith(MARKER_PREFIX)) return undefined
  const rest = trimmed.slice(MARKER_PREFIX.length).trim()
  let value: unknown
  try {
    value = JSON.parse(rest)
  } catch {
    return undefined
  }
  if (!value || typeof value !== 'object') return undefined
  const v = value as Record<string, unknown>
  if (typeof v.kind !== 'string' || !KINDS.has(v.kind)) return undefined
  if (typeof v.name !== 'string' || v.name === '') return undefined
  if (typeof v.owner !== 'string' || v.owner === '') return undefined
  const specHash = typeof v.specHash === 'string' ? v.specHash : ''
  return { kind: v.kind as Kind, name: v.name, owner: v.owner, specHash }
}

/**
 * Finds the marker in a description. Returns the first well-formed marker line, or undefined when
 * there is none (a malformed marker is treated as absent: the guest is then foreign).
 */
export function parseMarker(description: string | undefined | null): GuestMarker | undefined {
  if (!description) return undefined
  for (const line of String(description).split(/\r?\n/)) {
    const m = parseLine(line)
    if (m) return m
  }
  return undefined
}

/** The description lines that are not a marker (user text), trailing blank lines dropped. */
export function descriptionWithoutMarker(description: string | undefined | null): string {
  if (!description) return ''
  const lines = String(description)
    .split(/\r?\n/)
    .filter((l) => !l.trim().startsWith(MARKER_PREFIX))
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop()
  while (lines.length > 0 && lines[0].trim() === '') lines.shift()
  return lines.join('\n')
}

/**
 * Returns `description` with its marker replaced by `marker` (or added as the first line), keeping
 * every other line the user wrote. `marker` undefined removes our marker (used by Retain).
 */
export function withMarker(description: string | undefined | null, marker: GuestMarker | undefined): string {
  const rest = descriptionWithoutMarker(description)
  const head = marker ? encodeMarker(marker) : ''
  if (!head) return rest
  return rest ? `${head}\n${rest}` : head
}

/** True when the marker exists and names `owner` (our installation). */
export function isOwned(marker: GuestMarker | undefined, owner: string): marker is GuestMarker {
  return marker !== undefined && marker.owner === owner
}

/** Parses a Proxmox tag list (`a;b`, `a,b` or blanks) into lower-cased, de-duplicated, sorted tags. */
export function parseTags(tags: string | undefined | null): string[] {
  if (!tags) return []
  const set = new Set(
    String(tags)
      .split(/[;,\s]+/)
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  )
  return [...set].sort()
}

/** True when a tag list carries the `proximity` tag. */
export function hasManagedTag(tags: string | undefined | null): boolean {
  return parseTags(tags).includes(MANAGED_TAG)
}
