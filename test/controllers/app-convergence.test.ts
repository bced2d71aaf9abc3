import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { app, mutating, sshEntries, startHarness, type Harness } from './helpers.js'

describe('App controller convergence against the simulator', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('creates, deploys and becomes Ready', async () => {
    const web = app('web')
    h.setApps([web])
    const out = await h.applyUntilReady(web)
    expect(out.error?.message).toBeUndefined()
    expect(out.result?.ready).toBe(true)
    const g = h.sim.guests().find((x) => x.config.hostname === 'web')
    expect(g?.status).toBe('running')
    expect(String(g?.config.features)).toContain('keyctl=1')
    expect(g?.description).toContain('"specHash":"' + web.specHash + '"')
  })
})
