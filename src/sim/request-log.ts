import type { SimRequestLogEntry } from './contracts.js'
import type { RequestLog } from './types.js'

/** SSH commands that only read (everything else a node runs counts as state-changing). */
const READ_ONLY_SSH = /^(pct (config|status|list|pending|pull|df)|cat|ls|stat|test|true|uname|pveversion|id|which|hostname)\b/

/** Whether an entry changed state: any non-GET HTTP request, or an SSH command that is not read-only. */
export function isMutating(e: SimRequestLogEntry): boolean {
  if (e.method === 'GET') return false
  if (e.method === 'SSH') return !READ_ONLY_SSH.test(e.route)
  return true
}

/**
 * In-memory request log, capped at `limit` entries (oldest dropped). A ring buffer once full, so
 * appending stays O(1) (shifting a 50,000-entry array per request is not).
 */
export class MemoryRequestLog implements RequestLog {
  private list: SimRequestLogEntry[] = []
  /** Index of the oldest entry once the ring is full. */
  private head = 0

  constructor(private readonly limit = 50_000) {}

  /** Appends one entry. */
  add(e: SimRequestLogEntry): void {
    if (this.limit <= 0) return
    if (this.list.length < this.limit) {
      this.list.push(e)
      return
    }
    this.list[this.head] = e
    this.head = (this.head + 1) % this.limit
  }

  entries(): SimRequestLogEntry[] {
    return this.head === 0 ? [...this.list] : [...this.list.slice(this.head), ...this.list.slice(0, this.head)]
  }

  clear(): void {
    this.list = []
    this.head = 0
  }

  mutating(): SimRequestLogEntry[] {
    return this.entries().filter(isMutating)
  }
}
