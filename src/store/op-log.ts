/**
 * The state store's write-ahead log: JSON Lines appended to `state.<gen>.log`, one line per
 * mutation, written in batches and made durable with one fdatasync per batch. A write costs the
 * bytes of what changed, whatever the size of the state. The snapshot (`state.json`) records
 * the generation whose log continues it; compaction writes a new snapshot, then starts the log
 * of the next generation and removes the old one (see state-store.ts).
 *
 * Crash safety (kill -9, power loss): a batch is either fully appended or torn at its end; a torn
 * last line is skipped on replay, and the next writer starts a fresh line before appending, so
 * later lines stay parseable. Replaying a line twice is harmless (every op carries the full new
 * value of one key), which is what makes the snapshot/log switch safe to crash in.
 */
import { open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/** A log file of the state folder and its generation. */
export interface LogFile {
  gen: number
  path: string
}

const LOG_RE = /^state\.(\d+)\.log$/

/** Path of the log of generation `gen` in `dir`. */
export const logPath = (dir: string, gen: number): string => join(dir, `state.${gen}.log`)

/** Every `state.<gen>.log` in `dir`, oldest generation first. */
export async function listLogs(dir: string): Promise<LogFile[]> {
  const out: LogFile[] = []
  for (const name of await readdir(dir)) {
    const m = LOG_RE.exec(name)
    if (m) out.push({ gen: Number(m[1]), path: join(dir, name) })
  }
  return out.sort((a, b) => a.gen - b.gen)
}

/**
 * Reads a log and calls `apply` for each complete, parseable line in order. Returns the byte
 * size read. A missing file reads as empty; a torn or foreign line is skipped.
 */
export async function replayLog(path: string, apply: (op: unknown) => void): Promise<number> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw e
  }
  let start = 0
  for (;;) {
    const end = text.indexOf('\n', start)
    if (end < 0) break
    const line = text.slice(start, end)
    start = end + 1
    if (!line) continue
    let op: unknown
    try {
      op = JSON.parse(line)
    } catch {
      continue // a line torn by a crash, terminated by a later writer
    }
    apply(op)
  }
  return Buffer.byteLength(text)
}

/** An open log being appended to. Not safe for two processes at once (the lease sees to that). */
export interface OpLog {
  readonly gen: number
  /** Bytes in the file (as read at open, plus what this handle appended). */
  readonly bytes: number
  /** Appends `lines` (each ending in a newline) with one write and one fdatasync. Calls must not overlap. */
  write(lines: string): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the log of generation `gen` for appending (the file is created, mode 0600, on the first
 * write only, so readers such as `plan` or `get` never create or touch it).
 */
export function openOpLog(dir: string, gen: number, existingBytes: number): OpLog {
  const path = logPath(dir, gen)
  let fh: FileHandle | undefined
  let bytes = existingBytes
  const ensureOpen = async (): Promise<FileHandle> => {
    if (fh) return fh
    const h = await open(path, 'a+', 0o600)
    // Terminate a line torn by a crash so the next op starts on its own line.
    const size = (await h.stat()).size
    bytes = size
    if (size > 0) {
      const buf = Buffer.alloc(1)
      await h.read(buf, 0, 1, size - 1)
      if (buf[0] !== 0x0a) {
        await h.write('\n')
        bytes++
      }
    }
    fh = h
    return h
  }
  return {
    gen,
    get bytes() {
      return bytes
    },
    async write(lines) {
      if (!lines) return
      const h = await ensureOpen()
      await h.write(lines)
      await h.datasync()
      bytes += Buffer.byteLength(lines)
    },
    async close() {
      await fh?.close()
      fh = undefined
    },
  }
}

/** Removes the logs older than `gen` (their content is in the snapshot of `gen`). */
export async function removeLogsBefore(dir: string, gen: number): Promise<void> {
  for (const l of await listLogs(dir)) if (l.gen < gen) await unlink(l.path).catch(() => {})
}

/** Size of a file in bytes, 0 when missing. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}
