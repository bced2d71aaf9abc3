/**
 * Rendered API objects, kept between requests and refreshed by the change feed: a status change
 * re-renders only that object; a revision or source change (the manifest set moved) drops
 * everything. Each object is serialised once per change; a list (or a page of it) is the
 * concatenation of its items' bytes, made on the first request after a change together with its
 * ETag, and its compressed variants on the first request that asks for them. Serving
 * `GET /api/v1/apps` over 1,000 apps then costs one socket write of ready bytes. A time limit
 * bounds staleness should a change ever go unannounced.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlib, gzip } from 'node:zlib'
import { API_KINDS, toApiObject, type ApiObject } from './objects.js'
import type { ChangeFeed, StatusSource } from './status-source.js'

type ApiKind = (typeof API_KINDS)[number]['kind']

export interface Rendered<T> {
  value: T
  body: Buffer
  etag: string
  /**
   * The body gzip-compressed, made on first use and kept (large lists shrink ~20×). Compressed
   * on the thread pool, so a 2 MB list (~25 ms) never stalls the other requests.
   */
  gzip(): Promise<Buffer>
  /** The body brotli-compressed (quality 5: about as fast as gzip, ~20 % smaller), likewise. */
  brotli(): Promise<Buffer>
}

/** One page of a list: its items and where the next page starts (absent on the last page). */
export interface ListPage {
  items: ApiObject[]
  continue?: string
  remainingItemCount?: number
}

/** Where a page starts and how long it is; `after` is the last name of the previous page. */
export interface PageRequest {
  limit: number
  after?: string
}

interface KindState {
  names?: string[]
  objects: Map<string, Rendered<ApiObject>>
  list?: Rendered<ApiObject[]>
  pages: Map<string, Rendered<ListPage>>
  /** Bytes of the kept pages' bodies. */
  pageBytes: number
  builtAt: number
}

export interface ObjectCache {
  list(kind: ApiKind): Rendered<ApiObject[]>
  /** A page of the list in name order: `limit` objects after `after` (from the start without). */
  page(kind: ApiKind, req: PageRequest): Rendered<ListPage>
  get(kind: ApiKind, name: string): Rendered<ApiObject> | undefined
  close(): void
}

/**
 * Bytes of page bodies kept per kind (distinct `limit`/`continue` pairs); past that the oldest
 * pages are dropped, so clients asking for many different pages cannot grow the cache unbounded.
 */
const PAGE_CACHE_BYTES = 4 * 1024 * 1024

const gzipAsync = promisify(gzip)
const brotliAsync = promisify(brotliCompress)

/** Memoises one asynchronous computation; a failure is not kept (the next call tries again). */
function once(make: () => Promise<Buffer>): () => Promise<Buffer> {
  let pending: Promise<Buffer> | undefined
  return () =>
    (pending ??= make().catch((e: unknown) => {
      pending = undefined
      throw e
    }))
}

/** Wraps serialised bytes with their strong ETag and lazily made compressed variants. */
export function renderBytes<T>(value: T, body: Buffer): Rendered<T> {
  return {
    value,
    body,
    etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
    gzip: once(() => gzipAsync(body, { level: 6 })),
    brotli: once(() =>
      brotliAsync(body, {
        params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length },
      }),
    ),
  }
}

export function render<T>(value: T, wrap: (v: T) => unknown = (v) => v): Rendered<T> {
  return renderBytes(value, Buffer.from(JSON.stringify(wrap(value))))
}

/**
 * The continue token of a page that ended at `name`: opaque to clients (base64url JSON), and
 * stateless, so it never expires; a page reflects the objects as they are when it is asked for.
 */
export function continueToken(name: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: name })).toString('base64url')
}

/** The name a continue token resumes after, or undefined when the token is not one of ours. */
export function parseContinueToken(token: string): string | undefined {
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown }
    return parsed.v === 1 && typeof parsed.after === 'string' && parsed.after.length > 0 ? parsed.after : undefined
  } catch {
    return undefined
  }
}

