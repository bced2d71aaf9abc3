/**
 * Every PveClient method through the real proxmox-api proxy and our engine, over HTTPS, against
 * the simulator, plus the REFERENCE §10 traps that apply to a client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { parseUpid } from '../../src/providers/proxmox/upid.js'
import { startHarness, TEMPLATE, type Harness } from './sim-harness.js'

let h: Harness
let pve: PveHttpClient
let node: string
const VMID = 101

beforeAll(async () => {
  h = await startHarness({ taskLatencyMs: { default: 20, vzcreate: 300 } })
  pve = h.client()
  node = h.sim.nodes[0]!
})
afterAll(async () => {
  await h.close()
})

async function rejection<T extends Error>(p: Promise<unknown>, type: new (...a: never[]) => T): Promise<T> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(type)
  return err as T
}

const props = (s: string) => Object.fromEntries(s.split(',').map((kv) => kv.split('=') as [string, string]))

describe('discovery', () => {
  it('reads version, nodes and storages', async () => {
    const v = await pve.version()
    expect(v.version).toMatch(/^\d+\.\d+/)
    const nodes = await pve.nodes()
    expect(nodes.map((n) => n.node)).toEqual([node])
    expect(nodes[0]!.status).toBe('online')
    const storages = await pve.clusterStorages()
    const local = storages.find((s) => s.storage === 'local')!
    expect(new Set(local.content.split(','))).toEqual(new Set(['vztmpl', 'iso', 'backup', 'snippets']))
  })

  it('returns nextid as a number although the server sends a string (trap 5)', async () => {
    const raw = await pve.engine.requestRaw('GET', '/cluster/nextid')
    expect(typeof raw.data).toBe('string')
    await expect(pve.nextId()).resolves.toBe(100)
  })
})

describe('container lifecycle', () => {
  it('creates a container: vmid reserved with lock create, then the canonical config (traps 6, 10)', async () => {
    await expect(pve.nextId(VMID)).resolves.toBe(VMID)
    const upid = await pve.createLxc(node, {
      vmid: VMID, ostemplate: TEMPLATE, hostname: 'web', cores: 1, memory: 512, swap: 0,
      rootfs: 'local-lvm:4', net0: 'name=eth0,bridge=vmbr0,ip=dhcp', unprivileged: true,
      features: 'nesting=1', tags: 'Web;app,web', description: 'hello', onboot: false,
      password: 'super-secret-root-pw',
    })
    expect(parseUpid(upid)).toMatchObject({ node, type: 'vzcreate', id: String(VMID) })
    const during = await pve.lxcConfig(node, VMID)
    expect(during.lock).toBe('create')
    const taken = await rejection(pve.nextId(VMID), PveApiError)
    expect(taken.isAlreadyExists()).toBe(true)
    expect(taken.errors?.['vmid']).toBeDefined()
    await expect(pve.waitTask(node, upid, { pollMs: 20 })).resolves.toEqual({ upid, exitstatus: 'OK' })

    const cfg = await pve.lxcConfig(node, VMID)
    expect(cfg.lock).toBeUndefined()
    expect(cfg.description).toBe('hello\n')
    expect(cfg.tags).toBe('app;web')
    expect(cfg.unprivileged).toBe(1)
    expect(typeof cfg.digest).toBe('string')
    const net0 = String(cfg.net0)
    expect(net0.startsWith('name=eth0,')).toBe(true)
    expect(props(net0)).toMatchObject({ bridge: 'vmbr0', ip: 'dhcp', type: 'veth' })
    expect(props(net0)['hwaddr']).toMatch(/^BC:24:11(:[0-9A-F]{2}){3}$/)
    expect(String(cfg.rootfs)).toMatch(/^local-lvm:vm-101-disk-0,size=4G$/)

    const guest = (await pve.clusterGuests()).find((g) => g.vmid === VMID)!
    expect(guest).toMatchObject({ id: `lxc/${VMID}`, type: 'lxc', node, tags: 'app;web' })
  })

  it('audits the create without any parameter value', () => {
    const entry = h.audit.find((e) => e.action === 'POST /nodes/{node}/lxc')!
    expect(entry).toMatchObject({ target: `lxc/${VMID}`, result: 'ok' })
    expect(entry.upid).toMatch(/^UPID:/)
    expect(JSON.stringify(h.audit)).not.toContain('super-secret-root-pw')
  })

  it('refuses a stale digest and accepts the current one', async () => {
    const { digest } = await pve.lxcConfig(node, VMID)
    await pve.updateLxcConfig(node, VMID, { memory: 768, digest })
    const stale = await rejection(pve.updateLxcConfig(node, VMID, { memory: 1024, digest }), PveApiError)
    expect(stale.isConflict()).toBe(true)
    expect(stale.pathTemplate).toBe('/nodes/{node}/lxc/{vmid}/config')
    expect((await pve.lxcConfig(node, VMID)).memory).toBe(768)
  })

  it('refuses keyctl through an API token with 403 (trap 9)', async () => {
    const err = await rejection(pve.updateLxcConfig(node, VMID, { features: 'nesting=1,keyctl=1' }), PveApiError)
    expect(err.status).toBe(403)
    expect(err.isAuth()).toBe(true)
  })

  it('starts, reads status and interfaces, and refuses a second start synchronously', async () => {
    await pve.waitTask(node, await pve.startLxc(node, VMID), { pollMs: 10 })
    const st = await pve.lxcStatus(node, VMID)
    expect(st.status).toBe('running')
    const ifaces = await pve.lxcInterfaces(node, VMID)
    expect(ifaces.map((i) => i.name)).toContain('eth0')
    const again = await rejection(pve.startLxc(node, VMID), PveApiError)
    expect(again.status).toBe(500)
    expect(again.isTransient()).toBe(false)
    expect(again.isNotFound()).toBe(false)
  })

  it('keeps non-hotpluggable changes pending on a running container (trap 11)', async () => {
    await pve.updateLxcConfig(node, VMID, { nameserver: '9.9.9.9' })
    const pending = await pve.lxcPending(node, VMID)
    expect(pending.find((p) => p.key === 'nameserver')).toMatchObject({ pending: '9.9.9.9' })
    expect((await pve.lxcConfig(node, VMID)).nameserver).toBe('9.9.9.9')
    expect((await pve.lxcConfig(node, VMID, { current: true })).nameserver).toBeUndefined()
    await pve.waitTask(node, await pve.rebootLxc(node, VMID), { pollMs: 10 })
    expect((await pve.lxcConfig(node, VMID, { current: true })).nameserver).toBe('9.9.9.9')
  })

  it('fails PUT synchronously but power ops inside the task on a locked container (trap 8)', async () => {
    h.sim.faults.lockGuest(VMID, 'backup')
    try {
      const put = await rejection(pve.updateLxcConfig(node, VMID, { cores: 2 }), PveApiError)
      expect(put.isLocked()).toBe(true)
      expect(put.lock).toBe('backup')
      const upid = await pve.stopLxc(node, VMID)
      const task = await rejection(pve.waitTask(node, upid, { pollMs: 10 }), PveTaskError)
      expect(task.isLocked()).toBe(true)
      expect(task.lock).toBe('backup')
      expect(task.logTail.at(-1)).toMatch(/^TASK ERROR/)
    } finally {
      h.sim.faults.lockGuest(VMID, undefined)
    }
  })

  it('resizes the root disk', async () => {
    await pve.waitTask(node, await pve.resizeLxc(node, VMID, 'rootfs', '+1G'), { pollMs: 10 })
    expect(String((await pve.lxcConfig(node, VMID)).rootfs)).toContain('size=5G')
  })

  it('shuts down, then snapshots, lists, rolls back and deletes a snapshot', async () => {
    await pve.waitTask(node, await pve.shutdownLxc(node, VMID, 10), { pollMs: 10 })
    expect((await pve.lxcStatus(node, VMID)).status).toBe('stopped')
    await pve.waitTask(node, await pve.createSnapshot(node, VMID, 'before', 'pre-update'), { pollMs: 10 })
    const snaps = await pve.listSnapshots(node, VMID)
    expect(snaps.map((s) => s.name)).toEqual(expect.arrayContaining(['before', 'current']))
    await pve.waitTask(node, await pve.rollbackSnapshot(node, VMID, 'before'), { pollMs: 10 })
    await pve.waitTask(node, await pve.deleteSnapshot(node, VMID, 'before'), { pollMs: 10 })
    expect((await pve.listSnapshots(node, VMID)).map((s) => s.name)).not.toContain('before')
  })
})

describe('templates, backups and jobs', () => {
  it('lists aplinfo and downloads a template into local', async () => {
    const apl = await pve.aplinfo(node)
    const debian = apl.find((a) => a.template.startsWith('debian-12-standard'))!
    expect(debian.type).toBe('lxc')
    await pve.waitTask(node, await pve.downloadTemplate(node, 'local', debian.template), { pollMs: 10 })
    const tmpl = await pve.storageContent(node, 'local', { content: 'vztmpl' })
    expect(tmpl.find((t) => t.volid === `local:vztmpl/${debian.template}`)).toMatchObject({ content: 'vztmpl', format: 'tzst' })
  })

  it('backs up, protects, refuses to delete protected, then deletes a %2F volid (trap 14)', async () => {
    const upid = await pve.vzdump(node, { vmid: String(VMID), storage: 'local', mode: 'snapshot', compress: 'zstd' })
    expect(upid).not.toBe('OK')
    const done = await pve.waitTask(node, upid, { pollMs: 10 })
    expect(done.exitstatus).toMatch(/^(OK|WARNINGS: \d+)$/)
    const { lines, total } = await pve.taskLog(node, upid, { start: 0, limit: 500 })
    expect(total).toBe(lines.length)
    expect(lines.at(-1)!.t).toMatch(/^TASK (OK|WARNINGS)/)

    const [backup] = await pve.storageContent(node, 'local', { content: 'backup', vmid: VMID })
    expect(backup).toMatchObject({ content: 'backup', format: 'tar.zst', vmid: VMID })
    expect(backup!.volid).toContain('local:backup/vzdump-lxc-101-')
    await pve.updateVolume(node, 'local', backup!.volid, { notes: 'keep me', protected: true })
    const [marked] = await pve.storageContent(node, 'local', { content: 'backup', vmid: VMID })
    expect(marked).toMatchObject({ notes: 'keep me', protected: 1 })

    const refused = await rejection(pve.waitTask(node, await pve.deleteVolume(node, 'local', backup!.volid), { pollMs: 10 }), PveTaskError)
    expect(refused.type).toBe('imgdel')
    await pve.updateVolume(node, 'local', backup!.volid, { protected: false })
    await pve.waitTask(node, await pve.deleteVolume(node, 'local', backup!.volid), { pollMs: 10 })
    expect(await pve.storageContent(node, 'local', { content: 'backup', vmid: VMID })).toEqual([])
  })

  it('creates, lists, updates and deletes a backup job', async () => {
    await pve.createBackupJob({ id: 'proximity-web', schedule: 'daily', vmid: String(VMID), storage: 'local', mode: 'snapshot', enabled: true })
    const jobs = await pve.listBackupJobs()
    expect(jobs.find((j) => j['id'] === 'proximity-web')).toMatchObject({ schedule: 'daily', storage: 'local' })
    await pve.updateBackupJob('proximity-web', { schedule: 'sat 02:00', enabled: false })
    expect((await pve.listBackupJobs()).find((j) => j['id'] === 'proximity-web')).toMatchObject({ schedule: 'sat 02:00', enabled: 0 })
    await pve.deleteBackupJob('proximity-web')
    expect((await pve.listBackupJobs()).find((j) => j['id'] === 'proximity-web')).toBeUndefined()
    const gone = await rejection(pve.deleteBackupJob('proximity-web'), PveApiError)
    // Backup.pm: an unknown job id is a parameter error, 400 {id: "No such job '…'"}
    expect(gone.status).toBe(400)
    expect(gone.errors?.['id']).toBe("No such job 'proximity-web'")
    expect(gone.isNotFound()).toBe(true)
    expect(h.audit.filter((e) => e.target === 'backup-job/proximity-web').map((e) => [e.action, e.result])).toEqual([
      ['POST /cluster/backup', 'ok'], ['PUT /cluster/backup/{id}', 'ok'], ['DELETE /cluster/backup/{id}', 'ok'], ['DELETE /cluster/backup/{id}', 'error'],
    ])
  })

  it('returns the pending network diff that proxmox-api drops (trap 17)', async () => {
    await pve.engine.requestRaw('POST', `/nodes/${node}/network`, '/nodes/{node}/network', { iface: 'vmbr9', type: 'bridge', autostart: true })
    const net = await pve.nodeNetwork(node)
    expect(net.data.find((i) => i['iface'] === 'vmbr9')).toBeDefined()
    expect(net.changes).toContain('vmbr9')
  })
})

describe('deletion', () => {
  it('deletes the container; afterwards its config is a 500 not-found (trap 1)', async () => {
    await pve.waitTask(node, await pve.deleteLxc(node, VMID, { purge: true }), { pollMs: 10 })
    const err = await rejection(pve.lxcConfig(node, VMID), PveApiError)
    expect(err.status).toBe(500)
    expect(err.isNotFound()).toBe(true)
    expect(err.pathTemplate).toBe('/nodes/{node}/lxc/{vmid}/config')
  })
})
