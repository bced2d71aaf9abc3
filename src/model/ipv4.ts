/** IPv4 address and CIDR helpers for network cross-checks. Pure; never throws. */

/** Parses dotted-quad IPv4 into an unsigned 32-bit number, or undefined when invalid. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}

/** Formats an unsigned 32-bit number as dotted-quad IPv4. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

/** A parsed CIDR: `address` as written, `network` and `broadcast` of its subnet. */
export interface Cidr {
  address: number
  prefix: number
  network: number
  broadcast: number
}

/** Parses `a.b.c.d/n`, or undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  if (slash < 0) return undefined
  const address = parseIpv4(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (address === undefined || !/^[0-9]{1,2}$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  if (prefix > 32) return undefined
  const size = 2 ** (32 - prefix)
  const network = Math.floor(address / size) * size
  return { address, prefix, network, broadcast: network + size - 1 }
}

/** True when `ip` lies inside `subnet` (network and broadcast addresses included). */
export function cidrContains(subnet: Cidr, ip: number): boolean {
  return ip >= subnet.network && ip <= subnet.broadcast
}
