/**
 * The network appliance's services inside a simulated Alpine container (issue 12 §6): OpenRC
 * `start|restart|reload|checkconfig` of dnsmasq, caddy and nftables that check the config with
 * the real binaries (ct-config-check.ts) and keep the old config when the check fails, the
 * check commands themselves (`dnsmasq --test`, `caddy validate`, `nft -c -f`), and the probes
 * the controller and `diagnose` use: `nslookup`, `nft list table`, `sysctl -n`, leases, the
 * Caddy admin API and HTTP through the proxy to apps on the LAN (peers: running containers on
 * the same node with a NIC on the LAN bridge). What a service "runs" is the file content at its
 * last successful start or reload, so a rejected reload visibly keeps the old config.
 */
import { checkConfig, type CheckedService } from './ct-config-check.js'
import type { CmdResult, CtContext } from './ct-state.js'
import { result } from './ct-state.js'

/** The appliance services whose config the simulator checks. */
export const APPLIANCE_SERVICES: ReadonlySet<string> = new Set(['dnsmasq', 'caddy', 'nftables'])

/** A container on the same node, as seen from the LAN. */
export interface LanPeer {
  vmid: number
  /** net[n] → its property map (bridge, hwaddr, ip …). */
  nets: Record<string, Record<string, string>>
  /** True when something in the peer listens on `port`. */
  listens(port: number): boolean
}

/** State the appliance services keep in the container's runtime slot. */
export interface ApplianceRuntime {
  /** service → path → content loaded at the last successful start/reload. */
  loaded: Record<string, Record<string, string>>
  /** service → successful reloads and restarts, for tests ("no service reloaded"). */
  reloads: Record<string, number>
  /** Fault injection: service → reloads/restarts still to fail, and with what message. */
  failing?: Record<string, { message: string; count: number }>
}

/** Fault injection (FaultApi.failServiceReload): the next `count` reloads/restarts of `svc` fail. */
export function failServiceReload(runtime: Record<string, unknown>, svc: string, message: string, count: number): void {
  const r = runtime as { appliance?: ApplianceRuntime }
  r.appliance ??= { loaded: {}, reloads: {} }
  ;(r.appliance.failing ??= {})[svc] = { message, count }
}

/** Takes one injected failure of `svc`, if any. */
function injected(ctx: CtContext, svc: string): string | undefined {
  const f = applianceRuntime(ctx).failing?.[svc]
  if (!f || f.count <= 0) return undefined
  f.count--
  return f.message
}

const LEASES = '/var/lib/misc/dnsmasq.leases'
const LOG = '/var/log/messages'
const MAIN: Record<CheckedService, string> = { dnsmasq: '/etc/dnsmasq.conf', caddy: '/etc/caddy/Caddyfile', nftables: '/etc/nftables.nft' }

/** The appliance part of the runtime (created on first use). */
export function applianceRuntime(ctx: CtContext): ApplianceRuntime {
  const s = ctx.state as unknown as { appliance?: ApplianceRuntime }
  return (s.appliance ??= { loaded: {}, reloads: {} })
}

const read = (ctx: CtContext, path: string): string | undefined => (ctx.fs.isFile(path) ? ctx.fs.read(path).toString('utf8') : undefined)

function log(ctx: CtContext, line: string): void {
  if (!ctx.fs.isDir('/var/log')) return
  const stamp = new Date(ctx.now()).toISOString().replace('T', ' ').slice(0, 19)
  ctx.fs.write(LOG, `${read(ctx, LOG) ?? ''}${stamp} ${line}\n`)
}

/** The files a service reads when it (re)loads: its main file, and for dnsmasq the hosts files it names. */
function filesOf(ctx: CtContext, svc: CheckedService): string[] {
  if (svc === 'nftables') return [MAIN.nftables, '/etc/conf.d/nftables']
  if (svc === 'caddy') return [MAIN.caddy]
  const conf = read(ctx, MAIN.dnsmasq) ?? ''
  const extra = [...conf.matchAll(/^(?:addn-hosts|dhcp-hostsfile)=(\S+)$/gm)].map((m) => m[1])
  return [MAIN.dnsmasq, ...extra]
}

