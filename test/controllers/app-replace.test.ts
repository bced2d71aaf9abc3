import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppStatusExtra } from '../../controllers/app/observation.js'
import { DEEP_CHECK_INTERVAL_MS } from '../../controllers/app/observe.js'
import { exec, guestRef, push } from '../../controllers/lxc/exec.js'
import { parseMarker } from '../../src/model/marker.js'
import { buildPlan } from '../../src/plan/build.js'
import { renderPlan } from '../../src/plan/render.js'
import type { PveHttpClient } from '../../src/providers/proxmox/index.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

type Over = Parameters<typeof app>[1]

/**
 * Replacing an App's guest for a change only a new guest can make (issue 9 point 2), against the
 * simulator over HTTPS and SSH: a backup first, the volumes handed to the new guest with
 * move_volume (their files survive), the new guest healthy before the old one is destroyed, and
 * on any failure before that, the old guest running again with its data.
 */
describe('App replacement (template change)', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  const volume = { name: 'data', path: '/data', size: 1, backup: true }
  const ours = (name: string) => h.sim.guests().filter((g) => parseMarker(g.description)?.name === name && parseMarker(g.description)?.owner === OWNER)
  const only = (name: string) => {
    const all = ours(name)
    expect(all.map((g) => g.vmid)).toHaveLength(1)
    return all[0]!
  }
  const read = async (name: string, vmid: number, node: string, path: string): Promise<string> => {
    const r = await exec(guestRef(h.ctx, `App/${name}`, vmid, node), ['cat', path], 'test: read a file')
    expect(r.code, String(r.stderr)).toBe(0)
    return String(r.stdout)
  }
  const extra = (name: string): AppStatusExtra => (h.store.getStatus(`App/${name}`)?.extra ?? {}) as AppStatusExtra

  async function converged(name: string, over: Over): Promise<{ vmid: number; node: string }> {
    const a = app(name, over)
    h.setApps([a])
    const out = await h.applyUntilReady(a)
    expect(out.result?.ready, out.error?.message).toBe(true)
    const g = only(name)
    await push(guestRef(h.ctx, `App/${name}`, g.vmid, g.node), '/data/keep.txt', `kept by ${name}\n`, '0644')
    return { vmid: g.vmid, node: g.node }
  }

  it('plans -/+ replace (backup first, volumes moved) and does it: a file in a volume survives, the old guest goes last', async () => {
    const old = await converged('tpl', { template: 'alpine-3.22', volumes: [volume] })
    const next = app('tpl', { template: 'alpine-3.23', volumes: [volume] })
    h.setApps([next])
    h.sim.log.clear()
    const first = await h.reconcile(next)
    const text = renderPlan(buildPlan(first.actions))
    expect(text).toContain(`  # App/tpl will be replaced (guest ${old.vmid} on ${old.node}: replace (backup first, volumes moved))\n-/+ App/tpl\n`)
    expect(text).toContain('      ~ template: "alpine-3.22" -> "alpine-3.23" # replace, forces replacement\n')
    expect(text).toContain('Plan: 1 to add, 0 to change, 1 to destroy.')
    expect(text).not.toContain('refused')
    const out = first.result?.ready ? first : await h.applyUntilReady(next)
    expect(out.result?.ready, out.error?.message).toBe(true)

    const g = only('tpl')
    expect(g.vmid).not.toBe(old.vmid)
    expect(g.status).toBe('running')
    expect(parseMarker(g.description)?.specHash).toBe(next.specHash)
    expect(String(g.config.mp0)).toMatch(new RegExp(`^local-lvm:vm-${g.vmid}-disk-\\d+,.*mp=/data`))
    expect(await read('tpl', g.vmid, g.node, '/data/keep.txt')).toBe('kept by tpl\n')
    expect(h.sim.guests().some((x) => x.vmid === old.vmid)).toBe(false)
    // Order: backup, new guest, old stopped, volume moved, new started, … old destroyed last.
    const calls = mutating(h.sim).filter((m) => !m.startsWith('SSH'))
    const at = (m: string) => calls.indexOf(m)
    expect(at('POST /nodes/{node}/vzdump')).toBeGreaterThanOrEqual(0)
    expect(at('POST /nodes/{node}/vzdump')).toBeLessThan(at('POST /nodes/{node}/lxc'))
    expect(at('POST /nodes/{node}/lxc')).toBeLessThan(at('POST /nodes/{node}/lxc/{vmid}/move_volume'))
    expect(at('POST /nodes/{node}/lxc/{vmid}/move_volume')).toBeLessThan(at('DELETE /nodes/{node}/lxc/{vmid}'))
    const backups = await h.pve.storageContent(old.node, 'local', { content: 'backup', vmid: old.vmid })
    expect(backups.length).toBeGreaterThan(0)
    expect(h.store.getStatus('App/tpl')?.inventory).toMatchObject({ vmid: g.vmid, node: g.node })
    expect(extra('tpl').replacing).toBeUndefined()

    // Converged: nothing more to do.
    h.sim.log.clear()
    const again = await h.reconcile(next)
    expect(again.actions[0]?.type).toBe('noop')
    expect(mutating(h.sim)).toEqual([])
  })

  it('a failure in the middle (the new guest does not start) leaves the old app running with its data, says so, and is not retried', async () => {
    const old = await converged('fail', { template: 'alpine-3.22', volumes: [volume] })
    const next = app('fail', { template: 'alpine-3.23', volumes: [volume] })
    h.setApps([next])
    h.sim.faults.failTask('vzstart', 'startup for container failed')
    const out = await h.reconcile(next)
    expect(out.result?.ready).toBe(false)
    expect(out.result?.reason, out.error?.message).toBe('ReplaceFailed')
    expect(out.result?.message).toMatch(new RegExp(`the replacement of guest ${old.vmid} of App fail was undone \\(.*startup for container failed.*\\); the app runs on guest ${old.vmid} again`))

    const g = only('fail')
    expect(g.vmid).toBe(old.vmid)
    expect(g.status).toBe('running')
    expect(String(g.config.mp0)).toMatch(new RegExp(`^local-lvm:vm-${old.vmid}-disk-\\d+,.*mp=/data`))
    expect(await read('fail', g.vmid, g.node, '/data/keep.txt')).toBe('kept by fail\n')
    const st = h.store.getStatus('App/fail')
    expect(st?.inventory).toMatchObject({ vmid: old.vmid })
    expect(st?.conditions.find((c) => c.type === 'UpdateRolledBack')).toMatchObject({ status: 'True', reason: 'ReplaceFailed' })
    expect(extra('fail').replacing).toBeUndefined()

    // The same spec is not tried again in a loop.
    h.sim.log.clear()
    const again = await h.reconcile(next)
    expect(again.actions[0]).toMatchObject({ type: 'noop', detail: { step: 'rolled-back' } })
    expect(mutating(h.sim).filter((m) => !m.startsWith('SSH'))).toEqual([])
  })

  it('resumes after a kill -9 in the middle (volumes half moved): the re-run finishes the replacement from the stored record', async () => {
    const old = await converged('crash', { template: 'alpine-3.22', volumes: [volume, { name: 'logs', path: '/logs', size: 1, backup: false }] })
    const next = app('crash', { template: 'alpine-3.23', volumes: [volume, { name: 'logs', path: '/logs', size: 1, backup: false }] })
    h.setApps([next])
    // The process "dies" on the second move_volume: the call never returns and nothing after it runs.
    const real = h.ctx.pve
    let moves = 0
    const dying = new Proxy(real, {
      get(target, prop, recv) {
        if (prop === 'moveLxcVolume') {
          return (...args: Parameters<PveHttpClient['moveLxcVolume']>) => (++moves === 2 ? new Promise<never>(() => {}) : target.moveLxcVolume(...args))
        }
        return Reflect.get(target, prop, recv)
      },
    })
    h.ctx.pve = dying
    void h.reconcile(next)
    for (let i = 0; i < 400 && moves < 2; i++) await new Promise((r) => setTimeout(r, 10))
    expect(moves).toBe(2)
    h.ctx.pve = real

    // What a new process finds: the record on disk, two guests with our marker, the old one stopped.
    const record = extra('crash').replacing
    expect(record).toMatchObject({ phase: 'prepare', from: { vmid: old.vmid } })
    expect(record?.to?.vmid).toBeDefined()
    expect(ours('crash')).toHaveLength(2)

    const out = await h.applyUntilReady(next)
    expect(out.result?.ready, out.error?.message).toBe(true)
    const g = only('crash')
    expect(g.vmid).toBe(record!.to!.vmid)
    expect(await read('crash', g.vmid, g.node, '/data/keep.txt')).toBe('kept by crash\n')
    expect(String(g.config.mp1)).toContain('mp=/logs')
    expect(extra('crash').replacing).toBeUndefined()
  })

  it('with the state directory lost after a kill -9 mid-way, the guest with the complete marker wins and the half-made one is undone', async () => {
    const old = await converged('lost', { template: 'alpine-3.22', volumes: [volume] })
    const next = app('lost', { template: 'alpine-3.23', volumes: [volume] })
    h.setApps([next])
    const real = h.ctx.pve
    let started = 0
    // Dies right after the volume moved: at the new guest's start.
    h.ctx.pve = new Proxy(real, {
      get(target, prop, recv) {
        if (prop === 'startLxc') {
          return (...args: Parameters<PveHttpClient['startLxc']>) => (++started === 1 ? new Promise<never>(() => {}) : target.startLxc(...args))
        }
        return Reflect.get(target, prop, recv)
      },
    })
    void h.reconcile(next)
    for (let i = 0; i < 400 && started < 1; i++) await new Promise((r) => setTimeout(r, 10))
    expect(started).toBe(1)
    h.ctx.pve = real
    expect(ours('lost')).toHaveLength(2)
    // The state directory is gone: no record, no inventory, no pending create.
    h.store.deleteStatus('App/lost')
    await h.store.clearPendingCreate('App/lost')

    const first = await h.reconcile(next)
    expect(first.actions[0]).toMatchObject({ type: 'replace', detail: { step: 'replace', resume: { phase: 'undo', from: { vmid: old.vmid } } } })
    const out = await h.applyUntilReady(next)
    expect(out.result?.ready, out.error?.message).toBe(true)
    const g = only('lost')
    expect(g.vmid).toBe(old.vmid)
    expect(g.status).toBe('running')
    expect(await read('lost', g.vmid, g.node, '/data/keep.txt')).toBe('kept by lost\n')
  })

  it('a guest made privileged behind our back is replaced by an unprivileged one, found by the periodic deep check', async () => {
    const a = app('priv', { volumes: [volume] })
    const old = await converged('priv', { volumes: [volume] })
    h.sim.faults.editGuest(old.vmid, { unprivileged: 0 })
    h.advance(DEEP_CHECK_INTERVAL_MS)
    const first = await h.reconcile(a)
    expect(first.actions[0]?.type).toBe('replace')
    expect(first.actions[0]?.changes.map((c) => [c.path, c.before, c.after, c.impact])).toEqual([['unprivileged', 0, 1, 'replace']])
    const out = first.result?.ready ? first : await h.applyUntilReady(a)
    expect(out.result?.ready, out.error?.message).toBe(true)
    const g = only('priv')
    expect(g.vmid).not.toBe(old.vmid)
    expect(g.config.unprivileged).toBe(1)
    expect(await read('priv', g.vmid, g.node, '/data/keep.txt')).toBe('kept by priv\n')
  })

  it('a root-disk storage the new guest cannot use fails before the old guest is touched: it keeps running', async () => {
    const old = await converged('store', { volumes: [volume] })
    const next = app('store', { volumes: [volume], resources: { cores: 1, memory: 512, swap: 512, disk: 8, storage: 'local' } })
    h.setApps([next])
    const out = await h.reconcile(next)
    expect(out.actions[0]?.changes.map((c) => [c.path, c.impact])).toEqual([['resources.storage', 'replace']])
    expect(out.result?.reason, out.error?.message).toBe('ReplaceFailed')
    expect(out.result?.message).toContain('does not support container directories')
    const g = only('store')
    expect(g.vmid).toBe(old.vmid)
    expect(g.status).toBe('running')
    expect(await read('store', g.vmid, g.node, '/data/keep.txt')).toBe('kept by store\n')
  })

  it('a new guest that never turns healthy within update.healthTimeout is undone: the old app runs again with its data', async () => {
    const compose = (image: string) => ({ compose: { services: { web: { image, ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } })
    const old = await converged('sick', { template: 'alpine-3.22', volumes: [volume], source: compose('nginx:1.27-alpine') })
    const next = app('sick', { template: 'alpine-3.23', volumes: [volume], source: compose('example/unhealthy:1') })
    h.setApps([next])
    const first = await h.reconcile(next)
    expect(first.result).toMatchObject({ ready: false, reason: 'Progressing' })
    expect(ours('sick')).toHaveLength(2)
    h.advance(next.spec.update.healthTimeout + 1)
    const out = await h.reconcile(next)
    expect(out.result?.reason).toBe('ReplaceFailed')
    expect(out.result?.message).toMatch(/is not healthy/)
    const g = only('sick')
    expect(g.vmid).toBe(old.vmid)
    expect(g.status).toBe('running')
    expect(await read('sick', g.vmid, g.node, '/data/keep.txt')).toBe('kept by sick\n')
  })
})
