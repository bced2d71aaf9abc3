import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createCt, raw, startSim, waitTask } from './helpers.js'

const TPL = encodeURIComponent('local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz')
let sim: RunningSimulator
beforeAll(async () => {
  sim = await startSim({ taskLatencyMs: { vzcreate: 800, default: 5 } })
})
afterAll(() => sim.stop())

describe('create', () => {
  it('shows lock: create at once, then the canonical final config', async () => {
    const r = await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=200&ostemplate=${TPL}&rootfs=local-lvm%3A8&hostname=web&net0=${encodeURIComponent('name=eth0,ip=dhcp,bridge=vmbr0')}&tags=Web%3Bapp%3Bweb&description=hello` })
    expect(r.status).toBe(200)
    const upid: string = r.json.data
    expect(upid).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:vzcreate:200:root@pam!proximity:$/)
    const during = (await raw(sim, 'GET', '/nodes/pve/lxc/200/config')).json.data
    expect(Object.keys(during).sort()).toEqual(['digest', 'lock'])
    expect(during.lock).toBe('create')
    const res = (await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data.find((x: any) => x.vmid === 200)
    expect(res).toMatchObject({ status: 'unknown', lock: 'create' })
    expect(res.name).toBeUndefined()
    expect((await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=200&ostemplate=${TPL}&rootfs=local-lvm%3A8` })).reason).toBe("CT 200 already exists on node 'pve'")
    const running = (await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`)).json.data
    expect(running.status).toBe('running')
    expect(running.exitstatus).toBeUndefined()
    const done = await waitTask(sim, 'pve', upid)
    expect(done).toMatchObject({ status: 'stopped', exitstatus: 'OK', user: 'root@pam', tokenid: 'proximity', type: 'vzcreate', id: '200' })
    const cfg = (await raw(sim, 'GET', '/nodes/pve/lxc/200/config')).json.data
    expect(cfg.lock).toBeUndefined()
    expect(cfg.net0).toMatch(/^name=eth0,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},ip=dhcp,type=veth$/)
    expect(cfg).toMatchObject({ rootfs: 'local-lvm:vm-200-disk-0,size=8G', tags: 'app;web', description: 'hello\n', unprivileged: 1, memory: 512, swap: 512, hostname: 'web', ostype: 'alpine' })
    expect(cfg.digest).toMatch(/^[0-9a-f]{40}$/)
    const log = await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log?limit=1&start=0`)
    expect(log.json.total).toBeGreaterThan(1)
    expect(log.json.data).toEqual([{ n: 1, t: expect.any(String) }])
    const all = (await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log?limit=0`)).json.data
    expect(all.at(-1).t).toBe('TASK OK')
  })

  it('rolls back a failed create so the vmid is free again', async () => {
    sim.faults.failTask('vzcreate', 'unable to create CT 201 - disk full')
    const r = await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=201&ostemplate=${TPL}&rootfs=local-lvm%3A8` })
    const st = await waitTask(sim, 'pve', r.json.data)
    expect(st.exitstatus).toBe('unable to create CT 201 - disk full')
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/201/config')).status).toBe(500)
    const list = (await raw(sim, 'GET', '/nodes/pve/tasks?errors=1')).json
    expect(list.data.some((t: any) => t.upid === r.json.data)).toBe(true)
  })

  const syncCases = [
    { name: 'vztmpl content', reason: 'ostemplate must be a vztmpl volid', form: `vmid=202&ostemplate=${encodeURIComponent('local:iso/x.iso')}&rootfs=local-lvm%3A8`, status: 500, msg: /content type needs to be 'vztmpl'/ },
    { name: 'missing template', reason: 'the template must exist on the storage', form: `vmid=202&ostemplate=${encodeURIComponent('local:vztmpl/nope.tar.xz')}&rootfs=local-lvm%3A8`, status: 500, msg: /does not exist/ },
    { name: 'rootdir storage', reason: 'local (dir) does not hold container disks by default', form: `vmid=202&ostemplate=${TPL}`, status: 400, msg: /Parameter verification failed/ },
    { name: 'unknown pool', reason: 'the pool must exist (403)', form: `vmid=202&ostemplate=${TPL}&rootfs=local-lvm%3A8&pool=nope`, status: 403, msg: /pool 'nope' does not exist/ },
  ]
  for (const c of syncCases) {
    it(`checks ${c.name} synchronously (${c.reason})`, async () => {
      const r = await raw(sim, 'POST', '/nodes/pve/lxc', { form: c.form })
      expect(r.status).toBe(c.status)
      expect(r.reason).toMatch(c.msg)
      expect(sim.guests().some((g) => g.vmid === 202)).toBe(false)
    })
  }
})