/** Runs the real check of the service's main file; a missing file fails like the binary does. */
async function check(ctx: CtContext, svc: CheckedService, path = MAIN[svc]): Promise<{ ok: boolean; message: string }> {
  const content = read(ctx, path)
  if (content === undefined) {
    const message = svc === 'dnsmasq' ? `dnsmasq: cannot read ${path}: No such file or directory` : svc === 'caddy' ? `Error: reading config file: open ${path}: no such file or directory` : `Error: Could not process rule: No such file or directory`
    return { ok: false, message }
  }
  return checkConfig(svc, content, path)
}

function load(ctx: CtContext, svc: CheckedService): void {
  const rt = applianceRuntime(ctx)
  rt.loaded[svc] = Object.fromEntries(filesOf(ctx, svc).flatMap((p) => (read(ctx, p) === undefined ? [] : [[p, read(ctx, p)!]])))
  if (svc === 'dnsmasq') {
    const hosts = Object.entries(rt.loaded.dnsmasq ?? {}).filter(([p]) => p !== MAIN.dnsmasq)
    log(ctx, `dnsmasq[1]: read ${hosts.map(([p, c]) => `${p} - ${c.split('\n').filter(Boolean).length} lines`).join(', ') || 'config'}`)
  } else log(ctx, `${svc}: configuration loaded`)
}

/** `rc-service <dnsmasq|caddy|nftables> <op>` with config checks; other ops fall back to `generic`. */
export async function runApplianceService(ctx: CtContext, svc: CheckedService, op: string, generic: () => CmdResult): Promise<CmdResult> {
  const started = ctx.state.started.includes(svc)
  const rt = applianceRuntime(ctx)
  switch (op) {
    case 'checkconfig': {
      const c = await check(ctx, svc)
      return c.ok ? result(0, ` * Checking ${svc} configuration ...\n [ ok ]\n`) : result(1, '', `${c.message}\n * ERROR: ${svc} has detected an error in your setup`)
    }
    case 'start':
    case 'restart': {
      if (op === 'start' && started) return generic()
      const fault = op === 'restart' ? injected(ctx, svc) : undefined
      if (fault) return result(1, '', `${fault}\n * ERROR: ${svc} failed to start`)
      const c = await check(ctx, svc)
      if (!c.ok) {
        log(ctx, `${svc}: failed to ${op}: ${c.message}`)
        return result(1, ` * Starting ${svc} ...\n`, `${c.message}\n * ERROR: ${svc} failed to start`)
      }
      const r = generic()
      load(ctx, svc)
      if (op === 'restart') rt.reloads[svc] = (rt.reloads[svc] ?? 0) + 1
      return r
    }
    case 'reload': {
      if (!started) return result(1, '', ` * ${svc}: cannot 'reload' as it has not been started`)
      const fault = injected(ctx, svc)
      if (fault) {
        log(ctx, `${svc}: reload failed, old configuration kept: ${fault}`)
        return result(1, '', `${fault}\n * ERROR: ${svc} failed to reload`)
      }
      const c = await check(ctx, svc)
      if (!c.ok) {
        log(ctx, `${svc}: reload failed, old configuration kept: ${c.message}`)
        return result(1, '', `${c.message}\n * ERROR: ${svc} failed to reload`)
      }
      load(ctx, svc)
      rt.reloads[svc] = (rt.reloads[svc] ?? 0) + 1
      return result(0, ` * Reloading ${svc} configuration ...\n [ ok ]\n`)
    }
    default:
      return generic()
  }
}

/** `dnsmasq --test [-C F|--conf-file=F]` */
export async function runDnsmasq(ctx: CtContext, args: string[]): Promise<CmdResult> {
  if (args[0] !== '--test') return result(1, '', 'dnsmasq: proximity-sim runs only dnsmasq --test [--conf-file=F]')
  let path = MAIN.dnsmasq
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '-C') path = args[++i] ?? ''
    else if (args[i].startsWith('--conf-file=')) path = args[i].slice('--conf-file='.length)
  }
  const c = await check(ctx, 'dnsmasq', path)
  return c.ok ? result(0, '', 'dnsmasq: syntax check OK.\n') : result(1, '', `\n${c.message}\n`)
}

