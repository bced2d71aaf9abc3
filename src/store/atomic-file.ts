/**
 * A lowdb adapter that writes JSON durably: temp file in the same folder, fsync, rename over the
 * target, fsync the folder. A kill -9 (or power loss) at any moment leaves either the old or the
 * new file. lowdb's own JSONFile (steno) renames too but never fsyncs, so after a power cut the
 * renamed file can be empty; this adapter closes that gap.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Adapter } from 'lowdb'

/** Thrown by `read` when the file exists but is not valid JSON. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError'
  constructor(readonly file: string, options?: { cause?: unknown }) {
    super(`${file} is not valid JSON`, options)
  }
}

/** Prefix of temp files written by this adapter (`.<name>.<pid>.<rand>.tmp`). */
export const tempPrefix = (file: string): string => `.${basename(file)}.`

/** Durable JSON file adapter for `new Low(adapter, defaults)`. Writes must not overlap (the store serialises them). */
export class AtomicJsonFile<T> implements Adapter<T> {
  constructor(readonly file: string, private readonly mode = 0o600) {}

  async read(): Promise<T | null> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw e
    }
    try {
      return JSON.parse(text) as T
    } catch (e) {
      throw new CorruptFileError(this.file, { cause: e })
    }
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, this.mode)
  }
}

/** Writes `text` to `file` atomically and durably (temp + fsync + rename + fsync of the folder). */
export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(file)
  const tmp = join(dir, `${tempPrefix(file)}${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(text, 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, file)
  } catch (e) {
    await unlink(tmp).catch(() => {})
    throw e
  }
  await syncDir(dir)
}

/** fsyncs a folder so a rename inside it survives a power cut; best effort (not all platforms allow it). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // Opening a directory for fsync is not supported everywhere (e.g. Windows); the rename is still atomic.
  }
}
