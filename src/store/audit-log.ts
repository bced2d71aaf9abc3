/**
 * The audit log: append-only JSON Lines (`audit.log`), never rewritten. Appends are grouped and
 * fsync'd; a crash can tear at most the last line, which readers skip and the next open
 * terminates so later entries stay parseable.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises'
import type { AuditEntry } from './types.js'
import { redactFields } from './redact.js'

export interface AuditLog {
  /** Queues one entry (secret-looking values are redacted); `flush` makes it durable. */
  append(entry: AuditEntry): void
  /** Resolves when every queued entry is written and fsync'd. */
  flush(): Promise<void>
  /** Entries oldest first; `limit` keeps the newest N. A torn or foreign line is skipped. */
  read(opts?: { limit?: number }): Promise<AuditEntry[]>
  close(): Promise<void>
}

/** Opens (creating, mode 0600) the audit log at `file`. */
export async function openAuditLog(file: string): Promise<AuditLog> {
  const fh: FileHandle = await open(file, 'a', 0o600)
  // Terminate a line torn by a crash so the next entry starts on its own line.
  const size = (await stat(file)).size
  if (size > 0) {
    const rh = await open(file, 'r')
    try {
      const buf = Buffer.alloc(1)
      await rh.read(buf, 0, 1, size - 1)
      if (buf[0] !== 0x0a) {
        await fh.write('\n')
        await fh.sync()
      }
    } finally {
      await rh.close()
    }
  }
  let pending: string[] = []
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  const writeOut = (): Promise<void> => {
    chain = chain
      .catch(() => {})
      .then(async () => {
        if (pending.length === 0) return
        const lines = pending.join('')
        pending = []
        await fh.write(lines)
        await fh.datasync()
      })
    return chain
  }
  return {
    append(entry) {
      if (closed) throw new Error('audit log is closed')
      pending.push(`${JSON.stringify(redactFields(entry))}\n`)
      if (pending.length === 1) queueMicrotask(() => void writeOut().catch(() => {}))
    },
    flush: () => writeOut(),
    async read(opts = {}) {
      await writeOut()
      const text = await readFile(file, 'utf8')
      const out: AuditEntry[] = []
      for (const line of text.split('\n')) {
        if (!line.trim()) continue
        try {
          const v = JSON.parse(line) as AuditEntry
          if (v && typeof v === 'object' && typeof v.action === 'string') out.push(v)
        } catch {
          // A line torn by a crash: skip it.
        }
      }
      return opts.limit !== undefined ? out.slice(Math.max(0, out.length - opts.limit)) : out
    },
    async close() {
      if (closed) return
      await writeOut()
      closed = true
      await fh.close()
    },
  }
}
