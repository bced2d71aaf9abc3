/**
 * The PVE string formats that matter to Proximity (pve-common JSONSchema.pm). Each verifier
 * returns an error text (without the `invalid format - ` prefix) or undefined when valid.
 */

const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?'
const DNS_RE = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`)
const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i
const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i
const STORAGE_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i
const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
const VMID_RE = /^[1-9][0-9]{2,8}$/
const POOL_RE = /^[A-Za-z][A-Za-z0-9.\-_]*(\/[A-Za-z0-9.\-_]+){0,2}$/
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/

/** Splits a `*-list` value on `[;,\s]` (ParseUtils split_list). */
export const splitList = (v: string): string[] => v.split(/[;,\s\0]+/).filter((s) => s !== '')

const one: Record<string, (v: string) => string | undefined> = {
  'pve-vmid': (v) => (VMID_RE.test(v) ? undefined : 'value does not look like a valid VM ID'),
  'dns-name': (v) => (v.length <= 255 && DNS_RE.test(v) ? undefined : 'value does not look like a valid DNS name'),
  'pve-tag': (v) => (TAG_RE.test(v) ? undefined : `invalid characters in tag`),
  'pve-configid': (v) => (CONFIGID_RE.test(v) ? undefined : `invalid configuration ID '${v}'`),
  'pve-storage-id': (v) => (STORAGE_RE.test(v) ? undefined : `storage ID '${v}' contains illegal characters`),
  'pve-node': (v) => (NODE_RE.test(v) ? undefined : 'value does not look like a valid node name'),
  'pve-poolid': (v) => (POOL_RE.test(v) ? undefined : `invalid pool ID '${v}'`),
  'mac-addr': (v) => (MAC_RE.test(v) ? undefined : 'value does not look like a valid MAC address'),
  ipv4: (v) => (IPV4_RE.test(v) ? undefined : 'value does not look like a valid IPv4 address'),
}

/** Verifies `value` against a named format; unknown formats pass (the server is lenient there). */
export function checkFormat(format: string, value: string): string | undefined {
  if (format.endsWith('-list')) {
    const base = format.slice(0, -5)
    const item = one[base]
    if (!item) return undefined
    for (const part of splitList(value)) {
      const e = item(part)
      if (e) return e
    }
    return undefined
  }
  return one[format]?.(value)
}

/** Tag list normalisation (GuestHelpers get_unique_tags): lower-case, dedup, sorted, `;`. */
export function normaliseTags(v: string): string {
  const set = new Set(splitList(v).map((t) => t.toLowerCase()))
  return [...set].sort().join(';')
}
