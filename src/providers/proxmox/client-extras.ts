/**
 * The PveClient calls for the network side of Proximity (host bridges, CT firewall, HA, pools,
 * task lists), split from client.ts to keep each file readable. Same rules: typed proxy over our
 * engine, every mutating call audited, failures as PveApiError.
 */
import type { Proxmox } from 'proxmox-api'
import { PveApiError } from './errors.js'
import type { FirewallRule, HaResource, NodeNetworkIface, PoolInfo, PveClient, TaskListItem, Upid } from './types.js'

type Params = Record<string, string | number | boolean>

/** Runs one mutating call and reports it to the audit hook (see client.ts). */
export type Mutate = <T>(action: string, target: string | undefined, call: () => Promise<T>) => Promise<T>

type Extras = Pick<
  PveClient,
  | 'nodeNetworks' | 'createNetwork' | 'updateNetwork' | 'deleteNetwork' | 'applyNetwork' | 'revertNetwork'
  | 'firewallRules' | 'createFirewallRule' | 'updateFirewallRule' | 'deleteFirewallRule' | 'firewallOptions' | 'updateFirewallOptions'
  | 'haResources' | 'createHaResource' | 'updateHaResource' | 'deleteHaResource'
  | 'pools' | 'createPool' | 'updatePool' | 'deletePool'
  | 'listTasks'
>

const expectUpid = (value: unknown, method: string, pathTemplate: string): Upid => {
  if (typeof value === 'string' && value.startsWith('UPID:')) return value
  throw new PveApiError({ kind: 'protocol', status: 200, reason: 'no upid', message: `${method} ${pathTemplate}: expected a task id, got ${JSON.stringify(value)}`, method, pathTemplate })
}

/** Builds the network-side methods over the typed proxy. Pure wiring; no I/O until called. */
export function networkSideMethods(api: Proxmox.Api, mutate: Mutate): Extras {
  const net = (node: string) => api.nodes.$(node).network
  const fw = (node: string, vmid: number) => api.nodes.$(node).lxc.$(vmid).firewall
  // The PVE 8 typings lack the PVE 9 pool forms (PUT/DELETE /pools with poolid); use a loose view.
  const pools = api.pools as unknown as {
    $get(p?: { poolid?: string }): Promise<unknown>
    $post(p: Params): Promise<unknown>
    $put(p: Params): Promise<unknown>
    $delete(p: Params): Promise<unknown>
  }

  return {
    async nodeNetworks(node, type) {
      return (await net(node).$get(type === undefined ? {} : { type: type as never })) as unknown as NodeNetworkIface[]
    },
    async createNetwork(node, params) {
      const target = typeof params['iface'] === 'string' ? `node/${node}/network/${params['iface']}` : `node/${node}`
      await mutate('POST /nodes/{node}/network', target, () => net(node).$post(params as never))
    },
    async updateNetwork(node, iface, params) {
      await mutate('PUT /nodes/{node}/network/{iface}', `node/${node}/network/${iface}`, () => net(node).$(iface).$put(params as never))
    },
    async deleteNetwork(node, iface) {
      await mutate('DELETE /nodes/{node}/network/{iface}', `node/${node}/network/${iface}`, () => net(node).$(iface).$delete())
    },
    async applyNetwork(node) {
      return mutate('PUT /nodes/{node}/network', `node/${node}`, async () => expectUpid(await net(node).$put(), 'PUT', '/nodes/{node}/network'))
    },
    async revertNetwork(node) {
      await mutate('DELETE /nodes/{node}/network', `node/${node}`, () => net(node).$delete())
    },

    async firewallRules(node, vmid) {
      return (await fw(node, vmid).rules.$get()) as unknown as FirewallRule[]
    },
    async createFirewallRule(node, vmid, params) {
      await mutate('POST /nodes/{node}/lxc/{vmid}/firewall/rules', `lxc/${vmid}`, () => fw(node, vmid).rules.$post(params as never))
    },
    async updateFirewallRule(node, vmid, pos, params) {
      await mutate('PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}', `lxc/${vmid}`, () => fw(node, vmid).rules.$(String(pos)).$put(params as never))
    },
    async deleteFirewallRule(node, vmid, pos, digest) {
      await mutate('DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}', `lxc/${vmid}`, () => fw(node, vmid).rules.$(String(pos)).$delete(digest === undefined ? {} : { digest }))
    },
    async firewallOptions(node, vmid) {
      return (await fw(node, vmid).options.$get()) as unknown as Record<string, string | number>
    },
    async updateFirewallOptions(node, vmid, params) {
      await mutate('PUT /nodes/{node}/lxc/{vmid}/firewall/options', `lxc/${vmid}`, () => fw(node, vmid).options.$put(params as never))
    },

    async haResources() {
      return (await api.cluster.ha.resources.$get()) as unknown as HaResource[]
    },
    async createHaResource(params) {
      await mutate('POST /cluster/ha/resources', typeof params['sid'] === 'string' ? `ha/${params['sid']}` : 'ha', () => api.cluster.ha.resources.$post(params as never))
    },
    async updateHaResource(sid, params) {
      await mutate('PUT /cluster/ha/resources/{sid}', `ha/${sid}`, () => api.cluster.ha.resources.$(sid).$put(params as never))
    },
    async deleteHaResource(sid) {
      await mutate('DELETE /cluster/ha/resources/{sid}', `ha/${sid}`, () => api.cluster.ha.resources.$(sid).$delete())
    },

    async pools(poolid) {
      return (await pools.$get(poolid === undefined ? {} : { poolid })) as PoolInfo[]
    },
    async createPool(poolid, comment) {
      await mutate('POST /pools', `pool/${poolid}`, () => pools.$post(comment === undefined ? { poolid } : { poolid, comment }))
    },
    async updatePool(poolid, params) {
      const p: Params = { poolid }
      for (const [k, v] of Object.entries(params)) if (v !== undefined) p[k] = v
      await mutate('PUT /pools', `pool/${poolid}`, () => pools.$put(p))
    },
    async deletePool(poolid) {
      await mutate('DELETE /pools', `pool/${poolid}`, () => pools.$delete({ poolid }))
    },

    async listTasks(node, params) {
      return (await api.nodes.$(node).tasks.$get((params ?? {}) as never)) as unknown as TaskListItem[]
    },
  }
}
