/**
 * Response-shape conformance: a scenario drives every route the simulator serves over HTTP and
 * checks each successful body's `data` against that route's `returns` schema in
 * pve-apidata-9.1.json (checker: src/sim/shape-check.ts). The test fails when a shape drifts and
 * when a served route is missing from the scenario, on one node and on three.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { Router } from '../../src/sim/router.js'
import { responseDrift } from '../../src/sim/shape-check.js'
import { FormData } from 'undici'
import { raw, startSim, waitTask, type RawResponse } from './helpers.js'

const router = new Router()
const TEMPLATE = 'local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz'
const enc = encodeURIComponent

for (const nodeCount of [1, 3]) {
  describe(`every served route answers in its schema's shape (${nodeCount} node${nodeCount > 1 ? 's' : ''})`, () => {
    let sim: RunningSimulator
    const covered = new Set<string>()
    const drift: string[] = []

    beforeAll(async () => {
      // Checked here from the client side, so the in-process check is off.
      sim = await startSim({ nodes: nodeCount, verifyResponses: false })
    })
    afterAll(() => sim.stop())

    /** One request: must succeed; its data is checked against the matched route's schema. */
    async function call(method: string, path: string, form?: string | FormData): Promise<any> {
      if (typeof form === 'string' && (method === 'GET' || method === 'DELETE')) return call(method, `${path}${path.includes('?') ? '&' : '?'}${form}`)
      const q = path.indexOf('?')
      const segments = (q < 0 ? path : path.slice(0, q)).split('/').slice(1).map(decodeURIComponent)
      const match = router.match(method, segments)
      expect(match, `${method} ${path} is served`).toBeDefined()
      const key = `${method} ${match!.route.path}`
      const r: RawResponse = await raw(sim, method, path, form === undefined ? {} : typeof form === 'string' ? { form } : { multipart: form })
      expect(r.status, `${key}: ${r.text}`).toBe(200)
      drift.push(...responseDrift(key, match!.route.schema.returns, r.json.data).map((e) => `${key} ${e}`))
      covered.add(key)
      return r.json.data
    }
    const task = async (node: string, upid: string): Promise<void> => {
      expect((await waitTask(sim, node, upid)).exitstatus).toBe('OK')
    }

    it('runs a scenario over every route without a shape drift', async () => {
      const n = sim.nodes[0]!
      const other = sim.nodes[sim.nodes.length - 1]!
      const ct = `/nodes/${n}/lxc/101`

      await call('GET', '/version')
      await call('GET', '/nodes')
      await call('GET', '/cluster/status')
      await call('GET', '/cluster/nextid')
      await call('GET', '/access/permissions')
      await call('POST', '/access/ticket', `username=root%40pam&password=${enc(sim.password)}`)
      await call('GET', '/storage')
      await call('GET', '/storage?type=lvmthin')
      await call('GET', '/storage/local')
      await call('GET', '/access/users')
      await call('GET', '/access/users?full=1')
      await call('GET', '/access/users/root%40pam')
      await call('GET', '/access/domains')
      await call('GET', '/access/domains/pve')
      await call('POST', '/access/groups', 'groupid=ops&comment=operators')
      await call('GET', '/access/groups')
      await call('GET', '/access/groups/ops')
      await call('DELETE', '/access/groups/ops')

      await task(n, await call('POST', `/nodes/${n}/lxc`, `vmid=101&ostemplate=${enc(TEMPLATE)}&hostname=web&rootfs=local-lvm%3A8&net0=${enc('name=eth0,bridge=vmbr0,ip=dhcp')}&net1=${enc('name=eth1,bridge=vmbr0,ip=10.1.1.5/24,gw=10.1.1.1')}&tags=a%3Bb&description=hello`))
      await call('GET', '/cluster/resources')
      await call('GET', `/nodes/${n}/lxc`)
      await call('GET', `${ct}/config`)
      await call('PUT', `${ct}/config`, 'memory=1024&onboot=1')
      await call('GET', `${ct}/pending`)
      await call('GET', `${ct}/feature?feature=snapshot`)
      await task(n, await call('POST', `${ct}/status/start`))
      await call('GET', `${ct}/status/current`)
      await call('GET', `${ct}/interfaces`)
      await call('PUT', `${ct}/config`, 'swap=256&cores=2')
      await call('GET', `${ct}/pending`)
      await task(n, await call('POST', `${ct}/status/reboot`))
      await task(n, await call('PUT', `${ct}/resize`, 'disk=rootfs&size=%2B1G'))

      await task(n, await call('POST', `${ct}/snapshot`, 'snapname=before&description=first'))
      await call('GET', `${ct}/snapshot`)
      await call('GET', `${ct}/snapshot/before`)
      await call('GET', `${ct}/config?snapshot=before`)
      await task(n, await call('POST', `${ct}/snapshot/before/rollback`, 'start=1'))
      await task(n, await call('DELETE', `${ct}/snapshot/before`))

      await call('POST', `${ct}/firewall/rules`, 'type=in&action=ACCEPT&proto=tcp&dport=80&enable=1&comment=web')
      await call('GET', `${ct}/firewall/rules`)
      await call('GET', `${ct}/firewall/rules/0`)
      await call('PUT', `${ct}/firewall/rules/0`, 'dport=443')
      await call('DELETE', `${ct}/firewall/rules/0`)
      await call('PUT', `${ct}/firewall/options`, 'enable=1&policy_in=DROP')
      await call('GET', `${ct}/firewall/options`)

      await call('GET', `/nodes/${n}/storage`)
      await call('GET', `/nodes/${n}/storage/local/status`)
      await call('GET', `/nodes/${n}/aplinfo`)
      await task(n, await call('POST', `/nodes/${n}/aplinfo`, 'storage=local&template=debian-12-standard_12.12-1_amd64.tar.zst'))
      const iso = new FormData()
      iso.append('content', 'iso')
      iso.append('filename', new Blob([new Uint8Array(2048)]), 'tools.iso')
      await task(n, await call('POST', `/nodes/${n}/storage/local/upload`, iso))
      await call('GET', `/nodes/${n}/storage/local/content/local:iso/tools.iso`)
      await call('GET', `/nodes/${n}/vzdump/defaults`)
      await task(n, await call('POST', `/nodes/${n}/vzdump`, 'vmid=101&storage=local&compress=zstd&notes-template=%7B%7Bguestname%7D%7D'))
      if (other !== n) expect(await call('POST', `/nodes/${other}/vzdump`, 'vmid=101&storage=local')).toBe('OK')
      const backups = await call('GET', `/nodes/${n}/storage/local/content?content=backup`)
      const volid: string = backups[0].volid
      await call('GET', `/nodes/${n}/storage/local-lvm/content`)
      await call('GET', `/nodes/${n}/storage/local/content`)
      await call('GET', `/nodes/${n}/storage/local/content/${enc(volid)}`)
      await call('PUT', `/nodes/${n}/storage/local/content/${enc(volid)}`, 'notes=kept&protected=0')
      await task(n, await call('DELETE', `/nodes/${n}/storage/local/content/${enc(volid)}`))

      await call('POST', '/cluster/backup', 'id=nightly&schedule=03%3A00&vmid=101&storage=local&mode=snapshot&prune-backups=keep-last%3D3&notes-template=%7B%7Bguestname%7D%7D&comment=night')
      await call('POST', '/cluster/backup', 'id=weekly&schedule=sat%2002%3A00&all=1&enabled=0')
      await call('GET', '/cluster/backup')
      await call('GET', '/cluster/backup/nightly')
      await call('PUT', '/cluster/backup/nightly', 'schedule=04%3A00&prune-backups=keep-daily%3D7')
      await call('GET', '/cluster/backup-info/not-backed-up')
      await call('DELETE', '/cluster/backup/weekly')

      await call('POST', `/nodes/${n}/network`, 'iface=vmbr9&type=bridge&cidr=10.9.0.1%2F24&autostart=1&comments=lan')
      await call('GET', `/nodes/${n}/network`)
      await call('GET', `/nodes/${n}/network/vmbr9`)
      await call('PUT', `/nodes/${n}/network/vmbr9`, 'type=bridge&comments=lan2')
      await task(n, await call('PUT', `/nodes/${n}/network`))
      await call('DELETE', `/nodes/${n}/network/vmbr9`)
      await call('DELETE', `/nodes/${n}/network`)
      await call('GET', `/nodes/${n}/network?type=bridge`)

      await call('POST', '/pools', 'poolid=apps&comment=mine')
      await call('PUT', '/pools', 'poolid=apps&vms=101')
      await call('GET', '/pools')
      await call('GET', '/pools?poolid=apps')
      await call('GET', '/pools/apps')
      await call('PUT', '/pools/apps', 'comment=ours')
      await call('PUT', '/pools', 'poolid=apps&vms=101&delete=1')
      await call('DELETE', '/pools/apps')
      await call('POST', '/pools', 'poolid=gone')
      await call('DELETE', '/pools', 'poolid=gone')

      await call('POST', '/cluster/ha/resources', 'sid=ct%3A101&state=started&comment=ha')
      await call('GET', '/cluster/ha/resources')
      await call('GET', '/cluster/ha/resources/ct%3A101')
      await call('GET', '/cluster/ha/status/current')
      await call('PUT', '/cluster/ha/resources/ct%3A101', 'max_restart=2')
      await call('GET', '/cluster/resources?type=vm')
      await task(n, await call('POST', `${ct}/status/stop`))
      await task(n, await call('POST', `${ct}/status/start`))
      await call('DELETE', '/cluster/ha/resources/ct%3A101')
      await task(n, await call('POST', `${ct}/status/shutdown`, 'timeout=5'))
      await task(n, await call('POST', `${ct}/clone`, 'newid=102&hostname=copy&full=1'))
      expect(await call('POST', `/nodes/${n}/lxc/102/template`)).toBeNull()
      for (let i = 0; i < 200 && (await call('GET', `/nodes/${n}/lxc/102/config`)).template !== 1; i++) await new Promise((r) => setTimeout(r, 5))
      await task(n, await call('POST', `/nodes/${n}/lxc/102/clone`, 'newid=103&hostname=linked'))
      await call('PUT', `${ct}/config`, `mp0=${enc('local-lvm:1,mp=/data')}`)
      await task(n, await call('POST', `${ct}/move_volume`, 'volume=mp0&target-vmid=103&target-volume=mp1'))

      await call('GET', '/cluster/tasks')
      const tasks = await call('GET', `/nodes/${n}/tasks?limit=0`)
      await call('GET', `/nodes/${n}/tasks/${enc(tasks[0].upid)}/status`)
      await call('GET', `/nodes/${n}/tasks/${enc(tasks[0].upid)}/log`)
      await task(n, await call('DELETE', `${ct}?purge=1`))

      expect(drift).toEqual([])
    })

    it('the scenario covered every served route', () => {
      const all = router.routes.map((r) => `${r.method} ${r.path}`).sort()
      expect(all.filter((k) => !covered.has(k))).toEqual([])
    })
  })
}
