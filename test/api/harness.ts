/**
 * An API server over a real state store and real manifests (the homelab example plus an app with
 * planted secrets), listening on 127.0.0.1:0. Statuses are written with the runtime's own
 * `nextStatus`, the code the reconciler uses.
 */
import { EventEmitter } from 'node:events'
import { mkdtemp, rm, writeFile, mkdir, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadManifests } from '../../src/manifest/index.js'
import { generateSecretKey, parseSecretKey, sealValue } from '../../src/manifest/secrets.js'
import { nextStatus } from '../../src/runtime/status.js'
import { openStateStore } from '../../src/store/state-store.js'
import type { ManifestSet } from '../../src/model/types.js'
import type { StateStore } from '../../src/store/types.js'
import { createApiApp } from '../../src/api/app.js'
import { createFailureLimiter } from '../../src/api/auth.js'
import { createChangeFeed, type ApiChange } from '../../src/api/status-source.js'
import { createStoreStatusSource } from '../../src/api/store-status-source.js'
import { startApiServer, type RunningServer } from '../../src/api/server.js'
import { createTokenAuthority, type TokenAuthority } from '../../src/api/tokens.js'
import { createEngineMetrics } from '../../src/runtime/metrics.js'

export const PLANTED = {
  sealedPlain: 'sealed-plaintext-Zq81',
  envValue: 'env-value-Kx72',
}

export interface ApiHarness {
  url: string
  dir: string
  tokens: TokenAuthority
  store: StateStore
  set: ManifestSet
  sealedText: string
  emit(change: ApiChange): void
  /** Writes a status through the runtime's own status code and announces it. */
  reconcile(kind: string, name: string, outcome: 'success' | 'stalled' | 'waiting', extra?: Record<string, unknown>): void
  viewer(): Promise<string>
  close(): Promise<void>
}

export async function startApiHarness(opts: { now?: () => number; maxAuthFailures?: number } = {}): Promise<ApiHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'proximity-api-'))
  const manifests = join(dir, 'manifests')
  await mkdir(manifests)
  await cp(join(process.cwd(), 'examples', 'homelab'), manifests, { recursive: true })
  const { keyText } = await generateSecretKey()
  const key = await parseSecretKey(keyText)
  const sealedText = await sealValue(PLANTED.sealedPlain, key)
  await writeFile(
    join(manifests, 'secretive.yaml'),
    [
      'apiVersion: proximity/v1alpha1',
      'kind: App',
      'metadata:',
      '  name: secretive',
      '  labels: {tier: db}',
      'spec:',
      '  source:',
      '    compose:',
      '      services:',
      '        db: {image: "postgres:16"}',
      '  secrets:',
      `    DB_PASSWORD: {sealed: "${sealedText}"}`,
      '    API_KEY: {env: PLANTED_ENV}',
      '    TOKEN: {generate: {length: 24}}',
      '',
    ].join('\n'),
  )
  const loaded = await loadManifests([manifests], { cwd: dir })
  if (!loaded.ok) throw new Error(`fixture manifests invalid: ${JSON.stringify(loaded.errors)}`)
  const set = loaded.set
  const store = await openStateStore(join(dir, 'state'))
  const bus = new EventEmitter()
  bus.setMaxListeners(0)
  const tokens = createTokenAuthority({ configDir: join(dir, 'config'), ...(opts.now ? { now: opts.now } : {}) })
  const metrics = createEngineMetrics()
  const source = createStoreStatusSource({
    store,
    manifests: () => set,
    managedKinds: new Set(['App']),
    revision: () => ({ revision: 'local@sha256:abc' }),
    readiness: async () => ({ ready: true, checks: [{ name: 'store', ok: true }] }),
    lastResync: () => new Date().toISOString(),
    onChange: (l) => {
      bus.on('change', l)
      return () => bus.off('change', l)
    },
  })
  const feed = createChangeFeed(source)
  const app = createApiApp({ source, feed, tokens, metrics, heartbeatMs: 1000, limiter: createFailureLimiter({ max: opts.maxAuthFailures ?? 1000 }) })
  const server: RunningServer = await startApiServer({ app, listen: { host: '127.0.0.1', port: 0 } })
  let t = Date.parse('2026-11-30T10:00:00Z')
  const h: ApiHarness = {
    url: server.url,
    dir,
    tokens,
    store,
    set,
    sealedText,
    emit: (c) => bus.emit('change', c),
    reconcile(kind, name, outcome, extra) {
      const key = `${kind}/${name}`
      const m = set.apps.find((a) => a.metadata.name === name)
      t += 1000
      const { status, events } = nextStatus(store.getStatus(key), {
        key,
        kind,
        name,
        ...(m ? { specHash: m.specHash } : {}),
        revision: 'local@sha256:abc',
        outcome,
        ...(outcome === 'success' ? { result: { ready: true, reason: 'Succeeded', message: 'running', inventory: { vmid: 101, node: 'pve1' }, changed: ['created'], ...(extra ? { extra } : {}) } } : {}),
        ...(outcome !== 'success' ? { reason: outcome === 'stalled' ? 'TemplateMissing' : 'DependencyNotReady', message: `${name} is ${outcome}` } : {}),
        startedAt: t - 500,
        finishedAt: t,
      } as Parameters<typeof nextStatus>[1])
      store.putStatus(status)
      for (const e of events) store.addEvent(e)
      bus.emit('change', { type: 'status', key })
      for (const e of events) bus.emit('change', { type: 'event', key, data: e })
    },
    async viewer() {
      return (await tokens.issue({ role: 'viewer', ttlMs: 3600_000 })).token
    },
    async close() {
      feed.close()
      await server.close()
      await store.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  return h
}

/** GET with an optional bearer token; returns status, headers and parsed JSON (or text). */
export async function get(url: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const r = await fetch(url, { headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } })
  const text = await r.text()
  let body: unknown = undefined
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: r.status, headers: r.headers, body, text }
}
