/**
 * The port the API reads through. The engine implements it (manifests of the last good set joined
 * with the store's statuses); tests may implement it over a real store. Everything it returns is
 * already free of secrets except manifests, which the API masks itself (objects.ts).
 */
import type { Kind } from '../model/types.js'
import type { StoredEvent } from '../store/types.js'
import type { ObjectView } from './objects.js'

/** One change the live stream forwards. `id` is assigned by the change feed. */
export interface ApiChange {
  type: 'status' | 'event' | 'revision' | 'delivery' | 'source'
  /** `Kind/name` for status changes and events. */
  key?: string
  data?: unknown
}

export interface Readiness {
  ready: boolean
  checks: { name: string; ok: boolean; message?: string }[]
}

export interface StatusSource {
  /** Every object of a kind, by name (declared, or still known to the store). */
  objects(kind: Exclude<Kind, 'Cluster'>): Map<string, ObjectView>
  /** One object (cheap: no listing). */
  object(kind: Exclude<Kind, 'Cluster'>, name: string): ObjectView | undefined
  events(opts: { key?: string; limit?: number }): StoredEvent[]
  /** The revision being reconciled and the source it came from. */
  revision(): Record<string, unknown>
  /** Webhook deliveries, newest first (GitOps); empty when there is no git source. */
  deliveries(): Record<string, unknown>[]
  /** Known backups, newest first. */
  backups(): Record<string, unknown>[]
  /** Summary for the dashboard's overview (counts are computed by the API). */
  summary(): { lastResync?: string; notManaged: { kind: string; name: string; reason: string }[] }
  readiness(): Promise<Readiness>
  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (change: ApiChange) => void): () => void
}

/** A change as delivered to stream clients. */
export interface FeedEntry extends ApiChange {
  id: number
  time: string
}

/**
 * Fans one subscription out to many stream clients and keeps the last `capacity` changes so a
 * client that reconnects with `Last-Event-ID` gets what it missed.
 */
export interface ChangeFeed {
  /** Changes after `lastId` (all kept ones when undefined); `gap` when some were dropped. */
  since(lastId: number | undefined): { entries: FeedEntry[]; gap: boolean }
  lastId(): number
  subscribe(listener: (e: FeedEntry) => void): () => void
  close(): void
}

export function createChangeFeed(source: StatusSource, opts: { capacity?: number; now?: () => number } = {}): ChangeFeed {
  const capacity = opts.capacity ?? 1000
  const now = opts.now ?? Date.now
  const ring: FeedEntry[] = []
  const listeners = new Set<(e: FeedEntry) => void>()
  let next = 1
  const unsubscribe = source.subscribe((change) => {
    const entry: FeedEntry = { ...change, id: next++, time: new Date(now()).toISOString() }
    ring.push(entry)
    if (ring.length > capacity) ring.shift()
    for (const l of listeners) {
      try {
        l(entry)
      } catch {
        // a failing client must not stop the others
      }
    }
  })
  return {
    since(lastId) {
      if (lastId === undefined) return { entries: [], gap: false }
      const first = ring[0]?.id ?? next
      const gap = lastId + 1 < first
      return { entries: ring.filter((e) => e.id > lastId), gap }
    },
    lastId: () => next - 1,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      unsubscribe()
      listeners.clear()
    },
  }
}
