import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createCt, raw, startSim, waitTask } from './helpers.js'

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startSim({ taskLatencyMs: { vzdump: 300, default: 5 } })
  await createCt(sim, 300, '&hostname=db&start=1')
})
afterAll(() => sim.stop())

describe('vzdump and restore', () => {
  it('backs up with lock + vzdump snapshot, then restores config and runtime', async () => {
    const r = await raw(sim, 'POST', '/nodes/pve/vzdump', { form: `vmid=300&storage=local&compress=zstd&protected=1&notes-template=${encodeURIComponent('{{guestname}} on {{node}}')}` })
    expect(r.status).toBe(200)
    const upid: string = r.json.data
    expect(upid).toMatch(/:vzdump:300:root@pam!proximity:$/)
    let sawLock = false
    for (let i = 0; i < 400 && !sawLock; i++) {
      const cfg = (await raw(sim, 'GET', '/nodes/pve/lxc/300/config')).json.data
      if (cfg.lock === 'backup') {
        sawLock = true
        const snaps = (await raw(sim, 'GET', '/nodes/pve/lxc/300/snapshot')).json.data
        expect(snaps.map((s: any) => s.name)).toContain('vzdump')
      }
    }
    expect(sawLock).toBe(true)
    const st = await waitTask(sim, 'pve', upid)
    expect(st.exitstatus).toBe('OK')
    const log = (await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log?limit=0`)).json.data.map((l: any) => l.t)
    expect(log).toContain('INFO: Starting Backup of VM 300 (lxc)')
    expect(log).toContain("INFO: create storage snapshot 'vzdump'")
    expect(log.at(-1)).toBe('TASK OK')
    const content = (await raw(sim, 'GET', '/nodes/pve/storage/local/content?content=backup&vmid=300')).json.data
    expect(content).toHaveLength(1)
    const b = content[0]
    expect(b.volid).toMatch(/^local:backup\/vzdump-lxc-300-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.tar\.zst$/)
    expect(b).toMatchObject({ content: 'backup', format: 'tar.zst', subtype: 'lxc', vmid: 300, notes: 'db on pve', protected: 1 })
    const [, y, mo, d, h, mi, s] = /(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})/.exec(b.volid)!.map(Number)
    expect(b.ctime).toBe(new Date(y!, mo! - 1, d!, h!, mi!, s!).getTime() / 1000)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/300/config')).json.data.lock).toBeUndefined()

    const del = await raw(sim, 'DELETE', `/nodes/pve/storage/local/content/${encodeURIComponent(b.volid)}`)
    expect((await waitTask(sim, 'pve', del.json.data)).exitstatus).toBe(`cannot remove protected volume '${b.volid}' on 'local'`)

    expect((await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=300&restore=1&force=1&storage=local-lvm&ostemplate=${encodeURIComponent(b.volid)}` })).reason).toBe("can't overwrite running container")
    await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/300/status/stop')).json.data)
    await raw(sim, 'PUT', '/nodes/pve/lxc/300/config', { form: 'hostname=changed' })
    const rs = await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=300&restore=1&force=1&storage=local-lvm&ostemplate=${encodeURIComponent(b.volid)}` })
    const rst = await waitTask(sim, 'pve', rs.json.data)
    expect(rst).toMatchObject({ type: 'vzrestore', exitstatus: 'OK' })
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/300/config')).json.data.hostname).toBe('db')
    const restoreNew = await raw(sim, 'POST', '/nodes/pve/lxc', { form: `vmid=301&restore=1&storage=local-lvm&ostemplate=${encodeURIComponent(b.volid)}` })
    expect((await waitTask(sim, 'pve', restoreNew.json.data)).exitstatus).toBe('OK')
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/301/config')).json.data.rootfs).toBe('local-lvm:vm-301-disk-0,size=8G')
  })

  it('rejects bad notes templates and missing selections, and waits for the node lock', async () => {
    expect((await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=300&storage=local&notes-template=%7B%7Bfoo%7D%7D' })).json.errors['notes-template']).toBe("found unknown: variable 'foo' at char 4\n") // Perl: pos() after the match minus the name length
    expect((await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'storage=local' })).json.errors.vmid).toMatch(/property is missing/)
    expect((await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=300&protected=1' })).json.errors).toEqual({ storage: "missing property required by 'protected'" })
    expect((await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=999' })).reason).toBe("unable to find VM '999'")
    const a = (await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=300' })).json.data
    const b = (await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=301&prune-backups=keep-last%3D1' })).json.data
    await waitTask(sim, 'pve', a)
    await waitTask(sim, 'pve', b)
    const logB = (await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(b)}/log?limit=0`)).json.data.map((l: any) => l.t)
    expect(logB).toContain('INFO: trying to get global lock - waiting...')
    sim.faults.lockGuest(301, 'mounted')
    const c = (await raw(sim, 'POST', '/nodes/pve/vzdump', { form: 'vmid=300,301' })).json.data
    expect(c).toMatch(/:vzdump::root@pam!proximity:$/)
    expect((await waitTask(sim, 'pve', c)).exitstatus).toBe('job errors')
    sim.faults.lockGuest(301, undefined)
    expect((await raw(sim, 'GET', '/nodes/pve/vzdump/defaults')).json.data.storage).toBe('local')
  })
})