/** `caddy validate --config F --adapter caddyfile`, `caddy version` */
export async function runCaddy(ctx: CtContext, args: string[]): Promise<CmdResult> {
  if (args[0] === 'version') return result(0, 'v2.10.0 h1:sim\n')
  const at = args.indexOf('--config')
  if (args[0] !== 'validate' || at < 0 || args[args.indexOf('--adapter') + 1] !== 'caddyfile') return result(1, '', 'caddy: proximity-sim runs only caddy validate --config F --adapter caddyfile')
  const c = await check(ctx, 'caddy', args[at + 1] ?? '')
  return c.ok ? result(0, 'Valid configuration\n') : result(1, '', `${c.message}\n`)
}

/** `nft -c -f F`, `nft list table inet proximity`, `nft list ruleset` */
export async function runNft(ctx: CtContext, args: string[]): Promise<CmdResult> {
  if (args[0] === '-c' && args[1] === '-f' && args[2]) {
    const c = await check(ctx, 'nftables', args[2])
    return c.ok ? result(0) : result(1, '', `${c.message}\n`)
  }
  const loaded = ctx.state.started.includes('nftables') ? applianceRuntime(ctx).loaded.nftables?.[MAIN.nftables] : undefined
  if (args[0] === 'list' && (args[1] === 'ruleset' || (args[1] === 'table' && args.length === 4))) {
    const want = args[1] === 'table' ? `table ${args[2]} ${args[3]}` : ''
    if (!loaded || (want && !loaded.includes(`${want} {`))) return args[1] === 'ruleset' ? result(0) : result(1, '', `Error: No such file or directory\nlist table ${args[2]} ${args[3]}\n`)
    return result(0, loaded.split('\n').filter((l) => !/^(flush ruleset|define )/.test(l)).join('\n'))
  }
  return result(1, '', 'nft: proximity-sim runs only nft -c -f F and nft list table|ruleset')
}

/** `sysctl -n net.ipv4.ip_forward` */
export function runSysctl(ctx: CtContext, args: string[]): CmdResult {
  if (args[0] !== '-n' || args[1] !== 'net.ipv4.ip_forward') return result(1, '', 'sysctl: proximity-sim reads only -n net.ipv4.ip_forward')
  const conf = ctx.state.started.includes('nftables') ? applianceRuntime(ctx).loaded.nftables?.['/etc/conf.d/nftables'] : undefined
  return result(0, conf && /^enable_forwarding="yes"$/m.test(conf) ? '1\n' : '0\n')
}

/** The LAN bridge of this container: the bridge of its `eth1`. */
function lanBridge(ctx: CtContext): string | undefined {
  for (const [k, v] of Object.entries(ctx.config)) {
    if (!/^net\d+$/.test(k)) continue
    const m = props(String(v))
    if (m.name === 'eth1') return m.bridge
  }
  return undefined
}

function props(value: string): Record<string, string> {
  return Object.fromEntries(value.split(',').map((p) => { const i = p.indexOf('='); return [p.slice(0, i), p.slice(i + 1)] }))
}

/** Loaded dhcp-hosts lines of the running dnsmasq: MAC (upper) → { ip, name }. */
function reservations(ctx: CtContext): Map<string, { ip: string; name: string }> {
  const out = new Map<string, { ip: string; name: string }>()
  if (!ctx.state.started.includes('dnsmasq')) return out
  const files = applianceRuntime(ctx).loaded.dnsmasq ?? {}
  const path = /^dhcp-hostsfile=(\S+)$/m.exec(files[MAIN.dnsmasq] ?? '')?.[1]
  for (const line of (path ? files[path] ?? '' : '').split('\n')) {
    const [mac, ip, name] = line.trim().split(',')
    if (mac && ip && name) out.set(mac.toUpperCase(), { ip, name })
  }
  return out
}

