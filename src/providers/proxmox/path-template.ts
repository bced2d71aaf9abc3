/**
 * Maps proxmox-api's path templates (`/api2/json/nodes/* /lxc/* /config`, one `*` per `$()`
 * argument) to the schema's named form (`/nodes/{node}/lxc/{vmid}/config`), the form used in
 * errors, audit entries, metrics and the simulator's request log.
 */

const API_PREFIX = '/api2/json'

// Parameter name by the segment before it (derived from pve-apidata-9.1.json, all 435 paths).
const BY_PARENT: Record<string, string> = {
  nodes: 'node', lxc: 'vmid', qemu: 'vmid', tasks: 'upid', storage: 'storage', content: 'volume',
  snapshot: 'snapname', backup: 'id', network: 'iface', resources: 'sid', pools: 'poolid',
  users: 'userid', token: 'tokenid', roles: 'roleid', domains: 'realm', tfa: 'userid',
  replication: 'id', server: 'id', sendmail: 'name', gotify: 'name', smtp: 'name', webhook: 'name',
  targets: 'name', matchers: 'name', groups: 'group', rules: 'pos', ipset: 'name', aliases: 'name',
  plugins: 'id', account: 'name', flags: 'flag', 'realm-sync': 'id', dir: 'id', pci: 'id',
  usb: 'id', vnets: 'vnet', subnets: 'subnet', zones: 'zone', controllers: 'controller',
  ipams: 'ipam', dns: 'dns', fabric: 'id', node: 'fabric_id', osd: 'osdid', mds: 'name',
  mgr: 'id', mon: 'monid', fs: 'name', pool: 'name', services: 'service', lvm: 'name',
  lvmthin: 'name', directory: 'name', zfs: 'name', fabrics: 'fabric',
}

// A parameter directly after another parameter, by the name of the first one.
const BY_PREVIOUS_PARAM: Record<string, string> = {
  group: 'pos', name: 'cidr', fabric_id: 'node_id', userid: 'id', groupid: 'id',
}

// Places where the same parent segment names its parameter differently.
const OVERRIDES: { prefix: RegExp; parent: string; name: string }[] = [
  { prefix: /^\/access\/groups$/, parent: 'groups', name: 'groupid' },
  { prefix: /^\/cluster\/ha\/rules$/, parent: 'rules', name: 'rule' },
  { prefix: /^\/nodes\/\{node\}\/hardware\/pci$/, parent: 'pci', name: 'pci-id-or-mapping' },
]

/**
 * Named template for a proxmox-api template. Unknown parents become `{param}`; the `/api2/json`
 * prefix is dropped. Pure.
 */
export function namedPathTemplate(starTemplate: string): string {
  const rest = starTemplate.startsWith(API_PREFIX) ? starTemplate.slice(API_PREFIX.length) : starTemplate
  const segments = rest.split('/').filter((s) => s !== '')
  const out: string[] = []
  let previousParam: string | undefined
  for (const seg of segments) {
    if (seg !== '*') {
      out.push(seg)
      previousParam = undefined
      continue
    }
    const prefix = `/${out.join('/')}`
    const parent = out[out.length - 1] ?? ''
    let name: string | undefined
    if (previousParam !== undefined) name = BY_PREVIOUS_PARAM[previousParam]
    else name = OVERRIDES.find((o) => o.parent === parent && o.prefix.test(prefix))?.name ?? BY_PARENT[parent]
    const param = name ?? 'param'
    out.push(`{${param}}`)
    previousParam = param
  }
  return `/${out.join('/')}`
}

/** The API path without `/api2/json`, for messages (never carries query strings). */
export function apiRelativePath(path: string): string {
  return path.startsWith(API_PREFIX) ? path.slice(API_PREFIX.length) || '/' : path
}
