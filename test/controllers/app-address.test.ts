/**
 * An App's address in its status (issue #10 point 4, #9 point 5): the App controller records
 * `extra.ip`/`extra.urls` as it reconciles against the simulator over HTTPS, and the status API
 * (over a real HTTP server on 127.0.0.1:0) shows them as `status.addresses` in
 * `GET /api/v1/apps/:name`, the object the dashboard's apps table renders. The guest is asked for
 * a DHCP address only when it changed, never on a steady pass.
 */
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiApp } from '../../src/api/app.js'
import { createFailureLimiter } from '../../src/api/auth.js'
import { startApiServer, type RunningServer } from '../../src/api/server.js'
import { createChangeFeed, type ApiChange } from '../../src/api/status-source.js'
import { createStoreStatusSource } from '../../src/api/store-status-source.js'
import { createTokenAuthority, type TokenAuthority } from '../../src/api/tokens.js'
import { createEngineMetrics } from '../../src/runtime/metrics.js'
import { get } from '../api/harness.js'
import { app, startHarness, type Harness } from './helpers.js'

const interfacesReads = (h: Harness): number => h.sim.log.entries().filter((e) => e.route === '/nodes/{node}/lxc/{vmid}/interfaces').length

describe('App addresses in status and in the API', () => {
  let h: Harness
  let server: RunningServer
  let tokens: TokenAuthority
  let configDir: string
  let feed: ReturnType<typeof createChangeFeed>
  const bus = new EventEmitter()
  const fixed = app('static-web', {
    network: { ip: '10.0.0.50/24', gateway: '10.0.0.1' },
    health: { http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 60_000 },
  })
  const dhcp = app('dhcp-web')

  beforeAll(async () => {
    h = await startHarness()
    h.setApps([fixed, dhcp])
    configDir = await mkdtemp(join(tmpdir(), 'proximity-addr-'))
    tokens = createTokenAuthority({ configDir })
    const source = createStoreStatusSource({
      store: h.store,
      manifests: () => h.ctx.set,
      managedKinds: new Set(['App']),
      revision: () => ({ revision: 'local@sha256:test' }),
      readiness: async () => ({ ready: true, checks: [] }),
      lastResync: () => undefined,
      onChange: (l: (c: ApiChange) => void) => {
        bus.on('change', l)
        return () => bus.off('change', l)
      },
    })
    feed = createChangeFeed(source)
    const api = createApiApp({ source, feed, tokens, metrics: createEngineMetrics(), heartbeatMs: 1000, limiter: createFailureLimiter({ max: 1000 }) })
    server = await startApiServer({ app: api, listen: { host: '127.0.0.1', port: 0 } })
  })
  afterAll(async () => {
    feed?.close()
    await server?.close()
    await h?.close()
    await rm(configDir, { recursive: true, force: true })
  })

  const apiApp = async (name: string): Promise<{ ip?: string; urls?: string[] } | undefined> => {
    // The engine announces every status it writes; the API caches objects until told.
    bus.emit('change', { type: 'status', key: `App/${name}` })
    const { token } = await tokens.issue({ role: 'viewer', ttlMs: 60_000 })
    const r = await get(`${server.url}/api/v1/apps/${name}`, token)
    expect(r.status).toBe(200)
    return r.body.status.addresses
  }

  it('records the static address and the URL of the published port its http health check uses', async () => {
    const o = await h.applyUntilReady(fixed)
    expect(o.result?.ready).toBe(true)
    expect(await apiApp('static-web')).toEqual({ ip: '10.0.0.50', urls: ['http://10.0.0.50:8080'] })
  })

  it('records the address a DHCP guest reports once it is created, and shows it in the API', async () => {
    const o = await h.applyUntilReady(dhcp)
    expect(o.result?.ready).toBe(true)
    const inv = h.store.getStatus('App/dhcp-web')?.inventory
    const nics = await h.pve.lxcInterfaces(String(inv?.node), Number(inv?.vmid))
    const reported = nics.find((n) => n.name === 'eth0')?.inet?.split('/')[0]
    expect(reported).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    // No http health check: no port is assumed to be a web page.
    expect(await apiApp('dhcp-web')).toEqual({ ip: reported, urls: [] })
  })

  it('never asks a guest for its address on a steady pass, and the address stays', async () => {
    h.sim.log.clear()
    const outcomes = await h.pass([fixed, dhcp])
    expect(outcomes.map((x) => x.actions.map((a) => a.type)).flat()).toEqual(['noop', 'noop'])
    expect(h.sim.log.entries().map((e) => `${e.method} ${e.route}`)).toEqual(['GET /cluster/resources'])
    expect(h.store.getStatus('App/dhcp-web')?.extra?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    expect((await apiApp('static-web'))?.ip).toBe('10.0.0.50')
  })

  it('a deep check asks a guest whose address is unknown (an app converged before addresses were kept), once', async () => {
    const st = h.store.getStatus('App/dhcp-web')!
    const { ip: _ip, ...rest } = st.extra ?? {}
    h.store.putStatus({ ...st, extra: { ...rest, lastDeepCheckAt: 0 } })
    h.store.putStatus({ ...h.store.getStatus('App/static-web')!, extra: { ...h.store.getStatus('App/static-web')!.extra, lastDeepCheckAt: h.ctx.now() } })
    h.advance(11 * 60_000)
    h.sim.log.clear()
    await h.pass([fixed, dhcp])
    expect(interfacesReads(h)).toBe(1)
    const ip = h.store.getStatus('App/dhcp-web')?.extra?.ip
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    h.sim.log.clear()
    await h.pass([fixed, dhcp])
    expect(interfacesReads(h)).toBe(0)
    expect((await apiApp('dhcp-web'))?.ip).toBe(ip)
  })

  it('drops the DHCP address when the app is stopped, and asks again when it is started', async () => {
    const stopped = app('dhcp-web', { state: 'stopped' })
    h.setApps([fixed, stopped])
    expect((await h.applyUntilReady(stopped)).result?.ready).toBe(true)
    expect(await apiApp('dhcp-web')).toEqual({ urls: [] })
    h.setApps([fixed, dhcp])
    h.sim.log.clear()
    expect((await h.applyUntilReady(dhcp)).result?.ready).toBe(true)
    expect(interfacesReads(h)).toBe(1)
    expect((await apiApp('dhcp-web'))?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  })
})