/** The index of the first of the sorted `names` that comes after `after`. */
function firstAfter(names: string[], after: string | undefined): number {
  if (after === undefined) return 0
  let lo = 0
  let hi = names.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (names[mid]! <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}

const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']}')

/** `{…head…,"items":[` + the items' bytes joined by commas + `]}`: the same bytes JSON.stringify makes. */
function joinItems(head: Record<string, unknown>, items: Rendered<ApiObject>[]): Buffer {
  const open = JSON.stringify(head)
  const parts: Buffer[] = [Buffer.from(`${open.slice(0, -1)}${open.length > 2 ? ',' : ''}"items":[`)]
  items.forEach((r, i) => {
    if (i > 0) parts.push(COMMA)
    parts.push(r.body)
  })
  parts.push(CLOSE)
  return Buffer.concat(parts)
}

export function createObjectCache(source: StatusSource, feed: ChangeFeed, opts: { maxAgeMs?: number; now?: () => number } = {}): ObjectCache {
  const maxAge = opts.maxAgeMs ?? 30_000
  const now = opts.now ?? Date.now
  const kinds = new Map<ApiKind, KindState>()
  const state = (kind: ApiKind): KindState => {
    let s = kinds.get(kind)
    if (!s || now() - s.builtAt > maxAge) {
      s = { objects: new Map(), pages: new Map(), pageBytes: 0, builtAt: now() }
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
    s.pages.clear()
    s.pageBytes = 0
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
  /** The kind's names in order, listing the source once per change of the name set. */
  const namesOf = (kind: ApiKind, s: KindState): string[] => {
    if (!s.names) {
      const all = source.objects(kind)
      s.names = [...all.keys()].sort()
      for (const [name, view] of all) if (!s.objects.has(name)) s.objects.set(name, render(toApiObject(kind, name, view)))
    }
    return s.names
  }
  const renderedItems = (kind: ApiKind, s: KindState, names: string[]): Rendered<ApiObject>[] => {
    const out: Rendered<ApiObject>[] = []
    for (const name of names) {
      const r = renderOne(kind, name, s)
      if (r) out.push(r)
    }
    return out
  }
  return {
    list(kind) {
      const s = state(kind)
      if (s.list) return s.list
      const items = renderedItems(kind, s, namesOf(kind, s))
      s.list = renderBytes(
        items.map((r) => r.value),
        joinItems({ apiVersion: 'proximity/v1alpha1', kind: `${kind}List` }, items),
      )
      return s.list
    },
    page(kind, req) {
      const s = state(kind)
      const key = `${req.limit}\u0000${req.after ?? ''}`
      const hit = s.pages.get(key)
      if (hit) return hit
      const names = namesOf(kind, s)
      const start = firstAfter(names, req.after)
      const items = renderedItems(kind, s, names.slice(start, start + req.limit))
      const remaining = names.length - Math.min(names.length, start + req.limit)
      const last = items[items.length - 1]
      const more = remaining > 0 && last !== undefined
      const metadata = more ? { continue: continueToken(last.value.metadata.name), remainingItemCount: remaining } : {}
      const value: ListPage = { items: items.map((r) => r.value), ...metadata }
      const r = renderBytes(value, joinItems({ apiVersion: 'proximity/v1alpha1', kind: `${kind}List`, metadata }, items))
      for (const [k, old] of s.pages) {
        if (s.pageBytes + r.body.length <= PAGE_CACHE_BYTES) break
        s.pages.delete(k)
        s.pageBytes -= old.body.length
      }
      if (r.body.length <= PAGE_CACHE_BYTES) {
        s.pages.set(key, r)
        s.pageBytes += r.body.length
      }
      return r
    },
    get(kind, name) {
      return renderOne(kind, name, state(kind))
    },
    close: unsubscribe,
  }
}
