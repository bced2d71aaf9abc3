/** Failed authentications are limited per client: past the limit even a valid token waits. */
import { describe, expect, it } from 'vitest'
import { get, startApiHarness } from './harness.js'

describe('rate limiting', () => {
  it('answers 429 after repeated failures from one client, and the valid token waits too', async () => {
    const h = await startApiHarness({ maxAuthFailures: 5 })
    const viewer = await h.viewer()
    try {
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await get(`${h.url}/api/v1/events`, 'x.y.z')).status)
    expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true)
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true)
    const blocked = await get(`${h.url}/api/v1/events`, viewer)
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    } finally {
      await h.close()
    }
  })
})
