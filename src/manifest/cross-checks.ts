/**
 * Step 5 of loading: checks that need several documents at once (DESIGN §2): duplicate names,
 * dangling references, dependsOn cycles, duplicate hostnames / expose hosts / static IPs, IPs
 * outside their appliance LAN, and a few per-App consistency rules. Pure.
 */
import { relative } from 'node:path'
import type { AppManifest, ApplianceManifest, BackupPolicyManifest, Manifest, ManifestError, RestoreManifest } from '../model/types.js'
import { checkBackupSchedule } from '../model/calendar-occurrence.js'
import { cidrContains, parseCidr, parseIpv4, type Cidr } from '../model/ipv4.js'
import { suggest } from './ajv-messages.js'
import { errorAt, identity } from './located.js'
import type { FieldPath } from './locate.js'
import type { ParsedDoc } from './yaml-docs.js'

/** A document and, when it passed schema validation and normalisation, its manifest. */
export interface CheckedDoc {
  d: ParsedDoc
  manifest?: Manifest
}

/** Runs every cross-object check; `cwd` only shapes file names inside messages. */
export function crossCheck(all: CheckedDoc[], cwd: string): ManifestError[] {
  const errors: ManifestError[] = []
  const where = (d: ParsedDoc): string => `${relative(cwd, d.file) || d.file}:${d.line}`

  // Duplicate Kind/name, and more than one Cluster.
  const firstByKey = new Map<string, ParsedDoc>()
  let cluster: ParsedDoc | undefined
  for (const { d } of all) {
    const { kind, name } = identity(d)
    if (!kind || !name) continue
    if (kind === 'Cluster') {
      if (cluster) errors.push(errorAt(d, ['kind'], `only one Cluster is allowed; another is defined at ${where(cluster)}`))
      else cluster = d
    }
    const key = `${kind}/${name}`
    const first = firstByKey.get(key)
    if (first) errors.push(errorAt(d, ['metadata', 'name'], `duplicate ${key}; also defined at ${where(first)}; rename one of them`))
    else firstByKey.set(key, d)
  }
  const namesOf = (kind: string): string[] => [...firstByKey.keys()].filter((k) => k.startsWith(`${kind}/`)).map((k) => k.slice(kind.length + 1))
  const appNames = namesOf('App')
  const applianceNames = namesOf('Appliance')
  const dangling = (d: ParsedDoc, path: FieldPath, kind: string, name: string, options: string[]): void => {
    const s = suggest(name, options)
    errors.push(errorAt(d, path, `${kind} "${name}" is not defined${s ? `; did you mean "${s}"?` : `; add ${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind} manifest or fix the name`}`))
  }

  const apps = all.filter((c): c is { d: ParsedDoc; manifest: AppManifest } => c.manifest?.kind === 'App')
  const appliances = all.filter((c): c is { d: ParsedDoc; manifest: ApplianceManifest } => c.manifest?.kind === 'Appliance')
  const applianceByName = new Map(appliances.map((a) => [a.manifest.metadata.name, a.manifest]))

  // References.
  for (const { d, manifest } of apps) {
    const s = manifest.spec
    const raw = (d.value.spec ?? {}) as Record<string, unknown>
    const rawNet = (raw.network ?? {}) as Record<string, unknown>
    if (s.network.appliance && !applianceNames.includes(s.network.appliance)) dangling(d, ['spec', 'network', 'appliance'], 'Appliance', s.network.appliance, applianceNames)
    if (s.network.appliance && rawNet.bridge !== undefined) errors.push(errorAt(d, ['spec', 'network', 'bridge'], 'set either network.appliance or network.bridge, not both (the appliance decides the bridge)', 'key'))
    if (s.node && s.placement) errors.push(errorAt(d, ['spec', 'placement'], 'set either node or placement, not both', 'key'))
    s.dependsOn.forEach((dep, i) => {
      if (dep === manifest.metadata.name) errors.push(errorAt(d, ['spec', 'dependsOn', i], `App "${dep}" cannot depend on itself`))
      else if (!appNames.includes(dep)) dangling(d, ['spec', 'dependsOn', i], 'App', dep, appNames)
    })
    const rawEnv = (raw.env ?? {}) as Record<string, unknown>
    for (const k of Object.keys((raw.secrets ?? {}) as object)) {
      if (k in rawEnv) errors.push(errorAt(d, ['spec', 'env', k], `"${k}" is set in both env and secrets; keep only one`, 'key'))
    }
    const seenVol = new Map<string, number>()
    const seenPath = new Map<string, number>()
    s.volumes.forEach((v, i) => {
      if (seenVol.has(v.name)) errors.push(errorAt(d, ['spec', 'volumes', i, 'name'], `volume name "${v.name}" is used twice; names must be unique within the app`))
      if (seenPath.has(v.path.replace(/\/$/, ''))) errors.push(errorAt(d, ['spec', 'volumes', i, 'path'], `path "${v.path}" is mounted twice; each volume needs its own path`))
      seenVol.set(v.name, i)
      seenPath.set(v.path.replace(/\/$/, ''), i)
    })
  }
  for (const { d, manifest } of all.filter((c): c is { d: ParsedDoc; manifest: BackupPolicyManifest } => c.manifest?.kind === 'BackupPolicy')) {
    // The schema only filters characters; the calendar grammar (and "fires at all") is checked here.
    const problem = checkBackupSchedule(manifest.spec.schedule)
    if (problem) errors.push(errorAt(d, ['spec', 'schedule'], `must be a Proxmox calendar event: ${problem}`))
    manifest.spec.selector.apps?.forEach((a, i) => {
      if (!appNames.includes(a)) dangling(d, ['spec', 'selector', 'apps', i], 'App', a, appNames)
    })
  }
  for (const { d, manifest } of all.filter((c): c is { d: ParsedDoc; manifest: RestoreManifest } => c.manifest?.kind === 'Restore')) {
    if (!appNames.includes(manifest.spec.app)) dangling(d, ['spec', 'app'], 'App', manifest.spec.app, appNames)
  }

  errors.push(...dependsOnCycles(apps))

  // Hostnames and expose hosts.
  const hostFirst = new Map<string, ParsedDoc>()
  const exposeFirst = new Map<string, ParsedDoc>()
  for (const { d, manifest } of apps) {
    const h = manifest.spec.hostname.toLowerCase()
    const raw = (d.value.spec ?? {}) as Record<string, unknown>
    const path: FieldPath = raw.hostname !== undefined ? ['spec', 'hostname'] : ['metadata', 'name']
    const first = hostFirst.get(h)
    if (first) errors.push(errorAt(d, path, `hostname "${h}" is already used by App "${identity(first).name}" at ${where(first)}; set a different spec.hostname`))
    else hostFirst.set(h, d)
    manifest.spec.expose.forEach((x, i) => {
      if (!x.host) return
      const host = x.host.toLowerCase()
      const f = exposeFirst.get(host)
      if (f) errors.push(errorAt(d, ['spec', 'expose', i, 'host'], `expose host "${host}" is already used by App "${identity(f).name}" at ${where(f)}`))
      else exposeFirst.set(host, d)
    })
  }

  // An explicit expose host must not take another App's default name <app>.<domain>.
  const defaultHost = new Map<string, string>()
  for (const { manifest } of apps) {
    const a = manifest.spec.network.appliance ? applianceByName.get(manifest.spec.network.appliance) : undefined
    if (a) defaultHost.set(`${manifest.metadata.name}.${a.spec.dns.domain}`.toLowerCase(), manifest.metadata.name)
  }
  for (const { d, manifest } of apps) {
    manifest.spec.expose.forEach((x, i) => {
      const owner = x.host ? defaultHost.get(x.host.toLowerCase()) : undefined
      if (owner && owner !== manifest.metadata.name) errors.push(errorAt(d, ['spec', 'expose', i, 'host'], `expose host "${x.host}" is the default name of App "${owner}"; pick another host name`))
    })
  }

  // Appliance LANs and static IPs.
  const ipFirst = new Map<number, { d: ParsedDoc; what: string }>()
  const claimIp = (d: ParsedDoc, path: FieldPath, ip: number, text: string, what: string): void => {
    const f = ipFirst.get(ip)
    if (f) errors.push(errorAt(d, path, `IP ${text} is already used by ${f.what} at ${where(f.d)}; pick another address`))
    else ipFirst.set(ip, { d, what })
  }
  // Per appliance: the DHCP pool, so static addresses can be kept out of it.
  const pools = new Map<string, { start: number; end: number; text: string }>()
  const lanBridgeFirst = new Map<string, ParsedDoc>()
  for (const { d, manifest } of appliances) {
    const lanBridge = manifest.spec.lan.bridge
    const bridgePath: FieldPath = ((d.value.spec as Record<string, Record<string, unknown>> | undefined)?.lan?.bridge !== undefined) ? ['spec', 'lan', 'bridge'] : ['spec', 'lan']
    if (lanBridge && lanBridge === manifest.spec.wan?.bridge) {
      errors.push(errorAt(d, bridgePath, `lan.bridge and wan.bridge are both ${lanBridge}; the appliance would serve DHCP on its uplink network, give the LAN its own bridge`))
    }
    const otherLan = lanBridge ? lanBridgeFirst.get(lanBridge) : undefined
    if (otherLan) errors.push(errorAt(d, bridgePath, `bridge ${lanBridge} is already the LAN of Appliance "${identity(otherLan).name}" at ${where(otherLan)}; two appliances would both serve DHCP on it`))
    else if (lanBridge) lanBridgeFirst.set(lanBridge, d)
    if (manifest.spec.proxy.tls === 'acme' && !manifest.spec.proxy.acmeEmail) errors.push(errorAt(d, ['spec', 'proxy', 'tls'], 'ACME certificates need an account e-mail; set proxy.acmeEmail'))
    const rawSpec = (d.value.spec ?? {}) as Record<string, unknown>
    const rawLan = (rawSpec.lan ?? {}) as Record<string, unknown>
    const wanNet = checkWan(d, manifest, errors)
    const lan = manifest.spec.lan
    const subnet = parseCidr(lan.subnet)
    if (!subnet) continue
    if (subnet.address !== subnet.network) errors.push(errorAt(d, ['spec', 'lan', 'subnet'], `subnet must be a network address; did you mean "${fmtNet(subnet.network, subnet.prefix)}"?`))
    if (subnet.prefix > 30) {
      errors.push(errorAt(d, ['spec', 'lan', 'subnet'], `subnet /${subnet.prefix} is too small for a LAN; use /30 or larger (e.g. /24)`))
      continue
    }
    if (subnet.prefix < MIN_LAN_PREFIX) {
      errors.push(errorAt(d, ['spec', 'lan', 'subnet'], `subnet /${subnet.prefix} is too large for a LAN; use a prefix from /${MIN_LAN_PREFIX} to /30 (e.g. 10.10.0.0/24)`))
      continue
    }
    if (wanNet && wanNet.network <= subnet.broadcast && subnet.network <= wanNet.broadcast) {
      errors.push(errorAt(d, ['spec', 'lan', 'subnet'], `LAN ${lan.subnet} overlaps the WAN network ${fmtNet(wanNet.network, wanNet.prefix)}; pick a separate private range`))
    }
    const inside = (path: FieldPath, text: string): number | undefined => {
      const ip = parseIpv4(text)
      if (ip === undefined) return undefined
      if (!cidrContains(subnet, ip) || ip === subnet.network || ip === subnet.broadcast) {
        errors.push(errorAt(d, path, `${text} is not a usable address of the LAN ${lan.subnet}; pick one inside it`))
        return undefined
      }
      return ip
    }
    const gwPath: FieldPath = rawLan.gateway !== undefined ? ['spec', 'lan', 'gateway'] : ['spec', 'lan', 'subnet']
    const gw = inside(gwPath, lan.gateway)
    if (gw !== undefined) claimIp(d, gwPath, gw, lan.gateway, `Appliance "${manifest.metadata.name}"`)
    const rangePath: FieldPath = rawLan.dhcpRange !== undefined ? ['spec', 'lan', 'dhcpRange'] : ['spec', 'lan', 'subnet']
    const start = inside(rawLan.dhcpRange !== undefined ? ['spec', 'lan', 'dhcpRange', 'start'] : rangePath, lan.dhcpRange.start)
    const end = inside(rawLan.dhcpRange !== undefined ? ['spec', 'lan', 'dhcpRange', 'end'] : rangePath, lan.dhcpRange.end)
    if (start !== undefined && end !== undefined && start > end) errors.push(errorAt(d, ['spec', 'lan', 'dhcpRange', 'end'], 'dhcpRange end is before start; swap them'))
    else if (start !== undefined && end !== undefined) {
      const pool = { start, end, text: `${lan.dhcpRange.start}-${lan.dhcpRange.end}` }
      pools.set(manifest.metadata.name, pool)
      if (gw !== undefined && gw >= start && gw <= end) {
        const where2: FieldPath = rawLan.gateway !== undefined ? gwPath : rangePath
        errors.push(errorAt(d, where2, `the appliance's LAN address ${lan.gateway} is inside the DHCP range ${pool.text}; move one of them so DHCP never hands it out`))
      }
    }
    const forwarded = new Map<string, number>()
    manifest.spec.nat.portForwards.forEach((f, i) => {
      const path: FieldPath = ['spec', 'nat', 'portForwards', i, 'to']
      const [ipText, portText] = f.to.split(':')
      const port = Number(portText)
      if (!Number.isInteger(port) || port < 1 || port > 65535) errors.push(errorAt(d, path, `target port ${portText} is not a port; use 1 to 65535`))
      const ip = parseIpv4(ipText)
      if (ip !== undefined && (!cidrContains(subnet, ip) || ip === subnet.network || ip === subnet.broadcast)) {
        errors.push(errorAt(d, path, `target ${ipText} is not on the LAN ${lan.subnet}; port forwards reach apps on the appliance LAN`))
      }
      const key = `${f.protocol ?? 'tcp'}/${f.port}`
      const first = forwarded.get(key)
      if (first !== undefined) errors.push(errorAt(d, ['spec', 'nat', 'portForwards', i, 'port'], `${key} is already forwarded by portForwards[${first}]; each port can go to one target`))
      else forwarded.set(key, i)
    })
  }
  for (const { d, manifest } of apps) {
    const net = manifest.spec.network
    if (net.ip === 'dhcp') {
      if (net.gateway) errors.push(errorAt(d, ['spec', 'network', 'gateway'], 'a gateway applies only to a static network.ip; remove it or set ip to an address such as 192.168.1.20/24'))
      continue
    }
    const cidr = parseCidr(net.ip)
    if (!cidr) continue
    if (cidr.prefix < MIN_LAN_PREFIX) {
      errors.push(errorAt(d, ['spec', 'network', 'ip'], `prefix /${cidr.prefix} makes every address local; use the prefix of the app's network (/${MIN_LAN_PREFIX} to /32, e.g. /24)`))
      continue
    }
    const text = net.ip.split('/')[0]
    const appliance = net.appliance ? applianceByName.get(net.appliance) : undefined
    if (appliance) {
      const subnet = parseCidr(appliance.spec.lan.subnet)
      if (subnet && (!cidrContains(subnet, cidr.address) || cidr.address === subnet.network || cidr.address === subnet.broadcast)) {
        errors.push(errorAt(d, ['spec', 'network', 'ip'], `${text} is outside the LAN ${appliance.spec.lan.subnet} of Appliance "${net.appliance}"; pick an address inside it`))
        continue
      }
      if (subnet && cidr.prefix !== subnet.prefix) errors.push(errorAt(d, ['spec', 'network', 'ip'], `prefix /${cidr.prefix} does not match the LAN ${appliance.spec.lan.subnet}; use /${subnet.prefix}`))
      const pool = pools.get(appliance.metadata.name)
      if (pool && cidr.address >= pool.start && cidr.address <= pool.end) {
        errors.push(errorAt(d, ['spec', 'network', 'ip'], `${text} is inside the DHCP range ${pool.text} of Appliance "${net.appliance}"; pick a static address outside it`))
      }
    } else if (cidr.address === cidr.network || cidr.address === cidr.broadcast) {
      if (cidr.prefix < 31) errors.push(errorAt(d, ['spec', 'network', 'ip'], `${text} is the network or broadcast address of /${cidr.prefix}; pick a host address`))
    }
    if (net.gateway) {
      const gw = parseIpv4(net.gateway)
      if (gw !== undefined && !cidrContains(cidr, gw)) errors.push(errorAt(d, ['spec', 'network', 'gateway'], `gateway ${net.gateway} is outside ${fmtNet(cidr.network, cidr.prefix)}; it must be on the app's subnet`))
    }
    claimIp(d, ['spec', 'network', 'ip'], cidr.address, text, `App "${manifest.metadata.name}"`)
  }
  return errors
}

