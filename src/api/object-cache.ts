/**
 * Rendered API objects, kept between requests and refreshed by the change feed: a status change
 * re-renders only that object; a revision or source change (the manifest set moved) drops
 * everything. Lists are serialised once per change, not once per request, so `GET /api/v1/apps`
 * over 1,000 apps costs a buffer write. A time limit bounds staleness should a change ever go
 * unannounced.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { API_KINDS, toApiObject, type ApiObject } from './objects.js'
import type { ChangeFeed, StatusSource } from './status-source.js'

type ApiKind = (typeof API_KINDS)[number]['kind']

export interface Rendered<T> {
  value: T
  body: Buffer
  etag: string
  /** The body gzip-compressed, made on first use and kept (large lists shrink ~20×). */
  gzip(): Buffer
}

interface KindState {
  names?: string[]
  objects: Map<string, Rendered<ApiObject>>
  list?: Rendered<ApiObject[]>
  builtAt: number
}

export interface ObjectCache {
  list(kind: ApiKind): Rendered<ApiObject[]>
  get(kind: ApiKind, name: string): Rendered<ApiObject> | undefined
  close(): void
}

export function render<T>(value: T, wrap: (v: T) => unknown = (v) => v): Rendered<T> {
  const body = Buffer.from(JSON.stringify(wrap(value)))
  let zipped: Buffer | undefined
  return {
    value,
    body,
    etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
    gzip: () => (zipped ??= gzipSync(body, { level: 6 })),
  }
}

export function createObjectCache(source: StatusSource, feed: ChangeFeed, opts: { maxAgeMs?: number; now?: () => number } = {}): ObjectCache {
  const maxAge = opts.maxAgeMs ?? 30_000
  const now = opts.now ?? Date.now
  const kinds = new Map<ApiKind, KindState>()
  const state = (kind: ApiKind): KindState => {
    let s = kinds.get(kind)
    if (!s || now() - s.builtAt > maxAge) {
      s = { objects: new Map(), builtAt: now() }
      kinds.set(kind, s)
    }
    return s
  }
  const unsubscribe = feed.subscribe((e) => {
    if (e.type === 'revision' || e.type === 'source') {
      kinds.clear()
      return
    }
    if (e.type !== 'status' || !e.key) return
    const slash = e.key.indexOf('/')
    const s = kinds.get(e.key.slice(0, slash) as ApiKind)
    if (!s) return
    const name = e.key.slice(slash + 1)
    s.objects.delete(name)
    s.list = undefined
    if (s.names && !s.names.includes(name)) s.names = undefined
  })
  const renderOne = (kind: ApiKind, name: string, s: KindState): Rendered<ApiObject> | undefined => {
    const hit = s.objects.get(name)
    if (hit) return hit
    const view = source.object(kind, name)
    if (!view) return undefined
    const r = render(toApiObject(kind, name, view))
    s.objects.set(name, r)
    return r
  }
  return {
    list(kind) {
      const s = state(kind)
      if (s.list) return s.list
      if (!s.names) {
        const all = source.objects(kind)
        s.names = [...all.keys()].sort()
        for (const [name, view] of all) if (!s.objects.has(name)) s.objects.set(name, render(toApiObject(kind, name, view)))
      }
      const items: ApiObject[] = []
      for (const name of s.names) {
        const r = renderOne(kind, name, s)
        if (r) items.push(r.value)
      }
      s.list = render(items, (v) => ({ apiVersion: 'proximity/v1alpha1', kind: `${kind}List`, items: v }))
      return s.list
    },
    get(kind, name) {
      return renderOne(kind, name, state(kind))
    },
    close: unsubscribe,
  }
}
