import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appController } from '../../controllers/app/index.js'
import { hasManagedTag, parseMarker } from '../../src/model/marker.js'
import { StalledError, WaitingError } from '../../src/runtime/errors.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

const guestOf = (h: Harness, name: string) => h.sim.guests().find((x) => parseMarker(x.description)?.name === name && parseMarker(x.description)?.owner === OWNER)

describe('App health gate', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('an unhealthy app requeues (Progressing) without blocking, then fails with HealthCheckFailed after health.timeout', async () => {
    const sick = app('sick', {
      source: { compose: { services: { web: { image: 'example/unhealthy:1', ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } },
      health: { http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 400 },
    })
    h.setApps([sick])
    let out = await h.reconcile(sick)
    for (let i = 0; i < 10 && out.error && !(out.error instanceof StalledError) && !out.result; i++) out = await h.reconcile(sick)
    expect(out.result?.ready).toBe(false)
    expect(out.result?.reason).toBe('Progressing')
    expect(out.result?.requeueAfterMs).toBe(2000)
    const marker = parseMarker(guestOf(h, 'sick')?.description)
    expect(marker?.specHash).toBe('') // not written before health
    await new Promise((r) => setTimeout(r, 450))
    h.sim.log.clear()
    const failed = await h.reconcile(sick)
    expect(failed.error).toBeInstanceOf(StalledError)
    expect((failed.error as StalledError).reason).toBe('HealthCheckFailed')
    expect(failed.error?.message).toMatch(/^App sick is not healthy 400ms after deploy: GET \/: wget: server returned error: HTTP\/1.1 503/)
    expect(mutating(h.sim).filter((m) => !m.startsWith('SSH'))).toEqual([])
  })

  it('a tcp health check passes once the port listens, and the marker is written last', async () => {
    const db = app('pg', { source: { compose: { services: { db: { image: 'postgres:16-alpine', ports: ['5432:5432'] } } } }, health: { tcp: { port: 5432 }, timeout: 60_000 } })
    h.setApps([db])
    const out = await h.applyUntilReady(db)
    expect(out.result?.ready).toBe(true)
    expect(parseMarker(guestOf(h, 'pg')?.description)?.specHash).toBe(db.specHash)
    const pushes = h.audit.filter((a) => a.action === 'ssh pct push').map((a) => a.target)
    expect(pushes).toContain(`lxc/${guestOf(h, 'pg')!.vmid}:/opt/proximity/pg/.env`)
  })

  it('a guest locked by a backup makes the update wait (GuestLocked), not fail', async () => {
    const base = app('locked')
    h.setApps([base])
    expect((await h.applyUntilReady(base)).result?.ready).toBe(true)
    const db = app('locked', { resources: { cores: 2, memory: 512, swap: 512, disk: 8 } })
    const vmid = guestOf(h, 'locked')!.vmid
    h.sim.faults.lockGuest(vmid, 'backup')
    const out = await h.reconcile(db)
    expect(out.error).toBeInstanceOf(WaitingError)
    expect((out.error as WaitingError).reason).toBe('GuestLocked')
    h.sim.faults.lockGuest(vmid, undefined)
    expect((await h.applyUntilReady(db)).result?.ready).toBe(true)
    expect(guestOf(h, 'locked')!.config.cores).toBe(2)
  })
})

describe('App templates and deletion', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ cluster: { defaults: { storage: 'local-lvm', templateStorage: 'local', backupStorage: 'local', bridge: 'vmbr0', template: 'alpine-3.23', resources: { cores: 1, memory: 512, swap: 512, disk: 8 } } } })
  })
  afterAll(async () => {
    await h?.close()
  })

  it('resolves a template prefix missing from storage through aplinfo and downloads it once', async () => {
    const a = app('one')
    const b = app('two')
    h.setApps([a, b])
    expect((await h.applyUntilReady(a)).result?.ready).toBe(true)
    expect((await h.applyUntilReady(b)).result?.ready).toBe(true)
    const downloads = h.audit.filter((e) => e.action === 'POST /nodes/{node}/aplinfo')
    expect(downloads.length).toBe(1)
    expect(downloads[0].target).toMatch(/^local:vztmpl\/alpine-3\.23-/)
  })

  it('an unknown template is Stalled with a clear message', async () => {
    const bad = app('bad', { template: 'plan9-4' })
    const out = await h.reconcile(bad)
    expect((out.error as StalledError).reason).toBe('TemplateNotFound')
    expect(out.error?.message).toContain('template "plan9-4" is neither on storage local nor in the proxmox template index')
  })

  it('lists orphans and honours deletionPolicy: Retain lets go, Delete destroys, Backup backs up first', async () => {
    const keep = app('keep', { deletionPolicy: 'Retain' })
    const drop = app('drop', { deletionPolicy: 'Delete' })
    const saved = app('saved')
    h.setApps([keep, drop, saved])
    expect((await h.applyUntilReady(keep)).result?.ready).toBe(true)
    expect((await h.applyUntilReady(drop)).result?.ready).toBe(true)
    expect((await h.applyUntilReady(saved)).result?.ready).toBe(true)
    // Only this test's apps lose their manifests (others of the file keep theirs, whatever ran before).
    h.setApps(h.sim.guests().map((g) => parseMarker(g.description)?.name).filter((n): n is string => n !== undefined && !['keep', 'drop', 'saved'].includes(n)).map((n) => app(n)))
    await h.ctx.refreshSnapshot()
    const orphans = await appController.orphans!(h.ctx)
    expect(orphans.map((o) => [o.name, o.detail.deletionPolicy, o.destroys])).toEqual([
      ['drop', 'Delete', true],
      ['keep', 'Retain', false],
      ['saved', 'Backup', true],
    ])
    const del = appController.planDelete!(orphans[0])
    expect(del.type).toBe('delete')
    expect(del.changes[0].impact).toBe('data-loss')

    const keepVmid = guestOf(h, 'keep')!.vmid
    expect((await appController.finalize(h.ctx, orphans[1])).ready).toBe(true)
    const kept = h.sim.guests().find((g) => g.vmid === keepVmid)!
    expect(kept.status).toBe('running')
    expect(parseMarker(kept.description)).toBeUndefined()
    expect(hasManagedTag(kept.tags)).toBe(false)

    const dropVmid = orphans[0].detail.vmid
    expect((await appController.finalize(h.ctx, orphans[0])).ready).toBe(true)
    expect(h.sim.guests().some((g) => g.vmid === dropVmid)).toBe(false)
    const again = await appController.finalize(h.ctx, orphans[0])
    expect(again).toMatchObject({ ready: true, message: `guest ${dropVmid} is already gone` })

    h.sim.log.clear()
    expect((await appController.finalize(h.ctx, orphans[2])).ready).toBe(true)
    expect(mutating(h.sim)).toEqual(['POST /nodes/{node}/vzdump', 'POST /nodes/{node}/lxc/{vmid}/status/stop', 'DELETE /nodes/{node}/lxc/{vmid}'])
    const backups = await h.pve.storageContent('pve', 'local', { content: 'backup' })
    expect(backups.some((b) => b.vmid === orphans[2].detail.vmid && b.notes === 'proximity final backup of App/saved')).toBe(true)
  })

  it('finalize refuses a guest that lost our marker', async () => {
    const taken = app('taken')
    h.setApps([taken])
    expect((await h.applyUntilReady(taken)).result?.ready).toBe(true)
    const two = guestOf(h, 'taken')!
    h.sim.faults.editGuest(two.vmid, { description: 'taken over by a human' })
    const out = appController.finalize(h.ctx, { key: 'App/taken', kind: 'App', name: 'taken', destroys: true, target: `guest ${two.vmid}`, detail: { vmid: two.vmid, node: two.node, deletionPolicy: 'Delete' } })
    await expect(out).rejects.toMatchObject({ reason: 'NotOwned' })
    expect(h.sim.guests().some((g) => g.vmid === two.vmid)).toBe(true)
  })
})