/** The peer holding `ip` on this container's LAN (static address, or a lease from our dnsmasq). */
function peerAt(ctx: CtContext, ip: string): LanPeer | undefined {
  const bridge = lanBridge(ctx)
  if (!bridge || !ctx.lan) return undefined
  const leases = reservations(ctx)
  return ctx.lan.peers().find((p) =>
    Object.values(p.nets).some((n) => n.bridge === bridge && (n.ip?.split('/')[0] === ip || (n.ip === 'dhcp' && leases.get((n.hwaddr ?? '').toUpperCase())?.ip === ip))),
  )
}

/**
 * Rewrites the lease file from the loaded reservations and the peers that are up (the simulated
 * LAN's clients ask for their lease as soon as they run). Called before every command in a
 * container that runs dnsmasq; writes only when the content changes.
 */
export function refreshLeases(ctx: CtContext): void {
  if (!ctx.state.started.includes('dnsmasq') || !ctx.lan || !ctx.fs.isDir('/var/lib')) return
  const bridge = lanBridge(ctx)
  const leases = reservations(ctx)
  const expiry = Math.floor(ctx.now() / 1000) + 12 * 3600
  const lines: string[] = []
  for (const p of ctx.lan.peers()) {
    for (const n of Object.values(p.nets)) {
      const r = n.bridge === bridge && n.ip === 'dhcp' ? leases.get((n.hwaddr ?? '').toUpperCase()) : undefined
      if (r) lines.push(`${expiry} ${(n.hwaddr ?? '').toLowerCase()} ${r.ip} ${r.name} *`)
    }
  }
  const text = lines.sort((a, b) => (a.split(' ')[2] < b.split(' ')[2] ? -1 : 1)).join('\n') + (lines.length ? '\n' : '')
  const old = read(ctx, LEASES)
  const strip = (t: string): string => t.replace(/^\d+ /gm, '')
  if (old !== undefined && strip(old) === strip(text)) return
  if (!ctx.fs.isDir('/var/lib/misc')) ctx.fs.mkdir('/var/lib/misc', true)
  ctx.fs.write(LEASES, text)
}

/** `nslookup NAME [SERVER]` (busybox output) against the running dnsmasq's loaded data. */
export function runNslookup(ctx: CtContext, args: string[]): CmdResult {
  const [name, server = '127.0.0.1'] = args
  if (!name) return result(1, '', 'BusyBox v1.37.0 multi-call binary.\n\nUsage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]')
  if (!ctx.state.started.includes('dnsmasq') || !['127.0.0.1', 'localhost'].includes(server)) return result(1, ';; connection timed out; no servers could be reached\n')
  const files = applianceRuntime(ctx).loaded.dnsmasq ?? {}
  const conf = files[MAIN.dnsmasq] ?? ''
  const domain = /^domain=([^,\s]+)/m.exec(conf)?.[1] ?? ''
  const hostsPath = /^addn-hosts=(\S+)$/m.exec(conf)?.[1]
  const fq = (n: string): string => (n.includes('.') || !domain ? n : `${n}.${domain}`)
  const answers = new Map<string, string>()
  for (const line of (hostsPath ? files[hostsPath] ?? '' : '').split('\n')) {
    const [ip, ...names] = line.trim().split(/\s+/)
    if (ip && !ip.startsWith('#')) for (const n of names) if (!answers.has(fq(n))) answers.set(fq(n), ip)
  }
  for (const line of (read(ctx, LEASES) ?? '').split('\n')) {
    const [, , ip, n] = line.split(' ')
    if (ip && n && n !== '*' && !answers.has(fq(n))) answers.set(fq(n), ip)
  }
  const head = `Server:\t\t127.0.0.1\nAddress:\t127.0.0.1:53\n\n`
  const ip = answers.get(fq(name.toLowerCase()))
  if (!ip) return result(1, head, `** server can't find ${fq(name)}: NXDOMAIN\n`)
  return result(0, `${head}Name:\t${fq(name.toLowerCase())}\nAddress: ${ip}\n\n`)
}

