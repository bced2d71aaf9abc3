/**
 * The network-side PveClient calls (host bridges, CT firewall, HA, pools, task list) through
 * the real proxmox-api proxy and our engine over HTTPS against the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PveApiError } from '../../src/providers/proxmox/errors.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { startHarness, type Harness } from './sim-harness.js'

let h: Harness
let pve: PveHttpClient
let node: string
const VMID = 150

beforeAll(async () => {
  h = await startHarness()
  pve = h.client()
  node = h.sim.nodes[0]!
  h.sim.seedGuest({ vmid: VMID, node, config: { hostname: 'fw', memory: 256, ostype: 'alpine', rootfs: 'local-lvm:vm-150-disk-0,size=2G', net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth' }, status: 'stopped' })
})
afterAll(async () => {
  await h.close()
})

async function rejection(p: Promise<unknown>): Promise<PveApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(PveApiError)
  return err as PveApiError
}

describe('host network', () => {
  it('queues a bridge as pending, applies it with a srvreload task, edits and removes it', async () => {
    await pve.createNetwork(node, { iface: 'vmbr7', type: 'bridge', autostart: true, cidr: '10.77.0.1/24', comments: 'proximity lan' })
    const pending = (await pve.nodeNetworks(node)).find((i) => i.iface === 'vmbr7')!
    expect(pending).toMatchObject({ type: 'bridge', method: 'static' })
    expect(pending.active).toBeUndefined()
    const dup = await rejection(pve.createNetwork(node, { iface: 'vmbr7', type: 'bridge' }))
    expect(dup.status).toBe(400)
    expect(dup.errors?.['iface']).toBeDefined()

    const upid = await pve.applyNetwork(node)
    await expect(pve.waitTask(node, upid, { pollMs: 10 })).resolves.toMatchObject({ exitstatus: 'OK' })
    expect((await pve.nodeNetworks(node)).find((i) => i.iface === 'vmbr7')).toMatchObject({ active: 1 })
    expect((await pve.nodeNetwork(node)).changes).toBeUndefined()

    await pve.updateNetwork(node, 'vmbr7', { type: 'bridge', comments: 'renamed' })
    await pve.revertNetwork(node)
    expect((await pve.nodeNetworks(node)).find((i) => i.iface === 'vmbr7')!.comments).not.toBe('renamed')

    await pve.deleteNetwork(node, 'vmbr7')
    await pve.waitTask(node, await pve.applyNetwork(node), { pollMs: 10 })
    expect((await pve.nodeNetworks(node)).find((i) => i.iface === 'vmbr7')).toBeUndefined()
  })
})

describe('container firewall', () => {
  it('inserts rules at position 0, disabled unless enable=1 (trap 18), with a list-wide digest', async () => {
    await pve.createFirewallRule(node, VMID, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '80', enable: 1, comment: 'http' })
    await pve.createFirewallRule(node, VMID, { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '443' })
    const rules = await pve.firewallRules(node, VMID)
    expect(rules.map((r) => [r.pos, r.dport, r.enable])).toEqual([[0, '443', 0], [1, '80', 1]])
    expect(rules[0]!.digest).toBe(rules[1]!.digest)

    const digest = rules[0]!.digest!
    await pve.updateFirewallRule(node, VMID, 0, { enable: 1, digest })
    const stale = await rejection(pve.deleteFirewallRule(node, VMID, 1, digest))
    expect(stale.isConflict()).toBe(true)
    const fresh = (await pve.firewallRules(node, VMID))[0]!.digest
    await pve.deleteFirewallRule(node, VMID, 1, fresh)
    expect((await pve.firewallRules(node, VMID)).map((r) => [r.dport, r.enable])).toEqual([['443', 1]])
  })

  it('reads and writes the firewall options', async () => {
    await pve.updateFirewallOptions(node, VMID, { enable: true, policy_in: 'DROP' })
    expect(await pve.firewallOptions(node, VMID)).toMatchObject({ enable: 1, policy_in: 'DROP' })
  })
})

describe('ha and pools', () => {
  it('creates, updates and deletes an HA resource; a duplicate is isAlreadyExists', async () => {
    await pve.createHaResource({ sid: `ct:${VMID}`, state: 'started', max_restart: 2 })
    expect((await pve.haResources()).find((r) => r.sid === `ct:${VMID}`)).toMatchObject({ type: 'ct', state: 'started' })
    const dup = await rejection(pve.createHaResource({ sid: `ct:${VMID}` }))
    expect(dup.isAlreadyExists()).toBe(true)
    await pve.updateHaResource(`ct:${VMID}`, { state: 'stopped' })
    expect((await pve.haResources()).find((r) => r.sid === `ct:${VMID}`)!.state).toBe('stopped')
    await pve.deleteHaResource(`ct:${VMID}`)
    // pve-ha-manager answers a second delete with its own wording, not a 'does not exist'.
    const gone = await rejection(pve.deleteHaResource(`ct:${VMID}`))
    expect(gone.status).toBe(500)
    expect(gone.reason).toBe(`cannot delete service 'ct:${VMID}', not HA managed!`)
  })

  it('creates a pool, adds and removes a member, deletes it', async () => {
    await pve.createPool('apps', 'proximity apps')
    await pve.updatePool('apps', { vms: String(VMID) })
    const [apps] = await pve.pools('apps')
    expect(apps!.members!.map((m) => m.id)).toEqual([`lxc/${VMID}`])
    expect((await pve.pools()).map((p) => p.poolid)).toContain('apps')
    await pve.updatePool('apps', { vms: String(VMID), delete: true })
    await pve.deletePool('apps')
    const gone = await rejection(pve.pools('apps'))
    expect(gone.isNotFound()).toBe(true)
    expect(h.audit.filter((e) => e.target === 'pool/apps').map((e) => e.action)).toEqual(['POST /pools', 'PUT /pools', 'PUT /pools', 'DELETE /pools'])
  })
})

describe('tasks', () => {
  it('lists the tasks of a node, filtered by vmid', async () => {
    await pve.waitTask(node, await pve.startLxc(node, VMID), { pollMs: 10 })
    const tasks = await pve.listTasks(node, { vmid: VMID })
    expect(tasks.length).toBeGreaterThan(0)
    expect(tasks.every((t) => t.id === String(VMID))).toBe(true)
    expect(tasks.find((t) => t.type === 'vzstart')).toMatchObject({ status: 'OK', node })
  })
})
