import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseMarker } from '../../src/model/marker.js'
import { failureOf, StalledError, TransientError, WaitingError } from '../../src/runtime/errors.js'
import { app, mutating, OWNER, sshEntries, startHarness, type Harness } from './helpers.js'

/**
 * Creates and converges an app of its own in `h`, so a test starts from a known state whatever
 * ran before it (tests do not depend on running order).
 */
async function converged(h: Harness, name: string, over: Parameters<typeof app>[1] = {}): Promise<ReturnType<typeof app>> {
  const a = app(name, over)
  h.setApps([a])
  const out = await h.applyUntilReady(a)
  expect(out.result?.ready, out.error?.message).toBe(true)
  return a
}

const vmidOf = (h: Harness, name: string): number => {
  const g = h.sim.guests().find((x) => parseMarker(x.description)?.name === name && parseMarker(x.description)?.owner === OWNER)
  if (!g) throw new Error(`no guest for ${name}`)
  return g.vmid
}

describe('App convergence: create, steady state, one-field change, drift, migration', () => {
  let h: Harness
  const web = app('web')
  beforeAll(async () => {
    h = await startHarness({ nodes: 2, cluster: { defaults: { node: 'pve1', storage: 'local-lvm', templateStorage: 'local', backupStorage: 'local', bridge: 'vmbr0', template: 'alpine-3.22', resources: { cores: 1, memory: 512, swap: 512, disk: 8 } } } })
    h.setApps([web])
  })
  afterAll(async () => {
    await h?.close()
  })

  it('applies until Ready: created unprivileged with nesting+keyctl, docker deployed, marker written last', async () => {
    const out = await h.applyUntilReady(web)
    expect(out.error?.message).toBeUndefined()
    expect(out.result?.ready).toBe(true)
    const g = h.sim.guests().find((x) => x.vmid === vmidOf(h, 'web'))!
    expect(g.status).toBe('running')
    expect(g.config.unprivileged).toBe(1)
    expect(String(g.config.features).split(',').sort()).toEqual(['keyctl=1', 'nesting=1'])
    expect(g.tags).toBe('app;proximity')
    expect(parseMarker(g.description)).toEqual({ kind: 'App', name: 'web', owner: OWNER, specHash: web.specHash })
    expect(h.audit.some((a) => a.action === 'ssh pct set' && a.result === 'ok')).toBe(true)
    expect(h.store.getPendingCreate('App/web')).toBeUndefined()
  })

  it('steady state: a second reconcile makes one API read, no writes and no SSH session', async () => {
    const steady = await converged(h, 'steady')
    h.sim.log.clear()
    const sessions = h.shells.sessionsOpened()
    const out = await h.reconcile(steady)
    expect(out.result?.ready).toBe(true)
    expect(out.actions.map((a) => a.type)).toEqual(['noop'])
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources'])
    expect(sshEntries(h.sim)).toEqual([])
    expect(h.shells.sessionsOpened()).toBe(sessions)
  })

  it('a memory change makes exactly one PUT config (value and marker together)', async () => {
    await converged(h, 'mem')
    const bigger = app('mem', { resources: { cores: 1, memory: 1024, swap: 512, disk: 8 } })
    h.setApps([bigger])
    h.sim.log.clear()
    const out = await h.reconcile(bigger)
    expect(out.error?.message).toBeUndefined()
    expect(out.actions[0].type).toBe('update')
    expect(out.actions[0].changes.map((c) => [c.path, c.before, c.after, c.impact])).toEqual([['resources.memory', 512, 1024, 'live']])
    expect(mutating(h.sim)).toEqual(['PUT /nodes/{node}/lxc/{vmid}/config'])
    expect(sshEntries(h.sim)).toEqual([])
    const g = h.sim.guests().find((x) => x.vmid === vmidOf(h, 'mem'))!
    expect(g.config.memory).toBe(1024)
    expect(parseMarker(g.description)?.specHash).toBe(bigger.specHash)
    h.sim.log.clear()
    await h.reconcile(bigger)
    expect(mutating(h.sim)).toEqual([])
  })

  it('drift behind our back is planned as exactly that field and corrected', async () => {
    const bigger = await converged(h, 'drift', { resources: { cores: 1, memory: 1024, swap: 512, disk: 8 } })
    const vmid = vmidOf(h, 'drift')
    h.sim.faults.editGuest(vmid, { memory: 2048 })
    h.sim.log.clear()
    const out = await h.reconcile(bigger)
    expect(out.actions[0].changes.map((c) => [c.path, c.before, c.after])).toEqual([['resources.memory', 2048, 1024]])
    expect(mutating(h.sim)).toEqual(['PUT /nodes/{node}/lxc/{vmid}/config'])
    expect(h.sim.guests().find((x) => x.vmid === vmid)!.config.memory).toBe(1024)
  })

  it('a migrated guest is the same guest: updated on its new node, never re-created', async () => {
    const bigger = await converged(h, 'moved', { resources: { cores: 1, memory: 1024, swap: 512, disk: 8 } })
    const vmid = vmidOf(h, 'moved')
    const before = h.sim.guests().length
    h.sim.faults.migrateGuest(vmid, 'pve2')
    h.sim.log.clear()
    const steady = await h.reconcile(bigger)
    expect(steady.result?.inventory).toEqual({ vmid, node: 'pve2' })
    expect(mutating(h.sim)).toEqual([])
    const cores = app('moved', { resources: { cores: 2, memory: 1024, swap: 512, disk: 8 } })
    h.sim.log.clear()
    const out = await h.reconcile(cores)
    expect(out.actions[0].type).toBe('update')
    expect(h.sim.log.mutating().map((e) => e.path)).toEqual([`/nodes/pve2/lxc/${vmid}/config`])
    expect(h.sim.guests().length).toBe(before)
    expect(h.store.getStatus('App/moved')?.inventory).toEqual({ vmid, node: 'pve2' })
  })

  it('refuses a disk shrink with an actionable Stalled error and touches nothing', async () => {
    await converged(h, 'shrink')
    const small = app('shrink', { resources: { cores: 1, memory: 512, swap: 512, disk: 4 } })
    h.sim.log.clear()
    const out = await h.reconcile(small)
    expect(out.error).toBeInstanceOf(StalledError)
    expect((out.error as StalledError).reason).toBe('DiskShrinkRefused')
    expect(out.error?.message).toBe('cannot shrink disk of App shrink from 8 to 4 GiB; Proxmox only grows disks: set resources.disk back to 8 or larger')
    expect(mutating(h.sim)).toEqual([])
  })

  it('grows a disk with one resize task', async () => {
    await converged(h, 'grow')
    const grown = app('grow', { resources: { cores: 1, memory: 512, swap: 512, disk: 10 } })
    h.sim.log.clear()
    const out = await h.reconcile(grown)
    expect(out.error?.message).toBeUndefined()
    expect(out.result?.ready).toBe(true)
    expect(mutating(h.sim)).toEqual(['PUT /nodes/{node}/lxc/{vmid}/resize', 'PUT /nodes/{node}/lxc/{vmid}/config'])
    expect(String(h.sim.guests().find((x) => x.vmid === vmidOf(h, 'grow'))!.config.rootfs)).toContain('size=10G')
  })

  it('a compose change takes the pre-update snapshot, re-pushes the project and runs compose up, with no other Proxmox write but the marker', async () => {
    await converged(h, 'compose')
    const v2 = app('compose', { source: { compose: { services: { web: { image: 'nginx:1.28-alpine', ports: ['8080:80'] } } } } })
    h.sim.log.clear()
    const out = await h.reconcile(v2)
    expect(out.error?.message).toBeUndefined()
    expect(out.actions[0].changes.map((c) => [c.path, c.impact])).toEqual([['services.web.image', 'restart']])
    expect(out.result?.ready).toBe(true)
    const api = mutating(h.sim).filter((m) => !m.startsWith('SSH'))
    expect(api).toEqual(['POST /nodes/{node}/lxc/{vmid}/snapshot', 'PUT /nodes/{node}/lxc/{vmid}/config'])
    const ssh = h.sim.log.entries().filter((e) => e.method === 'SSH').map((e) => e.route)
    expect(ssh.some((r) => r.startsWith('pct push'))).toBe(true)
    const g = h.sim.guests().find((x) => x.vmid === vmidOf(h, 'compose'))!
    const compose = await h.shells.forNode(g.node).pctExec(g.vmid, ['cat', '/opt/proximity/compose/compose.yaml'])
    expect(compose.stdout).toContain('nginx:1.28-alpine')
  })

  it('state: stopped shuts the guest down and keeps it; running starts it again', async () => {
    const running = await converged(h, 'power')
    const stopped = app('power', { state: 'stopped' })
    const out = await h.reconcile(stopped)
    expect(out.error?.message).toBeUndefined()
    const vmid = vmidOf(h, 'power')
    expect(h.sim.guests().find((x) => x.vmid === vmid)!.status).toBe('stopped')
    const back = await h.applyUntilReady(running)
    expect(back.result?.ready).toBe(true)
    expect(h.sim.guests().find((x) => x.vmid === vmid)!.status).toBe('running')
  })
})