/** Shortest LAN prefix accepted: anything larger than a /8 is a typo, not a LAN. */
export const MIN_LAN_PREFIX = 8

/** WAN side of an appliance: a static address must be a host address with its gateway on the same network. */
function checkWan(d: ParsedDoc, a: ApplianceManifest, errors: ManifestError[]): Cidr | undefined {
  const wan = a.spec.wan
  if (!wan || wan.ip === 'dhcp' || wan.ip === undefined) {
    if (wan?.gateway) errors.push(errorAt(d, ['spec', 'wan', 'gateway'], 'a gateway applies only to a static wan.ip; remove it or set wan.ip to an address such as 192.168.1.50/24'))
    return undefined
  }
  const cidr = parseCidr(wan.ip)
  if (!cidr) return undefined
  if (cidr.prefix < MIN_LAN_PREFIX) {
    errors.push(errorAt(d, ['spec', 'wan', 'ip'], `prefix /${cidr.prefix} makes every address local; use the prefix of the uplink network (/${MIN_LAN_PREFIX} to /32, e.g. /24)`))
    return undefined
  }
  if (cidr.prefix < 31 && (cidr.address === cidr.network || cidr.address === cidr.broadcast)) {
    errors.push(errorAt(d, ['spec', 'wan', 'ip'], `${wan.ip.split('/')[0]} is the network or broadcast address of /${cidr.prefix}; pick a host address`))
  }
  if (wan.gateway) {
    const gw = parseIpv4(wan.gateway)
    if (gw !== undefined && (!cidrContains(cidr, gw) || (cidr.prefix < 31 && (gw === cidr.network || gw === cidr.broadcast)))) {
      errors.push(errorAt(d, ['spec', 'wan', 'gateway'], `gateway ${wan.gateway} is outside the WAN network ${fmtNet(cidr.network, cidr.prefix)}; it must be on the same network as wan.ip`))
    } else if (gw === cidr.address) errors.push(errorAt(d, ['spec', 'wan', 'gateway'], `gateway ${wan.gateway} is the appliance's own WAN address; use the router's address`))
  }
  return cidr
}

