/**
 * The PVE string formats the simulated routes' parameters use, with the messages PVE's verifiers
 * die with (pve-common JSONSchema.pm, pve-storage Plugin.pm, pve-access-control, pve-container
 * LXC/Config.pm, pve-ha-manager HA/Tools.pm, pve-firewall Firewall.pm, pve-manager Backup.pm).
 * Each verifier returns an error text (without the `invalid format - ` prefix) or undefined when
 * valid. Hash formats (property strings such as `prune-backups`) are in HASH_FORMATS.
 */
import { verifyCalendarEvent } from './calendar-event.js'
import type { ParamSchema } from './schema.js'

const DNS_LABEL = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?'
const DNS_RE = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`)
const TAG_RE = /^[a-z0-9_][a-z0-9_\-+.]*$/i
const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i
const ID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i
const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
const VMID_RE = /^[1-9][0-9]{2,8}$/
const POOL_RE = /^[A-Za-z0-9.\-_]+(\/[A-Za-z0-9.\-_]+){0,2}$/
/** Unicast only: the I/G bit (lowest bit of the first octet) must be clear. */
const MAC_RE = /^[a-f0-9][02468ace](:[a-f0-9]{2}){5}$/i
const REALM = '[A-Za-z][A-Za-z0-9.\\-_]+'
const REALM_RE = new RegExp(`^${REALM}$`)
const USER_RE = new RegExp(`^[^\\s:/]+@${REALM}$`)
const GROUP_RE = /^[A-Za-z0-9.\-_]+$/
const IFACE_RE = /^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i
const EMAIL_USER = '[\\w+\\-~]+(\\.[\\w+\\-~]+)*'
const EMAIL_RE = new RegExp(`^${EMAIL_USER}@[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*$`)
const EMAIL_USER_RE = new RegExp(`^${EMAIL_USER}$`)

const OCTET = '(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])'
const IPV4 = `(?:(?:${OCTET}\\.){3}${OCTET})`
const H16 = '(?:[0-9a-fA-F]{1,4})'
const LS32 = `(?:${IPV4}|${H16}:${H16})`
const IPV6 = `(?:(?:(?:${H16}:){6}${LS32})|(?:::(?:${H16}:){5}${LS32})|(?:(?:${H16})?::(?:${H16}:){4}${LS32})|(?:(?:(?:${H16}:){0,1}${H16})?::(?:${H16}:){3}${LS32})|(?:(?:(?:${H16}:){0,2}${H16})?::(?:${H16}:){2}${LS32})|(?:(?:(?:${H16}:){0,3}${H16})?::${H16}:${LS32})|(?:(?:(?:${H16}:){0,4}${H16})?::${LS32})|(?:(?:(?:${H16}:){0,5}${H16})?::${H16})|(?:(?:(?:${H16}:){0,6}${H16})?::))`
const IPV4_RE = new RegExp(`^${IPV4}$`)
const IPV6_RE = new RegExp(`^${IPV6}$`)
const CIDR4_RE = new RegExp(`^${IPV4}/(\\d+)$`)
const CIDR6_RE = new RegExp(`^${IPV6}/(\\d+)$`)
const NETMASKS = new Set(Array.from({ length: 33 }, (_, bits) => [24, 16, 8, 0].map((s) => ((bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0) >>> s) & 255).join('.')))

const isIp = (v: string): boolean => IPV4_RE.test(v) || IPV6_RE.test(v)
const cidr4 = (v: string): boolean => {
  const m = CIDR4_RE.exec(v)
  return !!m && Number(m[1]) > 7 && Number(m[1]) <= 32
}
const cidr6 = (v: string): boolean => {
  const m = CIDR6_RE.exec(v)
  return !!m && Number(m[1]) > 7 && Number(m[1]) <= 128
}
const isIface = (v: string): boolean => IFACE_RE.test(v)

/** `parse_id`: storage ids and the like. */
const parseId = (type: string) => (v: string): string | undefined => {
  if (v.length < 2) return `${type} ID '${v}' cannot be shorter than 2 characters`
  return ID_RE.test(v) ? undefined : `${type} ID '${v}' contains illegal characters`
}

let timezones: Set<string> | undefined
const isTimezone = (v: string): boolean => {
  timezones ??= new Set(Intl.supportedValuesOf('timeZone'))
  return v === 'UTC' || timezones.has(v)
}

const CONTENT = new Set(['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import'])
const PRIVS = new Set(['VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Console', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.FileWrite', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.PowerMgmt', 'VM.Replicate', 'VM.Snapshot', 'VM.Snapshot.Rollback', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit', 'Sys.AccessNetwork', 'Sys.Audit', 'Sys.Console', 'Sys.Incoming', 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog', 'Pool.Allocate', 'Pool.Audit', 'Permissions.Modify', 'Realm.Allocate', 'Realm.AllocateUser', 'User.Modify', 'Group.Allocate', 'SDN.Allocate', 'SDN.Audit', 'SDN.Use', 'Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'])
/** Protocol names and numbers from a stock /etc/protocols (plus PVE's `icmpv6`). */
const PROTOCOLS = new Set(['ip', 'icmp', 'igmp', 'ggp', 'ipencap', 'st', 'tcp', 'egp', 'igp', 'pup', 'udp', 'hmp', 'xns-idp', 'rdp', 'iso-tp4', 'dccp', 'xtp', 'ddp', 'idpr-cmtp', 'ipv6', 'ipv6-route', 'ipv6-frag', 'idrp', 'rsvp', 'gre', 'esp', 'ah', 'skip', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'rspf', 'vmtp', 'eigrp', 'ospf', 'ax.25', 'ipip', 'etherip', 'encap', 'pim', 'ipcomp', 'vrrp', 'l2tp', 'isis', 'sctp', 'fc', 'mobility-header', 'udplite', 'mpls-in-ip', 'manet', 'hip', 'shim6', 'wesp', 'rohc', 'ethernet', 'icmpv6'])
/** Common service names from a stock /etc/services (the port specs accept names). */
const SERVICES = new Set(['ftp-data', 'ftp', 'ssh', 'telnet', 'smtp', 'domain', 'tftp', 'http', 'pop3', 'ntp', 'imap2', 'snmp', 'ldap', 'https', 'submissions', 'submission', 'imaps', 'pop3s', 'ldaps', 'openvpn', 'mysql', 'postgresql', 'rsync', 'bootps', 'bootpc', 'syslog', 'kerberos', 'nfs', 'sunrpc', 'microsoft-ds', 'netbios-ns', 'netbios-dgm', 'netbios-ssn', 'iscsi-target', 'x11', 'git', 'http-alt', 'redis', 'mongodb', 'memcache', 'sip', 'xmpp-client', 'mdns', 'isakmp', 'ipsec-nat-t', 'wireguard'])
const ICMP_TYPES = new Set(['any', 'echo-reply', 'destination-unreachable', 'network-unreachable', 'host-unreachable', 'protocol-unreachable', 'port-unreachable', 'fragmentation-needed', 'source-route-failed', 'network-unknown', 'host-unknown', 'network-prohibited', 'host-prohibited', 'TOS-network-unreachable', 'TOS-host-unreachable', 'communication-prohibited', 'host-precedence-violation', 'precedence-cutoff', 'source-quench', 'redirect', 'network-redirect', 'host-redirect', 'TOS-network-redirect', 'TOS-host-redirect', 'echo-request', 'router-advertisement', 'router-solicitation', 'time-exceeded', 'ttl-zero-during-transit', 'ttl-zero-during-reassembly', 'parameter-problem', 'ip-header-bad', 'required-option-missing', 'timestamp-request', 'timestamp-reply', 'address-mask-request', 'address-mask-reply', 'no-route', 'address-unreachable', 'beyond-scope', 'failed-policy', 'reject-route', 'packet-too-big', 'bad-header', 'unknown-header-type', 'unknown-option', 'neighbour-solicitation', 'neighbor-solicitation', 'neighbour-advertisement', 'neighbor-advertisement'])

/** pve-firewall `parse_port_name_number_or_range`. */
function portSpec(v: string, dport: boolean): string | undefined {
  const items = v.split(',')
  if (items.join(',') !== v || items.some((i) => i === '')) return 'extraneous commas in list'
  let count = 0
  let icmp = false
  for (const item of items) {
    const range = /^(\d+):(\d+)$/.exec(item)
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])]
      if (a > 65535) return `invalid port '${range[1]}'`
      if (b > 65535) return `invalid port '${range[2]}'`
      if (a > b) return `backwards range '${range[1]}:${range[2]}' not allowed, did you mean '${range[2]}:${range[1]}'?`
      count += 2
    } else if (/^\d+$/.test(item)) {
      if (Number(item) > 65535) return `invalid port '${item}'`
      count += 1
    } else if (dport && ICMP_TYPES.has(item)) icmp = true
    else if (!SERVICES.has(item)) return `invalid port '${item}'`
  }
  if (icmp && count > 0) return 'ICMP ports not allowed in port range'
  if (count > 15) return 'too many entries in port list (> 15 numbers)'
  return undefined
}

/** pve-firewall `parse_address_list`: an ipset (`+name`), an alias, or IPs/CIDRs/one range. */
function addrSpec(v: string): string | undefined {
  if (/^\+\S+$/.test(v)) return v.length > 65 ? 'ipset name too long' : undefined
  if (/^(dc\/|guest\/)?[A-Za-z][A-Za-z0-9\-_]+$/.test(v)) return v.length > 64 ? 'alias name too long' : undefined
  const items = v.split(',')
  if (items.join(',') !== v || items.some((i) => i === '')) return 'extraneous commas in list'
  let version: number | undefined
  let ranged = false
  for (const item of items) {
    const [a, b, extra] = item.split('-')
    const one = (x: string): number | undefined => {
      const [ip, bits] = x.split('/')
      const six = IPV6_RE.test(ip ?? '')
      if (!six && !IPV4_RE.test(ip ?? '')) return undefined
      if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (six ? 128 : 32))) return undefined
      return six ? 6 : 4
    }
    const va = one(a as string)
    const vb = b === undefined ? va : one(b)
    if (extra !== undefined || va === undefined || vb === undefined || va !== vb) return `invalid IP address: cannot parse '${item}'`
    if (version !== undefined && va !== version) return `detected mixed ipv4/ipv6 addresses in address list '${v}'`
    version = va
    if (b !== undefined) ranged = true
  }
  if (ranged && items.length > 1) return "you can't use a range in a list"
  return undefined
}

/** pve-common `pve_verify_vlan_id_or_range`. */
function vlanSpec(v: string): string | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v)
  if (!m) return `invalid VLAN configuration '${v}'`
  for (const tag of [m[1], m[2]]) if (tag !== undefined && (Number(tag) < 2 || Number(tag) > 4094)) return `invalid VLAN tag '${tag}'`
  if (m[2] !== undefined && Number(m[1]) >= Number(m[2])) return `VLAN range must go from lower to higher tag '${v}'`
  return undefined
}

/** pve-common `pve_parse_startup_order`. */
const startupOrder = (v: string): boolean => v !== '' && v !== '0' && v.split(',').every((p) => /^\s*$/.test(p) || /^(order=)?\d+$/.test(p) || /^(up|down)=\d+$/.test(p))

const ok = (cond: boolean, message: string): string | undefined => (cond ? undefined : message)

/** Named (code) formats: value → error text or undefined. */
const one: Record<string, (v: string) => string | undefined> = {
  string: () => undefined,
  'pve-vmid': (v) => ok(VMID_RE.test(v), 'value does not look like a valid VM ID'),
  'pve-node': (v) => ok(NODE_RE.test(v), 'value does not look like a valid node name'),
  'dns-name': (v) => ok(DNS_RE.test(v), 'value does not look like a valid DNS name'),
  'pve-tag': (v) => ok(TAG_RE.test(v), 'invalid characters in tag'),
  'pve-configid': (v) => ok(CONFIGID_RE.test(v), `invalid configuration ID '${v}'`),
  'pve-storage-id': parseId('storage'),
  'pve-poolid': (v) => (v.split('/').length > 3 ? `pool name '${v}' nested too deeply (max levels = 3)` : ok(POOL_RE.test(v), `pool name '${v}' contains invalid characters`)),
  'mac-addr': (v) => ok(MAC_RE.test(v), 'value does not look like a valid unicast MAC address'),
  ipv4: (v) => ok(IPV4_RE.test(v), 'value does not look like a valid IPv4 address'),
  ipv6: (v) => ok(IPV6_RE.test(v), 'value does not look like a valid IPv6 address'),
  ip: (v) => ok(isIp(v), 'value does not look like a valid IP address'),
  ipv4mask: (v) => ok(NETMASKS.has(v), 'value does not look like a valid IP netmask'),
  CIDRv4: (v) => ok(cidr4(v), 'value does not look like a valid IPv4 CIDR network'),
  CIDRv6: (v) => ok(cidr6(v), 'value does not look like a valid IPv6 CIDR network'),
  CIDR: (v) => ok(cidr4(v) || cidr6(v), 'value does not look like a valid CIDR network'),
  'pve-ipv4-config': (v) => ok(v === 'dhcp' || v === 'manual' || cidr4(v), 'value does not look like a valid ipv4 network configuration'),
  'pve-ipv6-config': (v) => ok(['auto', 'dhcp', 'manual'].includes(v) || cidr6(v), 'value does not look like a valid ipv6 network configuration'),
  'email-or-username': (v) => ok(EMAIL_RE.test(v) || EMAIL_USER_RE.test(v), 'value does not look like a valid email address or user name'),
  'pve-iface': (v) => ok(isIface(v), `invalid network interface name '${v}'`),
  'pve-vlan-id-or-range': vlanSpec,
  'pve-startup-order': (v) => ok(startupOrder(v), 'unable to parse startup options'),
  'disk-size': (v) => ok(/^\d+(\.\d+)?([KMGT](iB)?)?$/.test(v), `value does not look like a valid disk size: ${v}`),
  'pve-volume-id': (v) => ok(/^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v), `unable to parse volume ID '${v}'`),
  'pve-storage-content': (v) => ok(CONTENT.has(v), `invalid content type '${v}'`),
  'pve-calendar-event': verifyCalendarEvent,
  'pve-day-of-week': (v) => ok(/^(mon|tue|wed|thu|fri|sat|sun)$/.test(v), `invalid day '${v}'`),
  'pve-lxc-mp-string': (v) => ok(!/\/\.\.?\//.test(v) && !/\/\.\.?$/.test(v) && !/^\.\.\//.test(v), `${v} contains illegal character sequences`),
  'pve-lxc-dev-string': (v) => ok(!/\/\.\.?(\/|$)/.test(v) && v.startsWith('/dev/'), `${v} is not a valid device path`),
  'lxc-ip-with-ll-iface': (v) => {
    const ll = /^(fe80:[^%]+)%(.*)$/.exec(v)
    if (ll && isIp(ll[1] as string) && isIface(ll[2] as string)) return undefined
    return ok(isIp(v), 'value does not look like a valid IP address')
  },
  'pve-ct-timezone': (v) => ok(v === 'host' || isTimezone(v), `invalid time zone '${v}'`),
  'pve-realm': (v) => ok(REALM_RE.test(v), 'value does not look like a valid realm'),
  'pve-userid': (v) => {
    if (v.length < 3) return `user name '${v}' is too short`
    if (v.length > 64) return `user name '${v}' is too long (${v.length} > 64)`
    return ok(USER_RE.test(v), `value '${v}' does not look like a valid user name`)
  },
  'pve-groupid': (v) => ok(GROUP_RE.test(v), `group name '${v}' contains invalid characters`),
  'pve-priv': (v) => ok(PRIVS.has(v), `invalid privilege '${v}'`),
  'pve-ha-resource-or-vm-id': (v) => ok(/^([a-z]+:\S+|\d+)$/.test(v), 'value does not look like a valid ha resource id'),
  'pve-task-status-type': (v) => ok(/^(ok|error|warning|unknown)$/i.test(v), `invalid status '${v}'`),
  'pve-fw-sport-spec': (v) => portSpec(v, false),
  'pve-fw-dport-spec': (v) => portSpec(v, true),
  'pve-fw-addr-spec': addrSpec,
  'pve-fw-protocol-spec': (v) => ok(v === '' || PROTOCOLS.has(v) || (/^\d+$/.test(v) && Number(v) <= 255), `unknown protocol '${v}'`),
  'pve-fw-icmp-type-spec': (v) => ok(v === '' || ICMP_TYPES.has(v) || /^\d+(\/\d+)?$/.test(v), `invalid icmp-type value '${v}'`),
}

const keep = (min?: number): ParamSchema => ({ type: 'integer', optional: 1, ...(min !== undefined ? { minimum: min } : {}) })

/** Named hash formats: their values are property strings checked key by key. */
export const HASH_FORMATS: Record<string, Record<string, ParamSchema>> = {
  'prune-backups': {
    'keep-all': { type: 'boolean', optional: 1 },
    'keep-last': keep(0),
    'keep-hourly': keep(0),
    'keep-daily': keep(0),
    'keep-weekly': keep(0),
    'keep-monthly': keep(0),
    'keep-yearly': keep(0),
  },
  'backup-fleecing': {
    enabled: { type: 'boolean', optional: 1, default_key: 1 },
    storage: { type: 'string', optional: 1, format: 'pve-storage-id' },
  },
  'backup-performance': {
    'max-workers': { type: 'integer', optional: 1, minimum: 1, maximum: 256 },
    'pbs-entries-max': { type: 'integer', optional: 1, minimum: 1 },
  },
}

/**
 * Extra checks a hash format runs on its parsed value (pve-storage `validate_prune_backups`).
 * Returns the error text or undefined.
 */
export function validateHashFormat(format: string, parsed: Record<string, string>): string | undefined {
  if (format !== 'prune-backups') return undefined
  const { 'keep-all': keepAll, ...rest } = parsed
  const anyKeep = Object.values(rest).some((v) => Number(v) > 0)
  if (anyKeep && keepAll !== undefined && Number(keepAll) === 1) return 'keep-all cannot be set together with other options.'
  return undefined
}

/** Splits a `*-list` value on `[;,\s]` (ParseUtils split_list), or on NUL when it has one. */
export const splitList = (v: string): string[] => (v.includes('\0') ? v.split('\0') : v.split(/[;,\s]+/).filter((s) => s !== ''))

/**
 * Verifies `value` against a named code format (or a `-list` / `-opt` of one). Formats PVE has
 * but the simulated routes never use pass.
 */
export function checkFormat(format: string, value: string): string | undefined {
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format) as RegExpExecArray
  const base = m[1] as string
  const item = one[base] ?? (m[2] ? undefined : one[format])
  if (!item) return undefined
  if (m[2] === 'list') {
    for (const part of splitList(value)) {
      const e = item(part)
      if (e) return e
    }
    return undefined
  }
  if (m[2] === 'opt') return value === '' ? undefined : item(value)
  return item(value)
}

/** Whether the simulator verifies a named format (a code or hash format, or a `-list`/`-opt` of one). */
export function isKnownFormat(format: string): boolean {
  const base = (/^(.*?)(?:-(list|opt))?$/.exec(format) as RegExpExecArray)[1] as string
  return one[base] !== undefined || one[format] !== undefined || HASH_FORMATS[format] !== undefined
}

/** Tag list normalisation (GuestHelpers get_unique_tags): lower-case, dedup, sorted, `;`. */
export function normaliseTags(v: string): string {
  const set = new Set(splitList(v).map((t) => t.toLowerCase()))
  return [...set].sort().join(';')
}
