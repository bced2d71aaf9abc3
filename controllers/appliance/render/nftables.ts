/**
 * The appliance's nftables files (REFERENCE §4): the whole `/etc/nftables.nft` (it starts with
 * `flush ruleset`, so Alpine's default drop-everything table cannot linger beside ours, trap 14)
 * and `/etc/conf.d/nftables`, whose `enable_forwarding` makes the service turn on IP forwarding
 * (trap 17). Pure.
 */
import { ApplianceRenderError } from './errors.js'
import type { ApplianceNetwork } from './network.js'
import { renderedHeader } from './dnsmasq.js'
import { assertCidr, assertInterface, assertIpv4, assertPath, assertPort } from './tokens.js'

/** Options of {@link renderNftables}. */
export interface NftablesOptions {
  /** The appliance's WAN interface. @default 'eth0' */
  wanInterface?: string
  /** The appliance's LAN interface. @default 'eth1' */
  lanInterface?: string
}

/**
 * `/etc/nftables.nft`: one `inet proximity` table. Input: loopback, replies, ICMP, DNS and DHCP
 * from the LAN (without udp 67 no client gets a lease, trap 16), the proxy's 80/443 from both
 * sides; everything else dropped. Forward: LAN → WAN and port-forwarded connections. NAT:
 * masquerade of the LAN out of the WAN interface (when `network.masquerade`), one `dnat ip to`
 * per port forward (an `inet` table needs the `ip` keyword, trap 15). Accepted by nft 1.0.6.
 * @throws ApplianceRenderError on a token that is not a plain interface, address or port.
 */
export function renderNftables(network: ApplianceNetwork, opts: NftablesOptions = {}): string {
  const wan = assertInterface(opts.wanInterface ?? 'eth0', 'wanInterface')
  const lan = assertInterface(opts.lanInterface ?? 'eth1', 'lanInterface')
  if (wan === lan) throw new ApplianceRenderError('lanInterface', `the LAN and WAN interfaces are both ${lan}`)
  const subnet = assertCidr(network.subnet.cidr, 'lan.subnet')
  if (subnet.address !== subnet.network) throw new ApplianceRenderError('lan.subnet', `${network.subnet.cidr} is not a network address`)
  const forwards = [...network.portForwards]
    .sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.port - b.port))
    .map((p) => {
      const field = `nat.portForwards ${p.protocol}/${p.port}`
      if (p.protocol !== 'tcp' && p.protocol !== 'udp') throw new ApplianceRenderError(field, `${JSON.stringify(p.protocol)} is not tcp or udp`)
      return `\t\tiifname $WAN ${p.protocol} dport ${assertPort(p.port, field)} dnat ip to ${assertIpv4(p.toIp, field)}:${assertPort(p.toPort, field)}`
    })
  const lines = [
    renderedHeader(network),
    'flush ruleset',
    '',
    `define WAN = "${wan}"`,
    `define LAN = "${lan}"`,
    `define LAN_NET = ${network.subnet.cidr}`,
    '',
    'table inet proximity {',
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy drop;',
    '\t\tiifname "lo" accept',
    '\t\tct state established,related accept',
    '\t\tct state invalid drop',
    '\t\tmeta l4proto { icmp, ipv6-icmp } accept',
    '\t\tiifname $LAN udp dport { 53, 67 } accept',
    '\t\tiifname $LAN tcp dport { 53, 80, 443 } accept',
    '\t\tiifname $WAN tcp dport { 80, 443 } accept',
    '\t}',
    '',
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy drop;',
    '\t\tct state established,related accept',
    '\t\tct state invalid drop',
    '\t\tiifname $LAN oifname $WAN accept',
    '\t\tct status dnat accept',
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    ...forwards,
    '\t}',
    '',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    ...(network.masquerade ? ['\t\toifname $WAN ip saddr $LAN_NET masquerade'] : []),
    '\t}',
    '}',
  ]
  return `${lines.join('\n')}\n`
}

/** Options of {@link renderNftablesServiceConfig}. */
export interface NftablesServiceOptions {
  /** The rules file the service loads. @default '/etc/nftables.nft' */
  rulesFile?: string
}

/**
 * `/etc/conf.d/nftables` for Alpine's nftables service: our rules file, no saving of the live
 * ruleset on stop (the rendered file is the truth), and IP forwarding turned on at start/reload.
 * @throws ApplianceRenderError when `rulesFile` is not a plain absolute path.
 */
export function renderNftablesServiceConfig(network: Pick<ApplianceNetwork, 'name'>, opts: NftablesServiceOptions = {}): string {
  const rules = assertPath(opts.rulesFile ?? '/etc/nftables.nft', 'rulesFile')
  return `${renderedHeader(network)}\nrules_file="${rules}"\nsave_on_stop="no"\nenable_forwarding="yes"\n`
}