describe('config, power and locks', () => {
  beforeAll(async () => {
    await createCt(sim, 210, '&hostname=app')
  })

  it('rejects a stale digest, locked CTs and empty updates', async () => {
    const { digest } = (await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: `memory=1024&digest=${digest}` })).status).toBe(200)
    const stale = await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: `memory=2048&digest=${digest}` })
    expect(stale.reason).toBe('detected modified configuration - file changed by other user? Try again.')
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: '' })).reason).toBe('no options specified')
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'unprivileged=0' })).reason).toBe("unable to modify read-only option: 'unprivileged'")
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'delete=bogus' })).json.errors).toEqual({ delete: "unknown option 'bogus'" })
    sim.faults.lockGuest(210, 'backup')
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'cores=2' })).reason).toBe('CT is locked (backup)')
    const start = await raw(sim, 'POST', '/nodes/pve/lxc/210/status/start')
    expect(start.status).toBe(200)
    expect((await waitTask(sim, 'pve', start.json.data)).exitstatus).toBe('CT is locked (backup)')
    sim.faults.lockGuest(210, undefined)
  })

  it('keeps non-hotplug changes pending on a running CT', async () => {
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/210/status/start')).json.data)
    expect((await raw(sim, 'POST', '/nodes/pve/lxc/210/status/start')).reason).toBe('CT 210 already running')
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'nameserver=1.1.1.1&cores=4' })).status).toBe(200)
    const merged = (await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data
    const current = (await raw(sim, 'GET', '/nodes/pve/lxc/210/config?current=1')).json.data
    expect(merged.nameserver).toBe('1.1.1.1')
    expect(current.nameserver).toBeUndefined()
    expect(current.cores).toBe(4)
    const pending = (await raw(sim, 'GET', '/nodes/pve/lxc/210/pending')).json.data
    expect(pending.find((p: any) => p.key === 'nameserver')).toEqual({ key: 'nameserver', pending: '1.1.1.1' })
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/210/status/reboot')).json.data)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/config?current=1')).json.data.nameserver).toBe('1.1.1.1')
    const ifaces = (await raw(sim, 'GET', '/nodes/pve/lxc/210/interfaces')).json.data
    expect(ifaces.find((i: any) => i.name === 'eth0').inet).toMatch(/^10\.\d+\.\d+\.\d+\/24$/)
    const status = (await raw(sim, 'GET', '/nodes/pve/lxc/210/status/current')).json.data
    expect(status).toMatchObject({ status: 'running', type: 'lxc', ha: { managed: 0 }, name: 'app' })
    expect((await raw(sim, 'DELETE', '/nodes/pve/lxc/210')).reason).toBe('unable to destroy CT 210 - container is running')
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/210/status/shutdown')).json.data)
    expect((await raw(sim, 'POST', '/nodes/pve/lxc/210/status/stop')).reason).toBe('CT 210 not running')
    expect((await raw(sim, 'POST', '/nodes/pve/lxc/210/status/reboot')).reason).toBe('VM 210 not running')
  })

  it('resizes only upwards, asynchronously', async () => {
    expect((await raw(sim, 'PUT', '/nodes/pve/lxc/210/resize', { form: 'disk=rootfs&size=4G' })).reason).toBe('unable to shrink disk size')
    const r = await raw(sim, 'PUT', '/nodes/pve/lxc/210/resize', { form: 'disk=rootfs&size=%2B2G' })
    expect((await waitTask(sim, 'pve', r.json.data)).type).toBe('resize')
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data.rootfs).toBe('local-lvm:vm-210-disk-0,size=10G')
  })

  it('snapshots, rolls back and reserves names', async () => {
    expect((await raw(sim, 'POST', '/nodes/pve/lxc/210/snapshot', { form: 'snapname=vzdump' })).reason).toMatch(/reserved/)
    const before = (await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data.digest
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/210/snapshot', { form: 'snapname=s1&description=first' })).json.data)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data.digest).not.toBe(before)
    await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'memory=777' })
    const list = (await raw(sim, 'GET', '/nodes/pve/lxc/210/snapshot')).json.data
    expect(list.map((s: any) => s.name)).toEqual(['s1', 'current'])
    expect(list[1]).toMatchObject({ description: 'You are here!', parent: 's1', running: 0 })
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/210/snapshot/s1/rollback')).json.data)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).json.data.memory).toBe(1024)
    await waitTask(sim, 'pve', (await raw(sim, 'DELETE', '/nodes/pve/lxc/210/snapshot/s1')).json.data)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/snapshot')).json.data).toHaveLength(1)
  })

  it('destroys with protection and HA checks', async () => {
    await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'protection=1' })
    expect((await raw(sim, 'DELETE', '/nodes/pve/lxc/210')).reason).toBe("can't remove CT 210 - protection mode enabled")
    await raw(sim, 'PUT', '/nodes/pve/lxc/210/config', { form: 'delete=protection' })
    expect((await raw(sim, 'POST', '/cluster/ha/resources', { form: 'sid=210' })).status).toBe(200)
    expect((await raw(sim, 'DELETE', '/nodes/pve/lxc/210')).reason).toBe('unable to remove CT 210 - used in HA resources and purge parameter not set.')
    const st = await waitTask(sim, 'pve', (await raw(sim, 'DELETE', '/nodes/pve/lxc/210?purge=1')).json.data)
    expect(st.exitstatus).toBe('OK')
    expect((await raw(sim, 'GET', '/cluster/ha/resources')).json.data).toEqual([])
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/210/config')).status).toBe(500)
  })
})
