/**
 * Simulator fidelity (issue 14) through the real proxmox-api client over HTTPS: response shapes,
 * parameter formats, the checks PVE makes in code, semantics, and the read endpoints real tools
 * call, on one node and on three. Expected texts are PVE's own (cited per case).
 */
import { createHash } from 'node:crypto'
import { FormData } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { raw } from '../sim/helpers.js'
import { startHarness, TEMPLATE, type Harness } from './sim-harness.js'

async function rejection(p: Promise<unknown>): Promise<PveApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(PveApiError)
  return err as PveApiError
}

// proxmox-api's typings predate PVE 9 and omit many parameters: call through an untyped view.
type Loose = Record<string, any>

for (const nodeCount of [1, 3]) {
  describe(`fidelity (${nodeCount} node${nodeCount > 1 ? 's' : ''})`, () => {
    let h: Harness
    let pve: PveHttpClient
    let api: Loose
    let first: string
    let last: string

    beforeAll(async () => {
      h = await startHarness({ nodes: nodeCount })
      pve = h.client()
      api = pve.api as unknown as Loose
      first = h.sim.nodes[0]!
      last = h.sim.nodes[h.sim.nodes.length - 1]!
      h.sim.seedGuest({ vmid: 201, node: first, config: { hostname: 'web', description: 'app web' } })
      h.sim.seedGuest({ vmid: 202, node: last, config: { hostname: 'db' } })
    })
    afterAll(async () => {
      await h.close()
    })

    describe('backup jobs (pve-manager API2/Backup.pm)', () => {
      it('returns prune-backups as an object and next-run for a scheduled job', async () => {
        await api.cluster.backup.$post({ id: 'nightly', schedule: '02:30', vmid: '201', storage: 'local', 'prune-backups': 'keep-last=3,keep-daily=7', enabled: 1 })
        const listed = ((await api.cluster.backup.$get()) as Record<string, unknown>[]).find((j) => j['id'] === 'nightly')!
        expect(listed).toMatchObject({ id: 'nightly', type: 'vzdump', schedule: '02:30', vmid: '201', enabled: 1, 'prune-backups': { 'keep-last': 3, 'keep-daily': 7 } })
        const next = listed['next-run'] as number
        expect(Number.isInteger(next)).toBe(true)
        expect(next).toBeGreaterThan(Date.now() / 1000)
        const at = new Date(next * 1000)
        expect([at.getHours(), at.getMinutes()]).toEqual([2, 30])
        expect(next - Date.now() / 1000).toBeLessThanOrEqual(86_400)
        const read = (await api.cluster.backup.$('nightly').$get()) as Record<string, unknown>
        expect(read['prune-backups']).toEqual({ 'keep-last': 3, 'keep-daily': 7 })
        expect(read['next-run']).toBeUndefined()
      })

      it('refuses a job without a schedule, and turns a legacy starttime and dow into one', async () => {
        const err = await rejection(api.cluster.backup.$post({ id: 'noschedule', vmid: '201' }))
        expect(err.status).toBe(400)
        expect(err.errors).toEqual({ schedule: "neither 'starttime' nor 'schedule' were set" })
        await api.cluster.backup.$post({ id: 'legacy', starttime: '02:00', dow: 'sat,sun', vmid: '201' })
        expect(((await api.cluster.backup.$('legacy').$get()) as Record<string, unknown>)['schedule']).toBe('sat,sun 02:00')
        const both = await rejection(api.cluster.backup.$('legacy').$put({ schedule: 'daily', starttime: '03:00' }))
        expect(both.errors).toEqual({ starttime: "'starttime' and 'schedule' cannot both be set" })
        await api.cluster.backup.$('legacy').$delete()
      })

      it('answers an unknown job id as PVE does: 400 on read and delete, no such vzdump job on update', async () => {
        for (const call of [() => api.cluster.backup.$('ghost').$get(), () => api.cluster.backup.$('ghost').$delete()]) {
          const err = await rejection(call())
          expect(err.status).toBe(400)
          expect(err.errors).toEqual({ id: "No such job 'ghost'" })
          expect(err.isNotFound()).toBe(true)
        }
        const put = await rejection(api.cluster.backup.$('ghost').$put({ comment: 'x' }))
        expect([put.status, put.reason]).toEqual([500, 'no such vzdump job'])
      })

      it('checks the selection and the calendar event', async () => {
        const conflict = await rejection(api.cluster.backup.$post({ id: 'both', schedule: 'daily', vmid: '201', all: 1 }))
        expect(conflict.errors).toEqual({ all: "option conflicts with option 'vmid'" })
        const none = await rejection(api.cluster.backup.$post({ id: 'none', schedule: 'daily' }))
        expect(none.errors).toEqual({ vmid: 'property is missing' })
        const bad = await rejection(api.cluster.backup.$post({ id: 'bad', schedule: 'every day', vmid: '201' }))
        expect(bad.errors?.['schedule']).toBe("invalid format - invalid calendar event 'every day' - unable to parse calendar event")
        const pool = await rejection(api.cluster.backup.$post({ id: 'pooled', schedule: 'daily', pool: 'nopool' }))
        expect([pool.status, pool.reason]).toEqual([403, "Permission check failed (pool 'nopool' does not exist)"])
      })

      it('counts guests in any job as backed up, enabled or not, and honours a job bound to a node', async () => {
        const notBacked = async (): Promise<unknown[]> => (await api.cluster['backup-info']['not-backed-up'].$get()) as unknown[]
        expect(await notBacked()).toEqual([{ vmid: 202, type: 'lxc', name: 'db' }])
        await api.cluster.backup.$post({ id: 'off', schedule: 'sun 04:00', vmid: '202', enabled: 0 })
        expect(await notBacked()).toEqual([])
        await api.cluster.backup.$('off').$delete()
        await api.cluster.backup.$post({ id: 'here', schedule: 'daily', all: 1, node: first, enabled: 0 })
        // On three nodes 202 lives elsewhere, so a job bound to the first node does not cover it.
        expect(await notBacked()).toEqual(nodeCount === 1 ? [] : [{ vmid: 202, type: 'lxc', name: 'db' }])
        await api.cluster.backup.$('here').$delete()
        await api.cluster.backup.$('nightly').$delete()
      })
    })

    describe('parameter formats (pve-common JSONSchema.pm and the plugins that register formats)', () => {
      const cases: { name: string; reason: string; call: (a: Loose, n: string) => Promise<unknown>; key: string; want: string }[] = [
        {
          name: 'multicast hwaddr',
          reason: 'mac-addr refuses the I/G bit; the error comes from inside the net1 property string',
          call: (a, n) => a.nodes.$(n).lxc.$(201).config.$put({ net1: 'name=eth1,bridge=vmbr0,hwaddr=01:00:5E:00:00:01' }),
          key: 'net1',
          want: 'invalid format - format error\nnet1.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\n',
        },
        { name: 'short storage id', reason: 'parse_id wants two characters', call: (a, n) => a.nodes.$(n).vzdump.$post({ vmid: '201', storage: 'x' }), key: 'storage', want: "invalid format - storage ID 'x' cannot be shorter than 2 characters\n" },
        { name: 'volume id without a storage', reason: 'pve-volume-id is STORAGE:NAME', call: (a, n) => a.nodes.$(n).lxc.$(201).config.$put({ hookscript: 'hook.sh' }), key: 'hookscript', want: "invalid format - unable to parse volume ID 'hook.sh'\n" },
        { name: 'nameserver', reason: 'lxc-ip-with-ll-iface-list checks each address', call: (a, n) => a.nodes.$(n).lxc.$(201).config.$put({ nameserver: '1.1.1.1 10.0.0' }), key: 'nameserver', want: 'invalid format - value does not look like a valid IP address\n' },
        { name: 'bridge CIDR', reason: 'CIDRv4 allows prefixes 8..32', call: (a, n) => a.nodes.$(n).network.$post({ iface: 'vmbr5', type: 'bridge', cidr: '10.5.0.1/33' }), key: 'cidr', want: 'invalid format - value does not look like a valid IPv4 CIDR network\n' },
        { name: 'netmask', reason: 'ipv4mask is a contiguous dotted mask', call: (a, n) => a.nodes.$(n).network.$post({ iface: 'vmbr5', type: 'bridge', address: '10.5.0.1', netmask: '255.0.255.0' }), key: 'netmask', want: 'invalid format - value does not look like a valid IP netmask\n' },
        { name: 'firewall port', reason: 'pve-fw-dport-spec: ports up to 65535', call: (a, n) => a.nodes.$(n).lxc.$(201).firewall.rules.$post({ type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '70000' }), key: 'dport', want: "invalid format - invalid port '70000'\n" },
        { name: 'snapshot name', reason: 'pve-configid starts with a letter', call: (a, n) => a.nodes.$(n).lxc.$(201).snapshot.$post({ snapname: '1st' }), key: 'snapname', want: "invalid format - invalid configuration ID '1st'\n" },
        { name: 'pool id', reason: 'pve-poolid (pve-access-control verify_poolname)', call: (a) => a.pools.$post({ poolid: 'my pool' }), key: 'poolid', want: "invalid format - pool name 'my pool' contains invalid characters\n" },
        { name: 'prune-backups', reason: 'validate_prune_backups: keep-all excludes the other options', call: (a, n) => a.nodes.$(n).vzdump.$post({ vmid: '201', 'prune-backups': 'keep-all=1,keep-last=2' }), key: 'prune-backups', want: 'invalid format - keep-all cannot be set together with other options.\n' },
        { name: 'ha sid', reason: 'pve-ha-resource-or-vm-id is type:name or a vmid', call: (a) => a.cluster.ha.resources.$post({ sid: 'ct 201' }), key: 'sid', want: 'invalid format - value does not look like a valid ha resource id\n' },
        { name: 'group id', reason: 'pve-groupid (pve-access-control verify_groupname)', call: (a) => a.access.groups.$post({ groupid: 'a:b' }), key: 'groupid', want: "invalid format - group name 'a:b' contains invalid characters\n" },
      ]
      for (const c of cases) {
        it(`${c.name}: ${c.reason}`, async () => {
          const err = await rejection(c.call(api, first))
          expect(err.status).toBe(400)
          // The client trims the trailing newline(s) PVE's messages end with.
          expect(err.errors?.[c.key]).toBe(c.want.trimEnd())
        })
      }

      it('accepts a unicast hwaddr and a link-local nameserver with its interface', async () => {
        await api.nodes.$(first).lxc.$(201).config.$put({ net1: 'name=eth1,bridge=vmbr0,hwaddr=02:00:5E:00:00:01', nameserver: 'fe80::1%eth0 1.1.1.1' })
        expect(String((await pve.lxcConfig(first, 201))['net1'])).toContain('hwaddr=02:00:5E:00:00:01')
      })
    })

    describe('HA resources (pve-ha-manager API2/HA/Resources.pm)', () => {
      it('refuses a resource for a guest that does not exist, and deleting an unmanaged sid', async () => {
        const missing = await rejection(pve.createHaResource({ sid: 'ct:999' }))
        expect([missing.status, missing.reason]).toEqual([500, "resource 'ct:999' does not exist in cluster"])
        const bare = await rejection(pve.createHaResource({ sid: '999' }))
        expect(bare.reason).toBe('unable to detect SID from VMID - VM/CT 999 does not exist')
        const wrongType = await rejection(pve.createHaResource({ sid: 'vm:201' }))
        expect(wrongType.reason).toBe("resource 'vm:201' - guest with ID 201 is not a virtual machine")
        const unmanaged = await rejection(pve.deleteHaResource('ct:201'))
        expect([unmanaged.status, unmanaged.reason]).toEqual([500, "cannot delete service 'ct:201', not HA managed!"])
      })

      it('manages a guest on any node by its bare vmid and shows only the stored options', async () => {
        await pve.createHaResource({ sid: '202', comment: 'db' })
        const items = (await api.cluster.ha.resources.$get()) as Record<string, unknown>[]
        expect(items).toHaveLength(1)
        expect(items[0]).toEqual({ sid: 'ct:202', type: 'ct', comment: 'db', digest: expect.stringMatching(/^[0-9a-f]{40}$/) })
        const status = (await api.cluster.ha.status.current.$get()) as Record<string, unknown>[]
        expect(status.map((e) => e['id'])).toEqual(['quorum', 'master', 'fencing', ...[...h.sim.nodes].sort().map((n) => `lrm:${n}`), 'service:ct:202'])
        expect(status.at(-1)).toMatchObject({ type: 'service', sid: 'ct:202', node: last, state: 'started', status: `ct:202 (${last}, started)`, comment: 'db' })
        expect(status.find((e) => e['id'] === `lrm:${last}`)!['status']).toMatch(new RegExp(`^${last} \\(active, watchdog active, \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\)$`))
        await pve.deleteHaResource('202')
      })
    })

    describe('other checks PVE makes in code (pve-manager Pool.pm, Network.pm)', () => {
      it('pools: membership moves need allow-move, nested pools need their parent, only empty pools go', async () => {
        await pve.createPool('web', 'front')
        await pve.createPool('data')
        await pve.updatePool('web', { vms: '201' })
        const again = await rejection(pve.updatePool('web', { vms: '201' }))
        expect(again.reason).toBe('VM 201 is already a pool member')
        const move = await rejection(pve.updatePool('data', { vms: '201' }))
        expect(move.reason).toBe("VM 201 belongs already to pool 'web' and 'allow-move' is not set")
        await pve.updatePool('data', { vms: '201', 'allow-move': true })
        expect((await rejection(pve.updatePool('web', { vms: '201', delete: true }))).reason).toBe('VM 201 is not a pool member')
        expect((await rejection(pve.createPool('ghost/child'))).reason).toBe("parent 'ghost' of pool 'ghost/child' does not exist")
        expect((await rejection(pve.deletePool('data'))).reason).toBe("pool 'data' is not empty (contains VM 201)")
        await pve.updatePool('data', { vms: '201', delete: true })
        await pve.deletePool('data')
        await pve.deletePool('web')
      })

      it('network: one default gateway, a port on one bridge, and 400 for an unknown interface', async () => {
        const port = await rejection(pve.createNetwork(first, { iface: 'vmbr6', type: 'bridge', bridge_ports: 'eno1' }))
        expect(port.errors).toEqual({ bridge_ports: "eno1 is already used on interface 'vmbr0'." })
        const gw = await rejection(pve.createNetwork(first, { iface: 'vmbr6', type: 'bridge', cidr: '10.6.0.1/24', gateway: '10.6.0.254' }))
        expect(gw.errors).toEqual({ gateway: "Default gateway already exists on interface 'vmbr0'." })
        // The schema's `requires` (netmask needs address) is checked before the handler runs.
        const mask = await rejection(pve.createNetwork(first, { iface: 'vmbr6', type: 'bridge', cidr: '10.6.0.1/24', netmask: '255.255.255.0' }))
        expect(mask.errors).toEqual({ address: "missing property required by 'netmask'" })
        const both = await rejection(pve.createNetwork(first, { iface: 'vmbr6', type: 'bridge', cidr: '10.6.0.1/24', address: '10.6.0.1', netmask: '255.255.255.0' }))
        expect(both.errors).toEqual({ address: 'address conflicts with cidr' })
        const unknown = await rejection(pve.updateNetwork(first, 'vmbr42', { type: 'bridge', comments: 'x' }))
        expect([unknown.status, unknown.errors]).toEqual([400, { iface: 'interface does not exist' }])
      })
    })

    describe('snapshots and volumes', () => {
      it('reads a snapshot description back with a trailing newline; rollback keeps the current description', async () => {
        await pve.waitTask(first, await pve.createSnapshot(first, 201, 'before', 'before upgrade'), { pollMs: 10 })
        const snap = (await pve.listSnapshots(first, 201)).find((s) => s.name === 'before')!
        expect(snap.description).toBe('before upgrade\n')
        const cfg = (await api.nodes.$(first).lxc.$(201).config.$get({ snapshot: 'before' })) as Record<string, unknown>
        expect(cfg['description']).toBe('before upgrade\n')
        await pve.updateLxcConfig(first, 201, { description: 'after upgrade' })
        await pve.waitTask(first, await pve.rollbackSnapshot(first, 201, 'before'), { pollMs: 10 })
        expect((await pve.lxcConfig(first, 201))['description']).toBe('after upgrade\n')
        await pve.waitTask(first, await pve.createSnapshot(first, 201, 'plain'), { pollMs: 10 })
        expect((await pve.listSnapshots(first, 201)).find((s) => s.name === 'plain')!.description).toBe('')
      })

      it('fails a snapshot of a template inside the task, as snapshot_prepare does', async () => {
        h.sim.seedGuest({ vmid: 203, node: first, config: { hostname: 'tpl', template: 1 } })
        const upid = await pve.createSnapshot(first, 203, 'never')
        const err = await pve.waitTask(first, upid, { pollMs: 10 }).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(PveTaskError)
        expect((err as PveTaskError).exitstatus).toBe("you can't take a snapshot if it's a template")
      })

      it('takes the rest of the path as the volume id, so a raw slash works like %2F', async () => {
        const [storage, file] = [TEMPLATE.slice(0, TEMPLATE.indexOf(':')), TEMPLATE.slice(TEMPLATE.indexOf('/') + 1)]
        const volume = api.nodes.$(last).storage.$(storage).content.$(`${storage}:vztmpl`).$(file)
        expect(await volume.$get()).toMatchObject({ format: 'txz', path: `/var/lib/vz/template/cache/${file}` })
        await pve.waitTask(last, (await volume.$delete()) as string, { pollMs: 10 })
        const left = await pve.storageContent(last, storage, { content: 'vztmpl' })
        expect(left.map((v) => v.volid)).not.toContain(TEMPLATE)
        const gone = await rejection(volume.$get())
        expect(gone.reason).toBe(`volume '${TEMPLATE}' does not exist`)
      })
    })

    describe('templates and clones (pve-container API2/LXC.pm template, clone_vm)', () => {
      it('clones fully with new MACs, converts to a template, then clones linked from the base volume', async () => {
        h.sim.seedGuest({ vmid: 210, node: first, config: { hostname: 'gold', net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth' } })
        const ct = api.nodes.$(first).lxc
        h.sim.seedGuest({ vmid: 215, node: first, config: {}, status: 'running' })
        const running = await rejection(ct.$(215).clone.$post({ newid: 299 }))
        expect([running.status, running.reason]).toEqual([500, 'Full clone of a running container is only possible from a snapshot'])
        await pve.waitTask(first, (await ct.$(210).clone.$post({ newid: 211, hostname: 'copy', full: 1 })) as string, { pollMs: 10 })
        const copy = await pve.lxcConfig(first, 211)
        expect(copy).toMatchObject({ hostname: 'copy', rootfs: 'local-lvm:vm-211-disk-0,size=8G' })
        expect(String(copy['net0'])).not.toContain('BC:24:11:AA:BB:CC')
        expect((await rejection(ct.$(210).clone.$post({ newid: 212, full: 0 }))).reason).toBe("Linked clone feature for 'local-lvm:vm-210-disk-0' is not available")
        expect(await ct.$(210).template.$post()).toBeNull()
        for (let i = 0; i < 200 && (await pve.lxcConfig(first, 210))['template'] !== 1; i++) await new Promise((r) => setTimeout(r, 10))
        expect((await pve.lxcConfig(first, 210))['rootfs']).toBe('local-lvm:base-210-disk-0,size=8G')
        expect((await rejection(ct.$(210).template.$post())).reason).toBe("you can't convert a template to a template")
        expect((await rejection(ct.$(210).clone.$post({ newid: 212, storage: 'local-lvm', full: 0 }))).reason).toBe("parameter 'storage' not allowed for linked clones")
        await pve.waitTask(first, (await ct.$(210).clone.$post({ newid: 212 })) as string, { pollMs: 10 })
        expect(await pve.lxcConfig(first, 212)).toMatchObject({ rootfs: 'local-lvm:base-210-disk-0/vm-212-disk-0,size=8G' })
        expect((await pve.lxcConfig(first, 212))['template']).toBeUndefined()
        expect((await rejection(ct.$(210).clone.$post({ newid: 211 }))).reason).toBe(`CT 211 already exists on node '${first}'`)
        if (nodeCount > 1) expect((await rejection(ct.$(210).clone.$post({ newid: 213, target: last }))).reason).toBe(`can't clone CT to node '${last}' (CT uses local storage)`)
      })
    })

    describe('uploads (pve-storage API2/Storage/Status.pm upload; multipart, so sent with fetch)', () => {
      const form = (fields: Record<string, string>, file: { name: string; bytes: Uint8Array }): FormData => {
        const f = new FormData()
        for (const [k, v] of Object.entries(fields)) f.append(k, v)
        f.append('filename', new Blob([file.bytes]), file.name)
        return f
      }
      const bytes = new Uint8Array(4096).map((_, i) => i % 251)

      it('stores an uploaded ISO under its normalised name, checks its checksum, and lists it', async () => {
        const sha = createHash('sha256').update(bytes).digest('hex')
        const r = await raw(h.sim, 'POST', `/nodes/${last}/storage/local/upload`, { multipart: form({ content: 'iso', checksum: sha, 'checksum-algorithm': 'sha256' }, { name: 'my tools.iso', bytes }) })
        expect(r.status).toBe(200)
        await expect(pve.waitTask(last, r.json.data, { pollMs: 10 })).resolves.toMatchObject({ exitstatus: 'OK' })
        const isos = await pve.storageContent(last, 'local', { content: 'iso' })
        expect(isos).toEqual([expect.objectContaining({ volid: 'local:iso/my_tools.iso', content: 'iso', format: 'iso', size: 4096 })])
        expect(await api.nodes.$(last).storage.$('local').content.$('local:iso').$('my_tools.iso').$get()).toMatchObject({ path: '/var/lib/vz/template/iso/my_tools.iso', size: 4096 })
        await pve.waitTask(last, await pve.deleteVolume(last, 'local', 'local:iso/my_tools.iso'), { pollMs: 10 })
      })

      it('refuses a wrong extension, a storage without a path, a lone checksum, and fails the task on a checksum mismatch', async () => {
        const ext = await raw(h.sim, 'POST', `/nodes/${last}/storage/local/upload`, { multipart: form({ content: 'vztmpl' }, { name: 'alpine.zip', bytes }) })
        expect([ext.status, ext.json.errors]).toEqual([400, { filename: 'wrong file extension' }])
        const lvm = await raw(h.sim, 'POST', `/nodes/${last}/storage/local-lvm/upload`, { multipart: form({ content: 'iso' }, { name: 'a.iso', bytes }) })
        expect([lvm.status, lvm.reason]).toEqual([500, "can't upload to storage type 'lvmthin'"])
        const lone = await raw(h.sim, 'POST', `/nodes/${last}/storage/local/upload`, { multipart: form({ content: 'iso', checksum: 'abc' }, { name: 'a.iso', bytes }) })
        expect(lone.json.errors).toEqual({ 'checksum-algorithm': "missing property required by 'checksum'" })
        const bad = await raw(h.sim, 'POST', `/nodes/${last}/storage/local/upload`, { multipart: form({ content: 'iso', checksum: 'abc', 'checksum-algorithm': 'md5' }, { name: 'a.iso', bytes }) })
        const err = await pve.waitTask(last, bad.json.data, { pollMs: 10 }).then(
          () => undefined,
          (e: unknown) => e as PveTaskError,
        )
        expect(err?.exitstatus).toBe(`checksum mismatch: got '${createHash('md5').update(bytes).digest('hex')}' != expect 'abc'`)
        expect(await pve.storageContent(last, 'local', { content: 'iso' })).toEqual([])
      })
    })

    describe('read endpoints real tools call', () => {
      it('lists nodes with the certificate fingerprint clients can pin', async () => {
        const nodes = await pve.nodes()
        expect(nodes.map((n) => n.node)).toEqual(h.sim.nodes)
        for (const n of nodes) expect((n as unknown as Record<string, unknown>)['ssl_fingerprint']).toBe(h.sim.fingerprint)
      })

      it('lists storages from storage.cfg and reads one', async () => {
        const storages = (await api.storage.$get()) as Record<string, unknown>[]
        expect(storages.map((s) => s['storage'])).toEqual(['local', 'local-lvm'])
        expect(storages[0]).toMatchObject({ type: 'dir', path: '/var/lib/vz' })
        expect(new Set(String(storages[0]!['content']).split(','))).toEqual(new Set(['vztmpl', 'iso', 'backup', 'snippets']))
        expect(await api.storage.$('local-lvm').$get()).toMatchObject({ storage: 'local-lvm', type: 'lvmthin', thinpool: 'data', vgname: 'pve' })
        expect(((await api.storage.$get({ type: 'lvmthin' })) as unknown[]).length).toBe(1)
        const missing = await rejection(api.storage.$('nope').$get())
        expect([missing.status, missing.reason]).toEqual([500, "storage 'nope' does not exist"])
      })

      it('lists users with the token user and its token, and reads one', async () => {
        const tokenUser = h.sim.tokenId.slice(0, h.sim.tokenId.indexOf('!'))
        const tokenName = h.sim.tokenId.slice(h.sim.tokenId.indexOf('!') + 1)
        const users = (await api.access.users.$get()) as Record<string, unknown>[]
        expect(users.map((u) => u['userid'])).toContain('root@pam')
        expect(users.find((u) => u['userid'] === tokenUser)).toMatchObject({ enable: 1, 'realm-type': 'pam' })
        const full = (await api.access.users.$get({ full: 1 })) as Record<string, unknown>[]
        expect(full.find((u) => u['userid'] === tokenUser)!['tokens']).toEqual([{ tokenid: tokenName, privsep: 0, expire: 0 }])
        expect(await api.access.users.$('root@pam').$get()).toMatchObject({ enable: 1, groups: [] })
        const missing = await rejection(api.access.users.$('nobody@pve').$get())
        expect(missing.reason).toBe("no such user ('nobody@pve')")
      })

      it('lists the pam and pve realms and reads one', async () => {
        const realms = (await api.access.domains.$get()) as Record<string, unknown>[]
        expect(realms.map((r) => [r['realm'], r['type']])).toEqual([['pam', 'pam'], ['pve', 'pve']])
        expect(await api.access.domains.$('pve').$get()).toMatchObject({ type: 'pve', comment: 'Proxmox VE authentication server' })
        expect((await rejection(api.access.domains.$('ldap').$get())).reason).toBe("domain 'ldap' does not exist")
      })

      it('creates a group, lists and reads it, refuses a duplicate', async () => {
        await api.access.groups.$post({ groupid: 'ops', comment: 'operators' })
        expect(await api.access.groups.$get()).toEqual([{ groupid: 'ops', comment: 'operators', users: '' }])
        expect(await api.access.groups.$('ops').$get()).toEqual({ members: [], comment: 'operators' })
        expect((await rejection(api.access.groups.$post({ groupid: 'ops' }))).reason).toBe("group 'ops' already exists")
        await api.access.groups.$('ops').$delete()
        expect((await rejection(api.access.groups.$('ops').$get())).reason).toBe("group 'ops' does not exist")
      })
    })
  })
}