describe('App convergence: drift of power state and features', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('a guest stopped behind our back is started again', async () => {
    const web = await converged(h, 'halted')
    const vmid = vmidOf(h, 'halted')
    h.sim.faults.setGuestStatus(vmid, 'stopped')
    const out = await h.applyUntilReady(web)
    expect(out.actions[0].changes.map((c) => [c.path, c.before, c.after])).toEqual([['state', 'stopped', 'running']])
    expect(out.result?.ready).toBe(true)
    expect(h.sim.guests().find((g) => g.vmid === vmid)!.status).toBe('running')
  })

  it('a feature removed behind our back is found by the periodic deep check, restored over SSH, guest restarted', async () => {
    const web = await converged(h, 'featured')
    const vmid = vmidOf(h, 'featured')
    h.sim.faults.editGuest(vmid, { features: 'nesting=1' })
    h.sim.log.clear()
    const unseen = await h.reconcile(web)
    expect(unseen.actions.map((a) => a.type)).toEqual(['noop'])
    expect(h.sim.log.entries().length).toBe(1) // the snapshot cannot show features: no read yet
    h.advance(11 * 60_000)
    h.sim.log.clear()
    const out = await h.applyUntilReady(web)
    expect(out.actions[0].changes.map((c) => [c.path, c.impact])).toEqual([['features.keyctl', 'restart']])
    expect(out.result?.ready).toBe(true)
    expect(h.sim.log.entries().some((e) => e.method === 'SSH' && e.route.startsWith('pct set'))).toBe(true)
    expect(mutating(h.sim)).toContain('POST /nodes/{node}/lxc/{vmid}/status/reboot')
    expect(String(h.sim.guests().find((g) => g.vmid === vmid)!.config.features).split(',').sort()).toEqual(['keyctl=1', 'nesting=1'])
  })

  it('a volume added to the manifest is hot-plugged as a new mount point', async () => {
    await converged(h, 'volumed')
    const withVol = app('volumed', { volumes: [{ name: 'data', path: '/srv/data', size: 2, backup: true }] })
    h.setApps([withVol])
    const out = await h.applyUntilReady(withVol)
    expect(out.error?.message).toBeUndefined()
    expect(out.actions[0].changes.map((c) => [c.path, c.after])).toEqual([['volumes.data', '/srv/data']])
    const mp0 = String(h.sim.guests().find((g) => g.vmid === vmidOf(h, 'volumed'))!.config.mp0)
    // Real PVE allocates `local-lvm:2` into a volume id; either form must compare as converged.
    expect(mp0).toMatch(/^local-lvm:.*mp=\/srv\/data/)
    h.sim.log.clear()
    await h.reconcile(withVol)
    expect(mutating(h.sim)).toEqual([])
  })
})

