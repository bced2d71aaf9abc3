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

/** In-memory request log, capped at `limit` entries (oldest dropped). */
export class MemoryRequestLog implements RequestLog {
  private list: SimRequestLogEntry[] = []

  constructor(private readonly limit = 50_000) {}

  /** Appends one entry. */
  add(e: SimRequestLogEntry): void {
    this.list.push(e)
    if (this.list.length > this.limit) this.list.splice(0, this.list.length - this.limit)
  }

  entries(): SimRequestLogEntry[] {
    return [...this.list]
  }

  clear(): void {
    this.list = []
  }

  mutating(): SimRequestLogEntry[] {
    return this.list.filter(isMutating)
  }
}