describe('cluster objects', () => {
  it('manages backup jobs and reports guests not backed up', async () => {
    expect((await raw(sim, 'POST', '/cluster/backup', { form: 'id=nightly&schedule=bogus%20schedule%21&vmid=300' })).json.errors.schedule).toMatch(/invalid format/)
    expect((await raw(sim, 'POST', '/cluster/backup', { form: `id=nightly&schedule=${encodeURIComponent('*-*-* 03:00')}&vmid=300&storage=local` })).status).toBe(200)
    expect((await raw(sim, 'GET', '/cluster/backup/nightly')).json.data).toMatchObject({ id: 'nightly', schedule: '*-*-* 03:00', vmid: '300', type: 'vzdump', enabled: 1 })
    expect((await raw(sim, 'PUT', '/cluster/backup/nightly', { form: 'schedule=sat%2002%3A00' })).status).toBe(200)
    const notBacked = (await raw(sim, 'GET', '/cluster/backup-info/not-backed-up')).json.data
    expect(notBacked.map((g: any) => g.vmid)).toEqual([301])
    expect((await raw(sim, 'DELETE', '/cluster/backup/nightly')).status).toBe(200)
    expect((await raw(sim, 'GET', '/cluster/backup')).json.data).toEqual([])
  })

  it('keeps network changes pending until applied', async () => {
    expect((await raw(sim, 'POST', '/nodes/pve/network', { form: 'iface=vmbr0&type=bridge' })).json.errors.iface).toBe('interface already exists')
    expect((await raw(sim, 'POST', '/nodes/pve/network', { form: 'iface=vmbr1&type=bridge&cidr=10.10.0.1%2F24&autostart=1&comments=lan' })).status).toBe(200)
    const pending = (await raw(sim, 'GET', '/nodes/pve/network')).json
    expect(pending.changes).toMatch(/\+iface vmbr1 inet static/)
    const br = pending.data.find((i: any) => i.iface === 'vmbr1')
    expect(br).toMatchObject({ type: 'bridge', method: 'static', address: '10.10.0.1', comments: 'lan\n' })
    expect(br.active).toBeUndefined()
    const st = await waitTask(sim, 'pve', (await raw(sim, 'PUT', '/nodes/pve/network')).json.data)
    expect(st).toMatchObject({ type: 'srvreload', id: 'networking', exitstatus: 'OK' })
    const applied = (await raw(sim, 'GET', '/nodes/pve/network')).json
    expect(applied.changes).toBeUndefined()
    expect(applied.data.find((i: any) => i.iface === 'vmbr1').active).toBe(1)
    await raw(sim, 'DELETE', '/nodes/pve/network/vmbr1')
    await raw(sim, 'DELETE', '/nodes/pve/network')
    expect((await raw(sim, 'GET', '/nodes/pve/network')).json.data.some((i: any) => i.iface === 'vmbr1')).toBe(true)
  })

  it('unshifts firewall rules, disabled by default, with a list-wide digest', async () => {
    await raw(sim, 'POST', '/nodes/pve/lxc/300/firewall/rules', { form: 'type=in&action=ACCEPT&dport=80&proto=tcp' })
    await raw(sim, 'POST', '/nodes/pve/lxc/300/firewall/rules', { form: 'type=in&action=ACCEPT&dport=443&proto=tcp&enable=1' })
    const rules = (await raw(sim, 'GET', '/nodes/pve/lxc/300/firewall/rules')).json.data
    expect(rules.map((r: any) => [r.pos, r.dport, r.enable])).toEqual([[0, '443', 1], [1, '80', 0]])
    expect(rules[0].digest).toBe(rules[1].digest)
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/300/firewall/rules/5')).reason).toBe('no rule at position 5')
    expect((await raw(sim, 'DELETE', '/nodes/pve/lxc/300/firewall/rules/0?digest=0000000000000000000000000000000000000000')).status).toBe(500)
    await raw(sim, 'PUT', '/nodes/pve/lxc/300/firewall/options', { form: 'enable=1&policy_in=DROP' })
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/300/firewall/options')).json.data).toMatchObject({ enable: 1, policy_in: 'DROP' })
  })

  it('turns start/stop of HA-managed CTs into hastart/hastop', async () => {
    expect((await raw(sim, 'POST', '/cluster/ha/resources', { form: 'sid=999' })).reason).toBe('unable to detect SID from VMID - VM/CT 999 does not exist')
    await raw(sim, 'POST', '/cluster/ha/resources', { form: 'sid=ct%3A301&state=stopped' })
    expect((await raw(sim, 'POST', '/cluster/ha/resources', { form: 'sid=ct%3A301' })).reason).toBe("resource ID 'ct:301' already defined")
    const st = await waitTask(sim, 'pve', (await raw(sim, 'POST', '/nodes/pve/lxc/301/status/start')).json.data)
    expect(st.type).toBe('hastart')
    expect((await raw(sim, 'GET', '/nodes/pve/lxc/301/status/current')).json.data.ha).toEqual({ managed: 1, state: 'started' })
    expect((await raw(sim, 'GET', '/cluster/ha/resources/ct%3A301')).json.data).toMatchObject({ sid: 'ct:301', state: 'started', type: 'ct' })
    await raw(sim, 'DELETE', '/cluster/ha/resources/ct%3A301')
    expect((await raw(sim, 'GET', '/cluster/ha/resources/ct%3A301')).reason).toBe("no such resource 'ct:301'")
  })

  it('manages pools and their members', async () => {
    expect((await raw(sim, 'POST', '/pools', { form: 'poolid=apps&comment=mine' })).status).toBe(200)
    expect((await raw(sim, 'POST', '/pools', { form: 'poolid=apps' })).reason).toBe("pool 'apps' already exists")
    await raw(sim, 'POST', '/pools', { form: 'poolid=other' })
    await raw(sim, 'PUT', '/pools', { form: 'poolid=apps&vms=300' })
    expect((await raw(sim, 'PUT', '/pools', { form: 'poolid=other&vms=300' })).reason).toBe("VM 300 belongs already to pool 'apps' and 'allow-move' is not set")
    expect((await raw(sim, 'PUT', '/pools', { form: 'poolid=apps&vms=300' })).reason).toBe('VM 300 is already a pool member')
    expect((await raw(sim, 'POST', '/pools', { form: 'poolid=1st' })).reason).toBe('pool name must start with a letter')
    expect((await raw(sim, 'POST', '/pools', { form: 'poolid=ghost%2Fchild' })).reason).toBe("parent 'ghost' of pool 'ghost/child' does not exist")
    const one = (await raw(sim, 'GET', '/pools?poolid=apps')).json.data
    expect(one).toHaveLength(1)
    expect(one[0].members.map((m: any) => m.id)).toEqual(['lxc/300'])
    expect((await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data.find((x: any) => x.vmid === 300).pool).toBe('apps')
    expect((await raw(sim, 'DELETE', '/pools?poolid=apps')).reason).toBe("pool 'apps' is not empty (contains VM 300)")
    await raw(sim, 'PUT', '/pools', { form: 'poolid=apps&vms=300&delete=1' })
    expect((await raw(sim, 'DELETE', '/pools?poolid=apps')).status).toBe(200)
    expect((await raw(sim, 'GET', '/pools')).json.data).toEqual([{ poolid: 'other' }])
  })

  it('downloads templates from the appliance index', async () => {
    const apl = (await raw(sim, 'GET', '/nodes/pve/aplinfo')).json.data
    expect(apl.length).toBe(25)
    expect((await raw(sim, 'POST', '/nodes/pve/aplinfo', { form: 'storage=local&template=nope.tar.xz' })).json.errors).toEqual({ template: 'no such template' })
    const up = (await raw(sim, 'POST', '/nodes/pve/aplinfo', { form: 'storage=local&template=debian-12-standard_12.12-1_amd64.tar.zst' })).json.data
    expect((await waitTask(sim, 'pve', up)).type).toBe('download')
    const t = (await raw(sim, 'GET', '/nodes/pve/storage/local/content?content=vztmpl')).json.data
    expect(t.find((x: any) => x.volid === 'local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst').format).toBe('tzst')
    const storages = (await raw(sim, 'GET', '/nodes/pve/storage?content=rootdir')).json.data
    expect(storages.map((s: any) => s.storage)).toEqual(['local-lvm'])
    expect(new Set((await raw(sim, 'GET', '/nodes/pve/storage/local/status')).json.data.content.split(','))).toEqual(new Set(['vztmpl', 'iso', 'backup', 'snippets']))
  })
})