describe('App convergence with a lagging /cluster/resources (trap 12)', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ resourcesLagMs: 60_000 })
  })
  afterAll(async () => {
    await h?.close()
  })

  it('a stale snapshot status never makes it start a running guest or write anything', async () => {
    const web = app('web')
    h.setApps([web])
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
    const snap = await h.ctx.refreshSnapshot()
    expect(snap.guests[0].status).not.toBe('running') // the lag is real
    h.sim.log.clear()
    const out = await h.reconcile(web)
    expect(out.error?.message).toBeUndefined()
    expect(out.actions.map((a) => a.type)).toEqual(['noop'])
    expect(out.result?.ready).toBe(true)
    expect(mutating(h.sim)).toEqual([])
  })
})

describe('App convergence: ownership', () => {
  it('never touches a foreign guest, even one with our tag and the same app name', async () => {
    // A cluster of its own: the vmids and guest counts below must not depend on other tests.
    const h = await startHarness()
    try {
      h.sim.seedGuest({ vmid: 100, status: 'running', config: { hostname: 'api', tags: 'proximity', description: 'proximity:managed {"kind":"App","name":"api","owner":"someone-else","specHash":"x"}' } })
      h.sim.seedGuest({ vmid: 101, status: 'running', config: { hostname: 'other', tags: 'proximity' } })
      const api = app('api')
      h.setApps([api])
      const out = await h.applyUntilReady(api)
      expect(out.result?.ready).toBe(true)
      expect(vmidOf(h, 'api')).toBe(102)
      const touched = h.sim.log.mutating().filter((e) => /\/lxc\/10[01](\/|$)/.test(e.path))
      expect(touched).toEqual([])
      expect(await h.ctx.refreshSnapshot().then(() => (h.ctx.snapshot.guests.length))).toBe(3)
      h.setApps([])
      const orphans = await h.ctx.refreshSnapshot().then(() => import('../../controllers/app/index.js')).then((m) => m.appController.orphans!(h.ctx))
      expect(orphans.map((o) => o.detail.vmid)).toEqual([102])
    } finally {
      await h.close()
    }
  })
})

