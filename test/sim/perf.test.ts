import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SimCore } from '../../src/sim/core.js'
import { JsonListBuffer } from '../../src/sim/json-list.js'
import { MemoryRequestLog } from '../../src/sim/request-log.js'
import { Router } from '../../src/sim/router.js'
import { poolIndex, resourceItem } from '../../src/sim/routes/shapes.js'
import { STORAGES, storageResource } from '../../src/sim/routes/storage-defs.js'
import { newState, type SimGuest } from '../../src/sim/state.js'
import { raw, startSim } from './helpers.js'

/** The pre-cache `/cluster/resources` (objects + JSON.stringify), for comparison. */
function reference(core: SimCore, type?: string): unknown[] {
  const out: unknown[] = []
  if (!type || type === 'vm') {
    const pools = poolIndex(core)
    for (const g of Object.values(core.state.guests)) out.push(resourceItem(core, g, pools))
  }
  if (!type || type === 'storage') for (const n of core.nodeNames()) for (const s of STORAGES) out.push(storageResource(core, n, s))
  return out
}

function guest(vmid: number, over: Partial<SimGuest> = {}): SimGuest {
  return {
    vmid,
    node: 'pve',
    type: 'lxc',
    status: 'running',
    config: { hostname: `h${vmid}`, memory: 512, rootfs: `local-lvm:vm-${vmid}-disk-0,size=8G` },
    pending: {},
    pendingDelete: [],
    snapshots: [],
    firewall: { rules: [], options: {} },
    runtime: {},
    startedAt: 0,
    rrd: { status: 'stopped', name: `h${vmid}`, changedAt: 0 },
    created: true,
    ...over,
  }
}

