/**
 * Proxmox volume ids as they reach the API (`ostemplate`, restore archives): the shapes
 * Proxmox accepts, refused here with a sentence instead of a 400 later. Pure; never throws.
 */

/** Proxmox `pve-storage-id` (pve-common JSONSchema.pm, case-insensitive). */
export const STORAGE_ID_PATTERN = /^[a-z][a-z0-9_.-]*[a-z0-9]$/i
/** One path segment of a volume name: no metacharacters, never `.` or `..`. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.+:-]*$/

/**
 * Explains why `volid` is not `STORAGE:CONTENT/FILE` with the given content type (`vztmpl`
 * for templates, `backup` for restores), or returns undefined. FILE may have `/`-separated
 * segments only for backups (Proxmox Backup Server names them `backup/ct/101/<time>`).
 */
export function checkVolid(volid: string, content: 'vztmpl' | 'backup'): string | undefined {
  const example = content === 'vztmpl' ? 'local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst' : 'local:backup/vzdump-lxc-101-2025_01_01-00_00_00.tar.zst'
  const colon = volid.indexOf(':')
  if (colon < 0) return `volid "${volid}" must look like ${example}`
  const storage = volid.slice(0, colon)
  if (!STORAGE_ID_PATTERN.test(storage)) return `volid storage "${storage}" is not a Proxmox storage id (letters, digits, "-", "_", "."; starting with a letter)`
  const rest = volid.slice(colon + 1)
  if (volid.includes('..')) return `volid must not contain ".."; use the name Proxmox lists, such as ${example}`
  const slash = rest.indexOf('/')
  const kind = slash < 0 ? '' : rest.slice(0, slash)
  if (kind !== content) return `volid must name ${content} content ("${storage}:${content}/<file>"), got "${kind || rest}"`
  const segments = rest.slice(slash + 1).split('/')
  if (segments.some((s) => !SEGMENT.test(s))) return `volid file "${rest.slice(slash + 1)}" must be letters, digits, ".", "_", "+", "-" and ":"`
  if (content === 'vztmpl' && segments.length > 1) return `template volid file must not contain "/", as in ${example}`
  return undefined
}

/**
 * Explains why `v` is neither a template volid (`STORAGE:vztmpl/FILE`) nor an appliance
 * template name (`alpine-3.22`, matched as a prefix of the aplinfo list); undefined when valid.
 */
export function checkTemplate(v: string): string | undefined {
  if (v.includes(':')) {
    const p = checkVolid(v, 'vztmpl')
    return p ? `template ${p}` : undefined
  }
  if (v.includes('/') || v.includes('..')) return `template name "${v}" must be a name such as alpine-3.22 or a volid such as local:vztmpl/<file>`
  return undefined
}
