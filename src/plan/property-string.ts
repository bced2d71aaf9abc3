/**
 * Proxmox property strings (`name=eth0,bridge=vmbr0,ip=dhcp`, `local-lvm:vm-101-disk-0,size=8G`)
 * as plain maps, so values can be compared regardless of key order (REFERENCE §5.1). Pure.
 */

/**
 * Parses a property string into a map. A leading item without `=` is stored under `defaultKey`
 * (`volume` for rootfs/mp[n]); Proxmox puts the default key first but also accepts it spelled out.
 * Keys are lower-cased; values are kept as written. Empty input gives an empty map.
 */
export function parsePropertyString(value: string | number | undefined | null, defaultKey?: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (value === undefined || value === null) return out
  const text = String(value).trim()
  if (text === '') return out
  for (const part of text.split(',')) {
    const item = part.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    if (eq < 0) {
      if (defaultKey && out[defaultKey] === undefined) out[defaultKey] = item
      else out[item.toLowerCase()] = '1'
      continue
    }
    out[item.slice(0, eq).trim().toLowerCase()] = item.slice(eq + 1).trim()
  }
  return out
}

/**
 * Prints a map back as a property string: `firstKeys` in the given order (the default key is
 * printed bare when listed in `bareKeys`), then the rest alphabetically, as Proxmox does.
 */
export function formatPropertyString(map: Record<string, string | number>, firstKeys: string[] = [], bareKeys: string[] = []): string {
  const parts: string[] = []
  const done = new Set<string>()
  for (const k of firstKeys) {
    if (map[k] === undefined) continue
    parts.push(bareKeys.includes(k) ? String(map[k]) : `${k}=${map[k]}`)
    done.add(k)
  }
  for (const k of Object.keys(map).sort()) {
    if (done.has(k) || map[k] === undefined) continue
    parts.push(`${k}=${map[k]}`)
  }
  return parts.join(',')
}
