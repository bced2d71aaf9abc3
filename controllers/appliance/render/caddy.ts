/**
 * The appliance's Caddyfile (REFERENCE §3): one site per proxy route, `tls internal` for the
 * local CA, Caddy's automatic ACME for `acme`, a plain `http://` site for `none`. Always renders
 * the global block (an empty Caddyfile is invalid, trap 10), keeps the admin API on loopback (reload
 * and health checks use it, trap 11) and never installs the local CA into a trust store. The
 * output is already in `caddy fmt` form (tabs, one blank line between blocks). Pure.
 */
import { ApplianceRenderError } from './errors.js'
import type { ApplianceNetwork } from './network.js'
import { renderedHeader } from './dnsmasq.js'
import { assertEmail, assertHost, assertIpv4, assertPort } from './tokens.js'

/** Options of {@link renderCaddyfile}. */
export interface CaddyfileOptions {
  /** Admin API listener; must stay on loopback. @default 'localhost:2019' */
  adminAddress?: string
}

const ADMIN = /^(localhost|127\.0\.0\.1|\[::1\]):([0-9]{1,5})$/

/**
 * `/etc/caddy/Caddyfile` for `network`, sites sorted by host. The ACME account e-mail, when
 * set, is the global `email` option, used by every `acme` route.
 * @throws ApplianceRenderError on a token that is not a plain host, address, port or e-mail,
 *   or an admin address off loopback.
 */
export function renderCaddyfile(network: ApplianceNetwork, opts: CaddyfileOptions = {}): string {
  const admin = opts.adminAddress ?? 'localhost:2019'
  const m = ADMIN.exec(admin)
  if (!m) throw new ApplianceRenderError('adminAddress', `${JSON.stringify(admin)} is not a loopback host:port such as localhost:2019`)
  assertPort(Number(m[2]), 'adminAddress')
  const global = [`\tadmin ${admin}`]
  if (network.acmeEmail !== undefined) global.push(`\temail ${assertEmail(network.acmeEmail, 'proxy.acmeEmail')}`)
  global.push('\tskip_install_trust')
  const blocks = [`${renderedHeader(network)}\n{\n${global.join('\n')}\n}`]
  const seen = new Set<string>()
  for (const r of [...network.routes].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))) {
    const field = `App/${r.app} expose ${r.host}`
    const host = assertHost(r.host, field)
    if (seen.has(host)) throw new ApplianceRenderError(field, `host ${host} has two routes; Caddy refuses an ambiguous site`)
    seen.add(host)
    const upstream = `${assertIpv4(r.ip, field)}:${assertPort(r.port, field)}`
    if (r.tls === 'internal') blocks.push(`${host} {\n\ttls internal\n\treverse_proxy ${upstream}\n}`)
    else if (r.tls === 'acme') blocks.push(`${host} {\n\treverse_proxy ${upstream}\n}`)
    else if (r.tls === 'none') blocks.push(`http://${host} {\n\treverse_proxy ${upstream}\n}`)
    else throw new ApplianceRenderError(field, `tls ${JSON.stringify(r.tls)} is not internal, acme or none`)
  }
  return `${blocks.join('\n\n')}\n`
}
