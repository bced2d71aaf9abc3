/**
 * Name rules shared by manifests, Proxmox and DNS (DESIGN §2, proxmox REFERENCE §5.2). Pure.
 * Each `is*` predicate is total (any input, never throws); each `check*` returns an actionable
 * problem sentence or undefined.
 */

/** RFC 1123 label of at most 40 characters: valid as a hostname and as a Proxmox tag. */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/
/** Proxmox `dns-name`: labels of letters, digits and `-` joined by `.`; no underscores. */
export const HOSTNAME_PATTERN = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/
/** Proxmox tag (`$PVE_TAG_RE`, case-insensitive). */
export const TAG_PATTERN = /^[a-z0-9_][a-z0-9_\-+.]*$/i
/** Environment variable name. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Docker image tag. */
export const IMAGE_TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
/**
 * Docker image reference `[registry[:port]/]path[:tag][@sha256:digest]`. Nothing outside the
 * reference grammar is accepted, so no shell metacharacter can pass.
 */
export const IMAGE_PATTERN =
  /^(?:[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

const str = (v: unknown): v is string => typeof v === 'string'

/** True when `v` is a valid object name (RFC 1123 label, ≤ 40 chars). */
export const isValidName = (v: unknown): v is string => str(v) && NAME_PATTERN.test(v)
/** True when `v` is a hostname Proxmox accepts (≤ 255 chars, dns-name rule). */
export const isValidHostname = (v: unknown): v is string => str(v) && v.length <= 255 && HOSTNAME_PATTERN.test(v)
/** True when `v` is a valid Proxmox tag. */
export const isValidTag = (v: unknown): v is string => str(v) && TAG_PATTERN.test(v)
/** True when `v` is a valid environment variable name. */
export const isValidEnvName = (v: unknown): v is string => str(v) && ENV_NAME_PATTERN.test(v)
/** True when `v` is a valid Docker image reference (≤ 512 chars). */
export const isValidImage = (v: unknown): v is string => str(v) && v.length <= 512 && IMAGE_PATTERN.test(v)
/** True when `v` is a valid Docker image tag. */
export const isValidImageTag = (v: unknown): v is string => str(v) && IMAGE_TAG_PATTERN.test(v)

/** Explains why `v` is not a valid object name, or undefined when it is. */
export function checkName(v: unknown): string | undefined {
  if (!str(v) || v.length === 0) return 'name must be a non-empty string'
  if (v.length > 40) return `name is ${v.length} characters; use at most 40`
  const fixed = v.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  const tryIt = NAME_PATTERN.test(fixed) ? `; try "${fixed}"` : ''
  if (/[A-Z]/.test(v)) return `name must be lower-case${tryIt}`
  if (v.includes('_')) return `name must not contain "_"${tryIt}`
  if (!NAME_PATTERN.test(v)) return 'name must be lower-case letters, digits and "-", starting and ending with a letter or digit'
  return undefined
}

/** Explains why `v` is not a valid hostname, or undefined when it is. */
export function checkHostname(v: unknown): string | undefined {
  if (!str(v) || v.length === 0) return 'hostname must be a non-empty string'
  if (v.length > 255) return 'hostname is longer than 255 characters'
  if (v.includes('_')) return 'hostname must not contain "_" (Proxmox rejects it)'
  if (!HOSTNAME_PATTERN.test(v)) return 'hostname must be letters, digits and "-" in labels joined by "."'
  return undefined
}

/**
 * Explains why DNS name `v` breaks the length rules, or undefined: each label at most 63
 * octets (RFC 1035; Proxmox does not check it, resolvers and Linux do) and the whole name at
 * most `max` characters.
 */
export function checkHostnameLength(v: string, max: number): string | undefined {
  const long = v.split('.').find((l) => Buffer.byteLength(l) > 63)
  if (long) return `label "${long.slice(0, 20)}..." is ${Buffer.byteLength(long)} characters; DNS labels are at most 63`
  if (v.length > max) return `name is ${v.length} characters; use at most ${max}`
  return undefined
}

/** Kernel file systems a mount point must never cover. */
const RESERVED_MOUNTS = ['/proc', '/sys', '/dev']

/**
 * Normalises an absolute mount path (`//` and `/./` collapsed, `..` applied, no trailing `/`).
 * Pure; `/` stays `/`.
 */
export function normalizeMountPath(p: string): string {
  const out: string[] = []
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return '/' + out.join('/')
}

/** Explains why `p` may not be a container mount point (`/`, `/proc`, `/sys`, `/dev` or below), or undefined. */
export function checkMountPath(p: string): string | undefined {
  const n = normalizeMountPath(p)
  if (n === '/') return 'a volume cannot be mounted on "/" (the root disk is resources.disk); pick a folder such as /data'
  const hit = RESERVED_MOUNTS.find((r) => n === r || n.startsWith(r + '/'))
  if (hit) return `a volume cannot be mounted on ${hit} or below (kernel file system); pick a folder such as /data`
  return undefined
}