describe('App convergence: dependencies, suspension', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('a pending create whose vmid a foreign guest took picks another vmid', async () => {
    const late = app('late')
    h.setApps([late])
    h.sim.seedGuest({ vmid: 190, status: 'running', config: { hostname: 'squatter' } })
    await h.store.putPendingCreate({ key: 'App/late', vmid: 190, node: 'pve', startedAt: new Date().toISOString() })
    const out = await h.applyUntilReady(late)
    expect(out.result?.ready).toBe(true)
    expect(out.result?.inventory?.vmid).not.toBe(190)
    expect(h.sim.log.mutating().filter((e) => /\/lxc\/190(\/|$)/.test(e.path))).toEqual([])
    expect(h.sim.guests().find((g) => g.vmid === 190)?.config.hostname).toBe('squatter')
  })

  it('dependsOn waits (DependencyNotReady) without touching Proxmox, then proceeds', async () => {
    const db = app('db')
    const front = app('front', { dependsOn: ['db'] })
    h.setApps([db, front])
    h.sim.log.clear()
    const waiting = await h.reconcile(front)
    expect(waiting.error).toBeInstanceOf(WaitingError)
    expect((waiting.error as WaitingError).reason).toBe('DependencyNotReady')
    expect(waiting.error?.message).toBe('waiting for App/db to be ready')
    expect(mutating(h.sim)).toEqual([])
    expect((await h.applyUntilReady(db)).result?.ready).toBe(true)
    expect((await h.applyUntilReady(front)).result?.ready).toBe(true)
  })

  it('network.appliance waits while its appliance is not in the set', async () => {
    const lan = app('lan-app', { network: { ip: 'dhcp', appliance: 'edge' } })
    h.sim.log.clear()
    const out = await h.reconcile(lan)
    expect((out.error as WaitingError).reason).toBe('DependencyNotReady')
    expect(out.error?.message).toBe('appliance edge is not in the manifest set')
    expect(mutating(h.sim)).toEqual([])
  })

  it('suspend plans a noop with reason Suspended and changes nothing', async () => {
    const s = app('sleepy', { suspend: true })
    h.sim.log.clear()
    const out = await h.reconcile(s)
    expect(out.actions.map((a) => a.type)).toEqual(['noop'])
    expect(out.result?.reason).toBe('Suspended')
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources'])
  })
})

