import { afterEach, describe, expect, it } from 'vitest'
import { DRILL_TAG, runRestoreDrill } from '../../controllers/restore/drill.js'
import { renderNotesTemplate } from '../../src/model/backup-notes.js'
import type { AppManifest } from '../../src/model/types.js'
import { app, OWNER, startHarness, type Harness } from './helpers.js'

async function backupOf(h: Harness, vmid: number, name: string): Promise<string> {
  const upid = await h.pve.vzdump('pve', { vmid: String(vmid), storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': renderNotesTemplate({ owner: OWNER, app: name, trigger: 'manual' }) })
  if (upid !== 'OK') await h.pve.waitTask('pve', upid)
  return (await h.pve.storageContent('pve', 'local', { content: 'backup', vmid }))[0]?.volid as string
}

const scratch = (h: Harness) => h.sim.guests().filter((g) => (g.tags ?? '').includes(DRILL_TAG))

describe('restore drills', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('a good backup passes in a scratch guest (new vmid, link down, not our marker) that is destroyed afterwards; the app is untouched', async () => {
    h = await startHarness()
    const web = app('web')
    h.setApps([web])
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    const volid = await backupOf(h, vmid, 'web')
    const before = h.sim.guests().find((g) => g.vmid === vmid)
    // A scratch guest left by a drill killed earlier is removed first.
    h.sim.seedGuest({ vmid: 150, config: { hostname: 'drill-web', tags: DRILL_TAG, description: `proximity:drill {"owner":"${OWNER}","app":"web","volid":"x"}` } })
    await h.ctx.refreshSnapshot()

    // Watch the scratch guest while the drill runs (it is gone afterwards).
    const watched: Record<string, string | number>[] = []
    const timer = setInterval(() => {
      for (const g of scratch(h!)) if (g.vmid !== 150 && g.status === 'running') watched.push(g.config)
    }, 5)
    const r = await runRestoreDrill(h.ctx, web, { node: 'pve', volid, probeEveryMs: 50, healthTimeoutMs: 5000 })
    clearInterval(timer)
    expect(r).toMatchObject({ ok: true, volid })
    expect(r.scratchVmid).not.toBe(vmid)
    expect(watched.length).toBeGreaterThan(0)
    const cfg = watched[0] as Record<string, string | number>
    expect(String(cfg.net0)).toContain('link_down=1')
    expect(String(cfg.net0)).not.toContain(String(before?.config.net0).match(/hwaddr=[^,]+/)?.[0])
    expect(String(cfg.description)).not.toContain('proximity:managed')
    expect(cfg.hostname).toBe('drill-web')
    expect(scratch(h)).toEqual([])
    expect(h.sim.guests().find((g) => g.vmid === vmid)).toEqual(before)
    expect((await h.reconcile(web)).result?.ready).toBe(true)
  })

  it('a backup whose app fails its health check is reported as a failure, and no scratch guest is left', async () => {
    h = await startHarness()
    const sick: AppManifest = app('sick', {
      source: { compose: { services: { web: { image: 'example/unhealthy:1', ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } },
      health: { tcp: { port: 8080 }, timeout: 300_000 },
    })
    h.setApps([sick])
    await h.reconcile(sick)
    const vmid = Number(h.store.getStatus('App/sick')?.inventory?.vmid)
    const volid = await backupOf(h, vmid, 'sick')
    const probeApp = app('sick', { ...sick.spec, health: undefined })
    const r = await runRestoreDrill(h.ctx, probeApp, { node: 'pve', volid, probeEveryMs: 100, healthTimeoutMs: 1500 })
    expect(r.ok).toBe(false)
    expect(r.detail).toMatch(/^not healthy after restore: .*(unhealthy|starting)/)
    expect(scratch(h)).toEqual([])
  })
})
