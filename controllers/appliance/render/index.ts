/**
 * Pure renderers of the network appliance's config files (issue 12): resolve an Appliance and
 * its Apps into a LAN description, render dnsmasq, Caddy and nftables files from it, hash them,
 * decide the service actions a change needs, and describe changes as plan lines.
 */
export { ApplianceRenderError } from './errors.js'
export { appMacAddress } from './mac.js'
export { resolveApplianceNetwork, type ApplianceNetwork, type HostEntry, type LanApp, type PortForward, type ProxyRoute, type ResolveNetworkOptions } from './network.js'
export { renderDhcpHosts, renderDnsmasqConfig, renderHostsFile, renderedHeader, type DnsmasqConfigOptions } from './dnsmasq.js'
export { renderCaddyfile, type CaddyfileOptions } from './caddy.js'
export { renderNftables, renderNftablesServiceConfig, type NftablesOptions, type NftablesServiceOptions } from './nftables.js'
export {
  APPLIANCE_FILES,
  changedFiles,
  contentHash,
  renderApplianceFiles,
  serviceCommandsFor,
  type ApplianceFileId,
  type ApplianceFileSpec,
  type ApplianceService,
  type RenderApplianceFilesOptions,
  type RenderedApplianceFile,
  type ServiceAction,
  type ServiceCommand,
} from './files.js'
export { describeFileChanges } from './diff.js'
