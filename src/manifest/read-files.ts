/**
 * Step 1 of loading: turn `-f` paths into manifest texts. Folders are read recursively
 * (`.yaml`/`.yml`, sorted, dotfiles and dot-folders skipped, symlink loops cut); each file is
 * size-capped and must be UTF-8 text. Problems become located errors, never exceptions.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { ManifestError } from '../model/types.js'

/** One manifest file to parse. */
export interface ManifestText {
  /** Absolute path. */
  file: string
  /** The folder the file was found under (the `-f` folder, or the file's own folder). */
  root: string
  text: string
  /** The file's real path (symbolic links resolved), to recognise it when named another way. */
  real?: string
}

/** Options for {@link readManifestFiles}. */
export interface ReadFilesOptions {
  /** Base for relative paths. */
  cwd: string
  /** Largest file accepted, in bytes. @default 5 MiB */
  maxFileBytes?: number
}

/** Default cap on one manifest file. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024

const at = (file: string, message: string, line = 1, column = 1): ManifestError => ({ file, line, column, path: '', message })

const isManifestName = (name: string): boolean => !name.startsWith('.') && /\.ya?ml$/i.test(name)

/**
 * Reads every manifest file under `paths`. Never throws for I/O problems: unreadable paths,
 * missing files, loops, oversize, binary and non-UTF-8 files become errors.
 */
export async function readManifestFiles(paths: string[], opts: ReadFilesOptions): Promise<{ files: ManifestText[]; errors: ManifestError[] }> {
  const files: ManifestText[] = []
  const errors: ManifestError[] = []
  const seen = new Set<string>()
  const max = opts.maxFileBytes ?? MAX_FILE_BYTES

  async function readOne(file: string, root: string): Promise<void> {
    let real: string
    try {
      real = await realpath(file)
    } catch (e) {
      errors.push(at(file, describeIoError(e, 'read')))
      return
    }
    if (seen.has(real)) return
    seen.add(real)
    try {
      const st = await stat(real)
      if (!st.isFile()) {
        errors.push(at(file, 'not a regular file; pass manifest files or folders'))
        return
      }
      if (st.size > max) {
        errors.push(at(file, `file is ${(st.size / 1048576).toFixed(1)} MiB; manifests are limited to ${(max / 1048576).toFixed(0)} MiB, split it into smaller files`))
        return
      }
      const buf = await readFile(real)
      if (buf.length > max) {
        errors.push(at(file, `file is larger than ${(max / 1048576).toFixed(0)} MiB; split it into smaller files`))
        return
      }
      const decoded = decodeYamlBytes(buf)
      if (typeof decoded !== 'string') {
        errors.push(at(file, decoded.message, decoded.line, decoded.column))
        return
      }
      files.push({ file, root, text: decoded, real })
    } catch (e) {
      errors.push(at(file, describeIoError(e, 'read')))
    }
  }

  async function walk(dir: string, root: string, ancestors: Set<string>): Promise<number> {
    let real: string
    try {
      real = await realpath(dir)
    } catch (e) {
      errors.push(at(dir, describeIoError(e, 'read folder')))
      return 0
    }
    if (ancestors.has(real)) return 0 // symlink loop: already being walked
    const next = new Set(ancestors).add(real)
    let entries: string[]
    try {
      entries = (await readdir(dir)).sort()
    } catch (e) {
      errors.push(at(dir, describeIoError(e, 'read folder')))
      return 0
    }
    let count = 0
    for (const name of entries) {
      if (name.startsWith('.')) continue
      const full = join(dir, name)
      let isDir = false
      try {
        const st = await stat(full)
        isDir = st.isDirectory()
        if (!isDir && !st.isFile()) continue
      } catch (e) {
        // A dangling or looping symlink: report it only if it looks like a manifest.
        if (isManifestName(name)) errors.push(at(full, describeIoError(e, 'read')))
        continue
      }
      if (isDir) count += await walk(full, root, next)
      else if (isManifestName(name)) {
        await readOne(full, root)
        count++
      }
    }
    return count
  }

  for (const p of paths) {
    const abs = resolve(opts.cwd, p)
    let st
    try {
      st = await stat(abs)
    } catch (e) {
      let linkExists = false
      try {
        await lstat(abs)
        linkExists = true
      } catch {
        // not there at all
      }
      errors.push(at(abs, linkExists ? describeIoError(e, 'read') : `no such file or folder; check the -f path "${p}"`))
      continue
    }
    if (st.isDirectory()) {
      const n = await walk(abs, abs, new Set())
      if (n === 0 && !errors.some((e) => e.file.startsWith(abs))) errors.push(at(abs, 'folder contains no .yaml or .yml manifests'))
    } else {
      await readOne(abs, dirname(abs))
    }
  }
  return { files, errors }
}

