/**
 * The webhook delivery log: the last 200 deliveries with their verdicts and the revision each led
 * to, newest first, kept in a small JSON file in the state dir so they survive a restart.
 * Nothing secret is ever recorded (no signature, no token, no body).
 */
import { randomUUID } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export type DeliveryVerdict = 'accepted' | 'duplicate' | 'wrong signature' | 'ignored ref' | 'ignored event' | 'too large' | 'rate limited' | 'ping' | 'invalid payload'

export interface Delivery {
  id: string
  time: string
  source: string
  event: string
  deliveryId?: string
  ref?: string
  verdict: DeliveryVerdict
  /** Why a delivery was refused (never a secret). */
  message?: string
  client?: string
  /** The revision the accepted delivery led to, once the fetch finished. */
  revision?: string
  /** The fetch error, when the accepted delivery's fetch failed. */
  error?: string
}

export interface DeliveryLog {
  record(d: Omit<Delivery, 'id' | 'time'>): Delivery
  resolve(id: string, revision: string | undefined, error?: string): void
  /** True when this provider's delivery id was accepted before (replays are dropped). */
  seen(source: string, deliveryId: string): boolean
  list(): Delivery[]
  onChange(listener: (d: Delivery) => void): () => void
}

export interface DeliveryLogOptions {
  /** Persist here (atomic rewrite of a small file). */
  file?: string
  /** @default 200 */
  capacity?: number
  now?: () => number
}

export function createDeliveryLog(opts: DeliveryLogOptions = {}): DeliveryLog {
  const capacity = opts.capacity ?? 200
  const now = opts.now ?? Date.now
  let items: Delivery[] = []
  const accepted = new Set<string>()
  const listeners = new Set<(d: Delivery) => void>()
  if (opts.file) {
    try {
      const parsed = JSON.parse(readFileSync(opts.file, 'utf8')) as { items?: Delivery[] }
      items = Array.isArray(parsed.items) ? parsed.items.slice(0, capacity) : []
    } catch {
      items = []
    }
    for (const d of items) if (d.deliveryId && d.verdict === 'accepted') accepted.add(`${d.source}/${d.deliveryId}`)
  }
  const persist = () => {
    if (!opts.file) return
    mkdirSync(dirname(opts.file), { recursive: true })
    const tmp = `${opts.file}.${process.pid}.tmp`
    writeFileSync(tmp, `${JSON.stringify({ items })}\n`, { mode: 0o600 })
    renameSync(tmp, opts.file)
  }
  const emit = (d: Delivery) => {
    for (const l of listeners) l(d)
  }
  return {
    record(d) {
      const entry: Delivery = { id: randomUUID(), time: new Date(now()).toISOString(), ...d }
      items = [entry, ...items].slice(0, capacity)
      if (d.verdict === 'accepted' && d.deliveryId) {
        accepted.add(`${d.source}/${d.deliveryId}`)
        // Bounded: ids older than ten logs' worth are forgotten.
        if (accepted.size > capacity * 10) accepted.delete(accepted.values().next().value!)
      }
      persist()
      emit(entry)
      return entry
    },
    resolve(id, revision, error) {
      const d = items.find((x) => x.id === id)
      if (!d) return
      if (revision) d.revision = revision
      if (error) d.error = error
      persist()
      emit(d)
    },
    seen: (source, deliveryId) => accepted.has(`${source}/${deliveryId}`),
    list: () => items.map((d) => ({ ...d })),
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