describe('App convergence: crash safety and secrets', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('a create whose response was lost is adopted, never duplicated', async () => {
    const dup = app('dup')
    h.setApps([dup])
    h.sim.log.clear()
    h.sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc', action: { type: 'drop' }, count: 1, afterHandler: true })
    const first = await h.reconcile(dup)
    expect(first.error).toBeInstanceOf(TransientError)
    const pending = h.store.getPendingCreate('App/dup')?.vmid
    expect(pending).toEqual(expect.any(Number))
    const out = await h.applyUntilReady(dup)
    expect(out.result?.ready).toBe(true)
    expect(h.sim.guests().filter((g) => g.config.hostname === 'dup').map((g) => g.vmid)).toEqual([pending])
    expect(h.sim.log.mutating().filter((e) => e.route === '/nodes/{node}/lxc').length).toBe(1)
  })

  it('a create task that fails (rolled back by Proxmox) is retried with backoff, not stalled, and converges once', async () => {
    const flaky = app('flaky')
    h.setApps([flaky])
    h.sim.faults.failTask('vzcreate', 'unable to create CT - storage local-lvm is busy')
    const first = await h.reconcile(flaky)
    expect(first.error).toBeInstanceOf(TransientError)
    expect(failureOf(first.error)).toBe('task-failed')
    expect(first.error?.message).toMatch(/^cannot create guest for App flaky: task vzcreate on pve failed: unable to create CT/)
    expect(h.store.getPendingCreate('App/flaky')).toBeUndefined() // the vmid is free again
    const out = await h.applyUntilReady(flaky)
    expect(out.result?.ready).toBe(true)
    expect(h.sim.guests().filter((g) => g.config.hostname === 'flaky').length).toBe(1)
  })

  it('finds its guest by marker when the state dir is lost, and keeps generated secrets', async () => {
    const withSecret = app('vault', { secrets: { DB_PASSWORD: { generate: { length: 20 } } } })
    h.setApps([withSecret])
    expect((await h.applyUntilReady(withSecret)).result?.ready).toBe(true)
    const vmid = vmidOf(h, 'vault')
    const node = h.sim.guests().find((g) => g.vmid === vmid)!.node
    const readEnv = async (): Promise<string> => (await h.shells.forNode(node).pctExec(vmid, ['cat', '/opt/proximity/vault/.env'])).stdout
    const before = await readEnv()
    expect(before).toMatch(/^DB_PASSWORD='[A-Za-z0-9_-]{20}'\nGREETING='hello'\n$/)
    const password = before.split('\n')[0]
    // State lost: no status, no generated values; the env changes so a redeploy happens.
    h.store.deleteStatus('App/vault')
    h.forgetGeneratedSecrets()
    const changed = app('vault', { env: { GREETING: 'hi' }, secrets: { DB_PASSWORD: { generate: { length: 20 } } } })
    const count = h.sim.guests().length
    const out = await h.applyUntilReady(changed)
    expect(out.result?.ready).toBe(true)
    expect(h.sim.guests().length).toBe(count)
    const after = await readEnv()
    expect(after).toBe(`${password}\nGREETING='hi'\n`)
    expect(JSON.stringify(h.audit)).not.toContain(password.slice(13, 33))
  })
})