function fmtNet(n: number, prefix: number): string {
  return `${[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')}/${prefix}`
}

/** Finds dependsOn cycles; each cycle is reported once, on its alphabetically first App. */
function dependsOnCycles(apps: { d: ParsedDoc; manifest: AppManifest }[]): ManifestError[] {
  const byName = new Map(apps.map((a) => [a.manifest.metadata.name, a]))
  const errors: ManifestError[] = []
  const reported = new Set<string>()
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (name: string): void => {
    const st = state.get(name)
    if (st === 'done') return
    if (st === 'visiting') {
      const cycle = stack.slice(stack.indexOf(name))
      const start = cycle.reduce((a, b) => (b < a ? b : a))
      const i = cycle.indexOf(start)
      const ordered = [...cycle.slice(i), ...cycle.slice(0, i)]
      const key = ordered.join('>')
      if (reported.has(key)) return
      reported.add(key)
      const first = byName.get(start)!
      const next = ordered[1 % ordered.length]
      const idx = first.manifest.spec.dependsOn.indexOf(next)
      errors.push(errorAt(first.d, ['spec', 'dependsOn', idx], `dependsOn cycle ${[...ordered, start].join(' -> ')}; remove one of these dependencies`))
      return
    }
    state.set(name, 'visiting')
    stack.push(name)
    for (const dep of byName.get(name)?.manifest.spec.dependsOn ?? []) if (byName.has(dep) && dep !== name) visit(dep)
    stack.pop()
    state.set(name, 'done')
  }
  for (const name of [...byName.keys()].sort()) visit(name)
  return errors
}
