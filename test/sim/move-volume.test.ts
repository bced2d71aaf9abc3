import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createCt, raw, startSim, waitTask } from './helpers.js'

/**
 * `move_volume` with `target-vmid` (PVE 9.1 `POST /nodes/{node}/lxc/{vmid}/move_volume`, the
 * reassign branch): what the App controller's replacement relies on. Checks come before the task
 * (500 with PVE's message) and nothing changes on a refusal.
 */
describe('simulator: move_volume to another container', () => {
  let sim: RunningSimulator
  const node = (): string => sim.nodes[0]!
  const config = (vmid: number): Record<string, string | number> => sim.guests().find((g) => g.vmid === vmid)!.config
  const move = (vmid: number, form: string) => raw(sim, 'POST', `/nodes/${node()}/lxc/${vmid}/move_volume`, { form })

  beforeAll(async () => {
    sim = await startSim()
    await createCt(sim, 201, `&mp0=${encodeURIComponent('local-lvm:2,mp=/data,backup=1')}`)
    await createCt(sim, 202)
  })
  afterAll(async () => {
    await sim?.stop()
  })

  it('allocates a mount point given as STORAGE:SIZE as a volume of its own, as PVE does', () => {
    expect(config(201).mp0).toBe('local-lvm:vm-201-disk-1,backup=1,mp=/data,size=2G')
  })

  const refusals: { name: string; reason: string; form: string; before?: () => Promise<void>; want: RegExp }[] = [
    { name: 'rootfs', reason: 'the root disk belongs to its container', form: 'volume=rootfs&target-vmid=202', want: /Cannot move to\/from 'rootfs'/ },
    { name: 'both targets', reason: 'storage and target-vmid are two different operations', form: 'volume=mp0&target-vmid=202&storage=local-lvm', want: /either set storage or target-vmid, but not both/ },
    { name: 'missing key', reason: 'a key the source does not have', form: 'volume=mp3&target-vmid=202', want: /volume 'mp3' for container '201' does not exist/ },
    { name: 'unknown target', reason: 'the target must exist', form: 'volume=mp0&target-vmid=299', want: /could not find CT 299/ },
    {
      name: 'running source',
      reason: 'an in-use volume cannot leave a running container',
      form: 'volume=mp0&target-vmid=202',
      before: async () => {
        await waitTask(sim, node(), (await raw(sim, 'POST', `/nodes/${node()}/lxc/201/status/start`)).json.data)
      },
      want: /Cannot move in-use volume while the source CT is running - detach or shutdown first/,
    },
  ]
  for (const c of refusals) {
    it(`refuses ${c.name}: ${c.reason}`, async () => {
      await c.before?.()
      const before = JSON.stringify([config(201), config(202)])
      const r = await move(201, c.form)
      expect(r.status).toBe(500)
      expect(r.text).toMatch(c.want)
      expect(JSON.stringify([config(201), config(202)])).toBe(before)
    })
  }

  it('refuses a volume a snapshot still uses, then reassigns it to the target key, renamed for its new owner', async () => {
    await waitTask(sim, node(), (await raw(sim, 'POST', `/nodes/${node()}/lxc/201/status/stop`)).json.data)
    await waitTask(sim, node(), (await raw(sim, 'POST', `/nodes/${node()}/lxc/201/snapshot`, { form: 'snapname=s1' })).json.data)
    const used = await move(201, 'volume=mp0&target-vmid=202')
    expect(used.status).toBe(500)
    expect(used.text).toMatch(/Cannot move volume used by a snapshot to another container/)
    await waitTask(sim, node(), (await raw(sim, 'DELETE', `/nodes/${node()}/lxc/201/snapshot/s1`)).json.data)

    const r = await move(201, 'volume=mp0&target-vmid=202&target-volume=mp2')
    expect(r.status).toBe(200)
    expect((await waitTask(sim, node(), r.json.data)).exitstatus).toBe('OK')
    expect(config(201).mp0).toBeUndefined()
    expect(config(202).mp2).toBe('local-lvm:vm-202-disk-1,backup=1,mp=/data,size=2G')
    const taken = await move(202, 'volume=mp2&target-vmid=201&target-volume=rootfs')
    expect(taken.text).toMatch(/Cannot move to\/from 'rootfs'/)
  })
})
