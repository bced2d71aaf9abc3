import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { getCondition } from '../../src/runtime/conditions.js'
import { app, mutating, startHarness, type Harness } from './helpers.js'

/** A well-formed fingerprint that is not the simulator's node key. */
const wrongFingerprint = (): string => `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`

describe('App: status and memory are kept when an attempt fails', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('a host-key mismatch on the SSH node stalls with both fingerprints, once, and keeps what was learned', async () => {
    const pinned = wrongFingerprint()
    h = await startHarness({ hostKey: pinned })
    const web = app('web')
    h.setApps([web])
    const rec = h.reconciler()
    const sessions = h.shells.sessionsOpened()

    const out = (await rec.runOnce(['App/web'], { maxAttempts: 5 })).get('App/web')
    expect(out).toMatchObject({ result: 'Stalled', reason: 'SshHostKeyMismatch', attempts: 1 })
    expect(out?.message).toContain(`expected ${pinned}`)
    expect(out?.message).toContain(`offered ${h.sim.ssh.hostKey}`)
    expect(h.shells.sessionsOpened() - sessions).toBe(1) // one handshake, no retry loop
    expect(h.sim.log.entries().filter((e) => e.method === 'SSH')).toEqual([]) // nothing was sent to the node

    // The guest was created before the SSH step: the stalled status still names it.
    const st = h.store.getStatus('App/web')
    const stalled = getCondition(st?.conditions ?? [], 'Stalled')
    expect(stalled).toMatchObject({ status: 'True', reason: 'SshHostKeyMismatch' })
    expect(stalled?.message).toContain(`offered ${h.sim.ssh.hostKey}`)
    const guest = h.sim.guests().find((g) => g.config.hostname === 'web')
    expect(st?.inventory).toEqual({ vmid: guest?.vmid, node: 'pve' })
    expect(st?.extra).toMatchObject({ templateSpec: 'alpine-3.22', deletionPolicy: 'Backup' })

    // A second run does not try again while the spec is unchanged: no handshake, no request.
    h.sim.log.clear()
    const again = (await rec.runOnce(['App/web'])).get('App/web')
    expect(again).toMatchObject({ result: 'Stalled', reason: 'SshHostKeyMismatch' })
    expect(h.shells.sessionsOpened() - sessions).toBe(1)
    expect(mutating(h.sim)).toEqual([])
  })

  it('a failed health gate records the Healthy condition and the deploy memory with the Stalled status', async () => {
    h = await startHarness()
    const sick = app('sick', {
      source: { compose: { services: { web: { image: 'example/unhealthy:1', ports: ['8080:80'], healthcheck: { test: ['CMD', 'true'], interval: '1s' } } } } },
      health: { http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 300 },
    })
    h.setApps([sick])
    let out = await h.reconcile(sick)
    for (let i = 0; i < 10 && !out.result && !out.error?.name.startsWith('Stalled'); i++) out = await h.reconcile(sick)
    expect(out.result).toMatchObject({ ready: false, reason: 'Progressing' })
    await new Promise((r) => setTimeout(r, 350))

    const failed = await h.reconcile(sick)
    expect(failed.error?.name).toBe('StalledError')
    const st = h.store.getStatus('App/sick')
    const conditions = st?.conditions ?? []
    expect(getCondition(conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' })
    expect(getCondition(conditions, 'Stalled')).toMatchObject({ status: 'True', reason: 'HealthCheckFailed' })
    const healthy = getCondition(conditions, 'Healthy')
    expect(healthy).toMatchObject({ status: 'False', reason: 'HealthCheckFailed' })
    expect(healthy?.message).toMatch(/^App sick is not healthy 300ms after deploy: GET \/: /)
    expect(st?.extra).toMatchObject({ healthy: false, deployHash: expect.any(String), deployStartedAt: expect.any(Number) })
    expect(st?.extra?.appliedSpecHash).toBeUndefined() // never marked as applied
    expect(st?.history[0]).toMatchObject({ result: 'Stalled' })
  })
})
