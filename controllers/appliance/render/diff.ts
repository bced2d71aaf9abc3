/**
 * Plan lines for appliance config changes: what changed in each file, one line per item, never
 * the whole file (issue 12 §5). Works on file texts (the side read back from the appliance may
 * be anything), so every file is reduced to items: static leases, DNS names, proxy routes, port
 * forwards, and plain directive lines for the rest. Pure; order is deterministic.
 *
 *   dnsmasq: + dhcp-host web 10.44.0.10
 *   dnsmasq: ~ dhcp-host web: 10.44.0.10 → 10.44.0.11
 *   caddy: + route grafana.home.arpa → 10.44.0.12:3000
 *   nftables: + forward tcp/2222 → 10.44.0.10:22
 */
import type { ApplianceFileId } from './files.js'

/** One comparable piece of a file: `label` identifies it, `value` is what may change. */
interface Item {
  label: string
  value: string
  /** Joins label and value for `+`/`-` lines. */
  sep: string
  /** Compared too, shown only when it alone changed (a lease's MAC). */
  detail?: string
}

const PREFIX: Record<ApplianceFileId, string> = {
  'dnsmasq-conf': 'dnsmasq',
  'dhcp-hosts': 'dnsmasq',
  hosts: 'dnsmasq',
  caddyfile: 'caddy',
  nftables: 'nftables',
  'nftables-service': 'nftables',
}

const ORDER: readonly ApplianceFileId[] = ['nftables-service', 'nftables', 'dnsmasq-conf', 'dhcp-hosts', 'hosts', 'caddyfile']

/**
 * Describes the change from `before` to `after` (file id → content; missing = file absent) as
 * plan lines `<service>: <+|-|~> <item>`. A file whose text changed without any item changing
 * (comments, whitespace) gives one `~ <file> (formatting only)` line. Equal inputs give [].
 */
export function describeFileChanges(before: Partial<Record<ApplianceFileId, string>>, after: Partial<Record<ApplianceFileId, string>>): string[] {
  const out: string[] = []
  for (const id of ORDER) {
    const a = before[id]
    const b = after[id]
    if (a === b) continue
    const prefix = `${PREFIX[id]}:`
    const old = items(id, a ?? '')
    const now = items(id, b ?? '')
    const lines: string[] = []
    for (const [key, item] of old) {
      const next = now.get(key)
      if (!next) lines.push(`${prefix} - ${show(item)}`)
      else if (next.value !== item.value) lines.push(`${prefix} ~ ${item.label}: ${item.value} → ${next.value}`)
      else if (next.detail !== item.detail) lines.push(`${prefix} ~ ${item.label}: ${item.value} (${item.detail ?? '-'} → ${next.detail ?? '-'})`)
    }
    for (const [key, item] of now) if (!old.has(key)) lines.push(`${prefix} + ${show(item)}`)
    if (!lines.length) lines.push(`${prefix} ~ ${id} (formatting only)`)
    out.push(...lines)
  }
  return out
}

const show = (i: Item): string => (i.value ? `${i.label}${i.sep}${i.value}` : i.label)

/** Meaningful lines: trimmed, without blank lines and `#` comments. */
function meaningful(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

function items(id: ApplianceFileId, text: string): Map<string, Item> {
  const list = id === 'dhcp-hosts' ? leaseItems(text) : id === 'hosts' ? hostItems(text) : id === 'caddyfile' ? caddyItems(text) : id === 'nftables' ? nftItems(text) : meaningful(text).map(line)
  const map = new Map<string, Item>()
  for (const item of list) {
    let key = item.label
    for (let n = 2; map.has(key); n++) key = `${item.label}#${n}`
    map.set(key, item)
  }
  return map
}

const line = (l: string): Item => ({ label: l, value: '', sep: '' })

/** `MAC,IP,name` → `dhcp-host name IP`, the MAC as detail. */
function leaseItems(text: string): Item[] {
  return meaningful(text).map((l) => {
    const [mac, ip, name, ...rest] = l.split(',')
    if (!name || rest.length) return line(`dhcp-host ${l}`)
    return { label: `dhcp-host ${name}`, value: ip, sep: ' ', detail: `MAC ${mac.toUpperCase()}` }
  })
}

/** `IP name…` → one `name NAME IP` item per name. */
function hostItems(text: string): Item[] {
  return meaningful(text).flatMap((l) => {
    const [ip, ...names] = l.split(/\s+/)
    return names.length ? names.map((n) => ({ label: `name ${n}`, value: ip, sep: ' ' })) : [line(`name ${l}`)]
  })
}

/** Site blocks → `route HOST → UPSTREAM` (+ tls mode); global options → `option …`. */
function caddyItems(text: string): Item[] {
  const out: Item[] = []
  let site: { host: string; tls: string; upstream: string; extra: string[] } | undefined
  let depth = 0
  for (const l of meaningful(text)) {
    if (depth === 0 && l.endsWith('{')) {
      const address = l.slice(0, -1).trim()
      depth = 1
      if (address === '') continue
      const http = address.startsWith('http://')
      site = { host: address.replace(/^https?:\/\//, ''), tls: http ? 'http only' : 'acme', upstream: '', extra: [] }
      continue
    }
    if (l === '}' && depth === 1) {
      depth = 0
      if (site) {
        const note = site.tls === 'tls internal' ? '' : ` (${site.tls})`
        out.push({ label: `route ${site.host}`, value: `${site.upstream || '(no upstream)'}${note}${site.extra.length ? ` [${site.extra.join('; ')}]` : ''}`, sep: ' → ' })
      }
      site = undefined
      continue
    }
    if (l.endsWith('{')) depth++
    else if (l === '}') depth--
    if (!site) out.push(line(`option ${l}`))
    else if (l === 'tls internal') site.tls = 'tls internal'
    else if (/^tls \S+@\S+$/.test(l)) site.tls = 'acme'
    else if (l.startsWith('reverse_proxy ')) site.upstream = l.slice('reverse_proxy '.length)
    else site.extra.push(l)
  }
  return out
}

/** `dnat ip to` rules → `forward PROTO/PORT → TARGET`; the masquerade rule by name; other lines as they are. */
function nftItems(text: string): Item[] {
  return meaningful(text).map((l) => {
    const dnat = /^iifname \S+ (tcp|udp) dport ([0-9]+) dnat ip to (\S+)$/.exec(l)
    if (dnat) return { label: `forward ${dnat[1]}/${dnat[2]}`, value: dnat[3], sep: ' → ' }
    if (/ masquerade$/.test(l)) return line(`masquerade (${l.replace(/ masquerade$/, '')})`)
    return line(l)
  })
}