/** Routes of the loaded Caddyfile: host → upstream `IP:PORT`. */
function caddyRoutes(ctx: CtContext): Map<string, string> {
  const out = new Map<string, string>()
  if (!ctx.state.started.includes('caddy')) return out
  let host: string | undefined
  for (const raw of (applianceRuntime(ctx).loaded.caddy?.[MAIN.caddy] ?? '').split('\n')) {
    const l = raw.trim()
    const site = /^(?:https?:\/\/)?([a-z0-9.-]+) \{$/i.exec(l)
    if (site && !raw.startsWith('\t')) host = site[1].toLowerCase()
    else if (host && l.startsWith('reverse_proxy ')) out.set(host, l.split(/\s+/)[1])
    else if (l === '}' && !raw.startsWith('\t')) host = undefined
  }
  return out
}

/**
 * HTTP the appliance can answer (for `wget`): Caddy's admin API on localhost:2019, requests to
 * the proxy on 127.0.0.1:80/443 with a `Host` header, and direct requests to apps on the LAN.
 * Undefined when the URL is none of these (the caller's own listener logic applies).
 */
export function applianceHttp(ctx: CtContext, host: string, port: number, path: string, hostHeader?: string): { status: number; body: string } | 'refused' | undefined {
  const local = host === '127.0.0.1' || host === 'localhost'
  if (local && port === 2019) {
    if (!ctx.state.started.includes('caddy')) return 'refused'
    const routes = [...caddyRoutes(ctx)]
    if (path.startsWith('/reverse_proxy/upstreams')) return { status: 200, body: `${JSON.stringify(routes.map(([, dial]) => ({ address: dial, num_requests: 0, fails: upstreamUp(ctx, dial) ? 0 : 1 })))}\n` }
    if (path.startsWith('/config')) {
      const server = { listen: [':443', ':80'], routes: routes.map(([h, dial]) => ({ match: [{ host: [h] }], handle: [{ handler: 'reverse_proxy', upstreams: [{ dial }] }] })) }
      return { status: 200, body: `${JSON.stringify({ admin: { listen: 'localhost:2019' }, apps: { http: { servers: { srv0: server } } } })}\n` }
    }
    return { status: 404, body: '' }
  }
  if (local && (port === 80 || port === 443) && ctx.state.started.includes('caddy')) {
    const dial = hostHeader ? caddyRoutes(ctx).get(hostHeader.toLowerCase()) : undefined
    if (!dial) return { status: 404, body: '' }
    return upstreamUp(ctx, dial) ? { status: 200, body: 'ok\n' } : { status: 502, body: '' }
  }
  if (local) return undefined
  const peer = peerAt(ctx, host)
  if (!peer) return lanBridge(ctx) && isLanAddress(ctx, host) ? 'refused' : undefined
  return peer.listens(port) ? { status: 200, body: 'ok\n' } : 'refused'
}

function upstreamUp(ctx: CtContext, dial: string): boolean {
  const [ip, port] = dial.split(':')
  return peerAt(ctx, ip ?? '')?.listens(Number(port)) ?? false
}

/** True when `ip` is in the subnet of this container's eth1. */
function isLanAddress(ctx: CtContext, ip: string): boolean {
  const own = Object.entries(ctx.config).find(([k, v]) => /^net\d+$/.test(k) && props(String(v)).name === 'eth1')
  const cidr = own ? props(String(own[1])).ip : undefined
  if (!cidr || !cidr.includes('/')) return false
  const [net, bits] = cidr.split('/')
  const n = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0)
  const size = 2 ** (32 - Number(bits))
  return Math.floor(n(net) / size) === Math.floor(n(ip) / size)
}

/** `nc -z HOST PORT` to a non-local address: LAN peers by their listeners, anything else through the WAN NIC. */
export function applianceConnect(ctx: CtContext, host: string, port: number): boolean {
  const peer = peerAt(ctx, host)
  if (peer) return peer.listens(port)
  if (isLanAddress(ctx, host)) return false
  // The simulated outside world answers whenever the container has a NIC that is not its LAN.
  return Object.entries(ctx.config).some(([k, v]) => /^net\d+$/.test(k) && props(String(v)).name !== 'eth1')
}