describe('simulator hot paths', () => {
  it('serves /cluster/resources from cached fragments identical to the uncached items, through changes', () => {
    let clock = 1_000_000
    const core = new SimCore(newState(['pve', 'pve2'], 0), { now: () => clock, taskLatencyMs: 0, resourcesLagMs: 10_000, takeFailure: () => undefined })
    for (let i = 0; i < 20; i++) core.state.guests[String(100 + i)] = guest(100 + i, { status: i % 2 ? 'running' : 'stopped', startedAt: i * 333, node: i % 3 ? 'pve' : 'pve2' })
    core.state.guests['200'] = guest(200, { created: false, config: { lock: 'create', rootfs: 'local-lvm:vm-200-disk-0,size=4G' } })
    const route = new Router().routes.find((r) => r.method === 'GET' && r.path === '/cluster/resources')!
    const served = (type?: string): unknown[] => {
      const r = route.handler({ core, params: type ? { type } : {}, user: '', method: 'GET', template: route.path }) as { json: Buffer[] }
      return (JSON.parse(Buffer.concat(r.json).toString()) as Record<string, unknown>[]).filter((x) => x.type !== 'node' && x.type !== 'pool')
    }
    // Every real mutation path bumps the state version (markDirty, non-GET requests, SSH
    // commands, task yields); `changed` stands for that here. The clock needs no bump.
    const check = (changed = true): void => {
      if (changed) core.touch()
      for (const type of [undefined, 'vm', 'storage']) {
        const got = served(type) as Record<string, unknown>[]
        const want = reference(core, type) as Record<string, unknown>[]
        // storage `content` order is deliberately random (trap 24)
        expect(got.map((x) => ({ ...x, content: undefined }))).toEqual(want.map((x) => ({ ...x, content: undefined })))
      }
    }
    check()
    const g = core.guest(101)!
    g.config.lock = 'backup'
    check()
    g.config.tags = 'a;b'
    check()
    delete g.config.lock
    check()
    core.setStatus(g, 'stopped')
    check(false) // lagging: old status still shown (setStatus bumps the version itself)
    clock += 10_001
    check(false) // lag over
    g.config.hostname = 'renamed'
    core.noteRrd(g)
    check()
    clock += 1500 // uptimes move
    check(false)
    clock += 1
    check(false)
    clock -= 5000 // a test clock may go back
    check(false)
    core.state.pools.apps = { members: [102, 104] }
    core.state.ha['ct:104'] = { sid: 'ct:104', type: 'ct', state: 'stopped' }
    check()
    g.config.rootfs = 'local-lvm:vm-101-disk-0,size=16G'
    g.node = 'pve2'
    check()
    core.state.guests['200']!.created = true
    delete core.state.guests['200']!.config.lock
    check()
    delete core.state.guests['105']
    check()
  })

  it('builds JSON arrays with spliced integers', () => {
    const b = new JsonListBuffer()
    expect(b.toBuffer().toString()).toBe('[]')
    b.add(Buffer.from('{"a":1}'))
    for (const n of [0, 7, 10, 99, 1234567890123]) b.addSpliced(Buffer.from('{"u":'), n, Buffer.from(',"é":"x"}'))
    expect(JSON.parse(b.toBuffer().toString())).toEqual([{ a: 1 }, ...[0, 7, 10, 99, 1234567890123].map((u) => ({ u, é: 'x' }))])
    const t = new JsonListBuffer()
    t.addUptime(Buffer.from('{"up":'), 10_000, Buffer.from('}'))
    t.addUptime(Buffer.from('{"up":'), 10_400, Buffer.from('}'))
    const at = (now: number, extra: Buffer[] = []): unknown => JSON.parse(Buffer.concat(t.toChunks(now, extra)).toString())
    expect(at(9_000)).toEqual([{ up: 0 }, { up: 0 }])
    expect(at(10_999)).toEqual([{ up: 0 }, { up: 0 }])
    expect(at(11_000)).toEqual([{ up: 1 }, { up: 0 }])
    expect(at(11_399, [Buffer.from('{"x":1}')])).toEqual([{ up: 1 }, { up: 0 }, { x: 1 }])
    expect(at(11_400)).toEqual([{ up: 1 }, { up: 1 }])
    expect(at(5_000)).toEqual([{ up: 0 }, { up: 0 }])
    expect(at(25_000)).toEqual([{ up: 15 }, { up: 14 }])
    expect(JSON.parse(Buffer.concat(new JsonListBuffer().toChunks(0, [Buffer.from('1'), Buffer.from('2')])).toString())).toEqual([1, 2])
  })

  it('keeps the request log capped, oldest dropped, in order', () => {
    const log = new MemoryRequestLog(3)
    for (let i = 0; i < 7; i++) log.add({ time: i, method: i % 2 ? 'GET' : 'POST', route: '/x', path: '/x', status: 200, durationMs: 0 })
    expect(log.entries().map((e) => e.time)).toEqual([4, 5, 6])
    expect(log.mutating().map((e) => e.time)).toEqual([4, 6])
    log.clear()
    log.add({ time: 9, method: 'GET', route: '/x', path: '/x', status: 200, durationMs: 0 })
    expect(log.entries().map((e) => e.time)).toEqual([9])
  })

  it('persists a burst of mutations without a save per request, and flushes on save()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-perf-'))
    const statePath = join(dir, 'state.json')
    const sim = await startSim({ statePath })
    try {
      for (let i = 0; i < 1000; i++) sim.seedGuest({ vmid: 1000 + i, config: { hostname: `app-${i}` } })
      expect((await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data.find((x: any) => x.vmid === 1000).lock).toBeUndefined()
      for (let i = 0; i < 50; i++) sim.faults.lockGuest(1000 + i, 'backup')
      await sim.save()
      const saved = JSON.parse(await readFile(statePath, 'utf8'))
      expect(Object.keys(saved.guests)).toHaveLength(1000)
      expect(saved.guests['1049'].config.lock).toBe('backup')
      const res = await raw(sim, 'GET', '/cluster/resources?type=vm')
      expect(res.json.data).toHaveLength(1000)
      expect(res.json.data.find((x: any) => x.vmid === 1000)).toMatchObject({ lock: 'backup', name: 'app-0', status: 'stopped' })
      // live through the HTTP API too (cached section invalidated by the request)
      expect((await raw(sim, 'PUT', '/nodes/pve/lxc/1999/config', { form: 'tags=x%3By' })).status).toBe(200)
      const all = (await raw(sim, 'GET', '/cluster/resources')).json.data
      expect(all.find((x: any) => x.vmid === 1999).tags).toBe('x;y')
      expect(all.filter((x: any) => x.type === 'storage').map((x: any) => x.id)).toEqual(['storage/pve/local', 'storage/pve/local-lvm'])
    } finally {
      await sim.stop()
    }
  })
})