function describeIoError(e: unknown, verb: string): string {
  const code = (e as NodeJS.ErrnoException)?.code
  if (code === 'EACCES' || code === 'EPERM') return `cannot ${verb}: permission denied`
  if (code === 'ELOOP') return `cannot ${verb}: symbolic link loop`
  if (code === 'ENOENT') return `cannot ${verb}: no such file (dangling link?)`
  if (code === 'EISDIR') return `cannot ${verb}: is a folder`
  return `cannot ${verb}: ${code ?? 'i/o error'}`
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes the bytes of a YAML file (a manifest, or a compose file read through composeFile) as
 * UTF-8 text. A byte-order mark is dropped at the very start only; UTF-16/UTF-32 text, NUL
 * bytes, invalid UTF-8 and a byte-order mark anywhere else are refused with a position, so a
 * file never means something else than it shows in an editor. Pure.
 */
export function decodeYamlBytes(buf: Uint8Array): string | { message: string; line: number; column: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  const wide = utfWidth(b)
  if (wide) return { message: `file is ${wide} text; save it as UTF-8`, line: 1, column: 1 }
  const nul = b.indexOf(0)
  if (nul >= 0) return { message: 'file is binary data, not YAML text', ...position(b, nul) }
  let text: string
  try {
    text = utf8.decode(b)
  } catch {
    const bad = firstInvalidUtf8(b)
    return { message: 'file is not valid UTF-8 text; save it as UTF-8', ...position(b, bad) }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const bom = text.indexOf('\uFEFF')
  if (bom >= 0) {
    const before = text.slice(0, bom)
    const line = before.split('\n').length
    return { message: 'byte-order mark (U+FEFF) inside the file; only the very start may carry one, remove it', line, column: bom - before.lastIndexOf('\n') }
  }
  return text
}

/** Names UTF-16/UTF-32 input, told by its byte-order mark or by the NUL bytes of ASCII text. */
function utfWidth(b: Buffer): string | undefined {
  if (b.length >= 4 && ((b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) || (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff))) return 'UTF-32'
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))) return 'UTF-16'
  // Without a mark: ASCII text in UTF-16 has a NUL in every other byte.
  if (b.length >= 4 && b.length % 2 === 0) {
    const n = Math.min(b.length, 64)
    let even = 0
    let odd = 0
    for (let i = 0; i < n; i++) if (b[i] === 0) (i % 2 ? odd++ : even++)
    if ((even === 0 && odd === n / 2) || (odd === 0 && even === n / 2)) return 'UTF-16'
  }
  return undefined
}

function position(buf: Buffer, offset: number): { line: number; column: number } {
  let line = 1
  let lastNl = -1
  for (let i = 0; i < offset; i++) if (buf[i] === 10) { line++; lastNl = i }
  return { line, column: offset - lastNl }
}

function firstInvalidUtf8(buf: Buffer): number {
  let i = 0
  while (i < buf.length) {
    const b = buf[i]
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0
    if (len === 0 || i + len > buf.length) return i
    try {
      utf8.decode(buf.subarray(i, i + len))
    } catch {
      return i
    }
    i += len
  }
  return 0
}
