/**
 * The appliance's config files as data (REFERENCE §1): where each file lives, which service
 * owns it and what that service must do after the file changed, plus the one function that
 * renders all of them, a content hash, and the service actions a set of changed files needs.
 * Pure: the controller compares hashes with what it reads back from the appliance, pushes the
 * changed files and runs the actions (a fixed `rc-service` vocabulary, never text from input).
 */
import { createHash } from 'node:crypto'
import { renderCaddyfile } from './caddy.js'
import { renderDhcpHosts, renderDnsmasqConfig, renderHostsFile } from './dnsmasq.js'
import type { ApplianceNetwork } from './network.js'
import { renderNftables, renderNftablesServiceConfig } from './nftables.js'
import { assertPath } from './tokens.js'

/** Stable ids of the rendered files. */
export type ApplianceFileId = 'dnsmasq-conf' | 'dhcp-hosts' | 'hosts' | 'caddyfile' | 'nftables' | 'nftables-service'

/** A service in the appliance. */
export type ApplianceService = 'dnsmasq' | 'caddy' | 'nftables'

/** What a service must do after one of its files changed. */
export type ServiceAction = 'restart' | 'reload'

/** One row of {@link APPLIANCE_FILES}. */
export interface ApplianceFileSpec {
  id: ApplianceFileId
  /** Default path inside the appliance. */
  path: string
  service: ApplianceService
  action: ServiceAction
  /** Octal file mode; the dnsmasq files must stay readable by the `dnsmasq` user (trap 8). */
  mode: number
  /** Why this action: the reload semantics observed with the real binaries. */
  why: string
}

/**
 * Every file the appliance gets, in the order they are pushed, with the action a change needs.
 * `restart` for dnsmasq's main file because SIGHUP never re-reads it (REFERENCE §2.4); `reload`
 * for everything else: dnsmasq re-reads the hosts files on SIGHUP, Caddy reloads gracefully and
 * keeps the old config when the new one fails, `nft -f` of a file starting with `flush ruleset`
 * is atomic.
 */
export const APPLIANCE_FILES: readonly ApplianceFileSpec[] = Object.freeze([
  { id: 'nftables-service', path: '/etc/conf.d/nftables', service: 'nftables', action: 'reload', mode: 0o644, why: 'enable_forwarding is applied on start and reload' },
  { id: 'nftables', path: '/etc/nftables.nft', service: 'nftables', action: 'reload', mode: 0o644, why: 'reload runs nft -f, which replaces the ruleset atomically' },
  { id: 'dnsmasq-conf', path: '/etc/dnsmasq.conf', service: 'dnsmasq', action: 'restart', mode: 0o644, why: 'SIGHUP does not re-read the main config; leases survive a restart' },
  { id: 'dhcp-hosts', path: '/etc/proximity/dhcp-hosts', service: 'dnsmasq', action: 'reload', mode: 0o644, why: 'dhcp-hostsfile is re-read on SIGHUP' },
  { id: 'hosts', path: '/etc/proximity/hosts', service: 'dnsmasq', action: 'reload', mode: 0o644, why: 'addn-hosts is re-read on SIGHUP' },
  { id: 'caddyfile', path: '/etc/caddy/Caddyfile', service: 'caddy', action: 'reload', mode: 0o644, why: 'caddy reload is graceful and keeps the old config on error' },
].map((f) => Object.freeze(f as ApplianceFileSpec)))

/** A rendered file: its row of {@link APPLIANCE_FILES} (path possibly overridden), text and hash. */
export interface RenderedApplianceFile extends ApplianceFileSpec {
  content: string
  /** {@link contentHash} of `content`. */
  hash: string
}

/** Options of {@link renderApplianceFiles}. */
export interface RenderApplianceFilesOptions {
  /** @default 'eth0' */
  wanInterface?: string
  /** @default 'eth1' */
  lanInterface?: string
  /** Paths that differ from {@link APPLIANCE_FILES} (tests put the files in a scratch folder). */
  paths?: Partial<Record<ApplianceFileId, string>>
  /** dnsmasq's lease database; left to the service by default. @default undefined */
  leaseFile?: string
}

/** sha256 of the UTF-8 content, hex: what the controller compares before pushing a file. */
export function contentHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex')
}

/**
 * Renders every file of {@link APPLIANCE_FILES} for `network`, in table order. Deterministic:
 * the same network and options give byte-identical files (and hashes) on every run.
 * @throws ApplianceRenderError on any value that cannot be written safely.
 */
export function renderApplianceFiles(network: ApplianceNetwork, opts: RenderApplianceFilesOptions = {}): RenderedApplianceFile[] {
  const path = (id: ApplianceFileId): string => assertPath(opts.paths?.[id] ?? APPLIANCE_FILES.find((f) => f.id === id)!.path, `paths.${id}`)
  const ifaces = { wanInterface: opts.wanInterface, lanInterface: opts.lanInterface }
  const content: Record<ApplianceFileId, () => string> = {
    'nftables-service': () => renderNftablesServiceConfig(network, { rulesFile: path('nftables') }),
    nftables: () => renderNftables(network, ifaces),
    'dnsmasq-conf': () => renderDnsmasqConfig(network, { lanInterface: opts.lanInterface, hostsFile: path('hosts'), dhcpHostsFile: path('dhcp-hosts'), leaseFile: opts.leaseFile }),
    'dhcp-hosts': () => renderDhcpHosts(network),
    hosts: () => renderHostsFile(network),
    caddyfile: () => renderCaddyfile(network),
  }
  return APPLIANCE_FILES.map((f) => {
    const text = content[f.id]()
    return { ...f, path: path(f.id), content: text, hash: contentHash(text) }
  })
}

/** One service command the controller runs after pushing files: `rc-service <service> <action>`. */
export interface ServiceCommand {
  service: ApplianceService
  action: ServiceAction
  /** argv, from a fixed vocabulary. */
  argv: readonly string[]
  /** The changed files that call for it. */
  files: ApplianceFileId[]
}

const SERVICE_ORDER: readonly ApplianceService[] = ['nftables', 'dnsmasq', 'caddy']

/**
 * The service commands a set of changed files needs: at most one per service, `restart` when
 * any of its changed files needs one (a restart also re-reads the reloadable files), else
 * `reload`; firewall first, then DNS/DHCP, then the proxy. Unchanged services get nothing, so
 * an unchanged appliance gets no command at all.
 */
export function serviceCommandsFor(changed: Iterable<ApplianceFileId>): ServiceCommand[] {
  const ids = new Set(changed)
  const out: ServiceCommand[] = []
  for (const service of SERVICE_ORDER) {
    const files = APPLIANCE_FILES.filter((f) => f.service === service && ids.has(f.id))
    if (!files.length) continue
    const action: ServiceAction = files.some((f) => f.action === 'restart') ? 'restart' : 'reload'
    out.push({ service, action, argv: Object.freeze(['rc-service', service, action]), files: files.map((f) => f.id) })
  }
  return out
}

/**
 * The rendered files whose hash differs from `observed` (file id → hash of the content read back
 * from the appliance; a missing entry means the file is absent there).
 */
export function changedFiles(rendered: readonly RenderedApplianceFile[], observed: Partial<Record<ApplianceFileId, string>>): RenderedApplianceFile[] {
  return rendered.filter((f) => observed[f.id] !== f.hash)
}
