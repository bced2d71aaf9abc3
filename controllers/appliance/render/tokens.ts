/**
 * Guards for every token the appliance renderers write into a config file. Each guard returns the
 * value in its canonical form or throws an {@link ApplianceRenderError}; none of them escapes,
 * because no legitimate value needs escaping: a token that is not a plain address, name, port,
 * interface, path or e-mail is refused, so a newline, quote, brace, semicolon, comma, `#` or
 * space can never reach dnsmasq, Caddy or nft. Pure.
 */
import { formatIpv4, parseCidr, parseIpv4, type Cidr } from '../../../src/model/ipv4.js'
import { ApplianceRenderError } from './errors.js'

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const NAME = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/
const MAC = /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/
/** Linux interface names: at most 15 bytes, no `/`, no whitespace; we also refuse quotes and `$`. */
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/
const PATH = /^\/[A-Za-z0-9._/-]*$/
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i

const show = (v: unknown): string => JSON.stringify(typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…` : v) ?? String(v)

/** A dotted-quad IPv4 address, returned in canonical form. */
export function assertIpv4(value: unknown, field: string): string {
  const n = typeof value === 'string' ? parseIpv4(value) : undefined
  if (n === undefined) throw new ApplianceRenderError(field, `${show(value)} is not an IPv4 address`)
  return formatIpv4(n)
}

/** An IPv4 CIDR such as 10.44.0.0/24. */
export function assertCidr(value: unknown, field: string): Cidr {
  const c = typeof value === 'string' ? parseCidr(value) : undefined
  if (!c) throw new ApplianceRenderError(field, `${show(value)} is not an IPv4 CIDR such as 10.44.0.0/24`)
  return c
}

/** A TCP/UDP port, 1–65535 (Caddy accepts `host:notaport` and fails only at request time). */
export function assertPort(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ApplianceRenderError(field, `${show(value)} is not a port (1-65535)`)
  }
  return value
}

/** A DNS name of RFC 1123 labels (at most 253 characters, last label not all digits), returned lower-case. */
export function assertHost(value: unknown, field: string): string {
  const v = typeof value === 'string' ? value.toLowerCase() : undefined
  if (v === undefined || v.length === 0 || v.length > 253 || !v.split('.').every((l) => LABEL.test(l))) {
    throw new ApplianceRenderError(field, `${show(value)} is not a DNS name (letters, digits and "-" in labels joined by ".")`)
  }
  // An all-digit last label reads as an IPv4 address to Caddy and to resolvers.
  if (/^[0-9]+$/.test(v.slice(v.lastIndexOf('.') + 1))) throw new ApplianceRenderError(field, `${show(value)} looks like an address, not a DNS name`)
  return v
}

/** An object name (RFC 1123 label, at most 40 characters), as Apps and Appliances are named. */
export function assertName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ApplianceRenderError(field, `${show(value)} is not a valid name (lower-case letters, digits and "-", at most 40)`)
  }
  return value
}

/** A unicast MAC address, returned upper-case with colons (the form Proxmox writes). */
export function assertMac(value: unknown, field: string): string {
  const v = typeof value === 'string' ? value.toUpperCase() : undefined
  if (v === undefined || !MAC.test(v)) throw new ApplianceRenderError(field, `${show(value)} is not a MAC address such as 02:00:5E:10:00:01`)
  if (parseInt(v.slice(0, 2), 16) & 1) throw new ApplianceRenderError(field, `${v} is a multicast MAC address; use a unicast one`)
  return v
}

/** A network interface name as it appears inside the appliance (eth0, lan0, …). */
export function assertInterface(value: unknown, field: string): string {
  if (typeof value !== 'string' || !IFACE.test(value)) {
    throw new ApplianceRenderError(field, `${show(value)} is not an interface name (letters, digits, "_", ".", "-"; at most 15)`)
  }
  return value
}

/** An absolute file path made of letters, digits, `.`, `_`, `-` and `/` only. */
export function assertPath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !PATH.test(value) || value.split('/').includes('..')) {
    throw new ApplianceRenderError(field, `${show(value)} is not an absolute path of letters, digits, ".", "_", "-" and "/"`)
  }
  return value
}

/** An e-mail address for the ACME account, with no character Caddy would read as syntax. */
export function assertEmail(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 254 || !EMAIL.test(value)) {
    throw new ApplianceRenderError(field, `${show(value)} is not a plain e-mail address such as ops@example.com`)
  }
  return value
}
