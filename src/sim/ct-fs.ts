/**
 * The small filesystem inside a simulated container. It lives in the guest's runtime slot
 * (JSON-serialisable: contents base64, modes as numbers) so it persists with the simulator state.
 * Paths are absolute; `.`/`..` and repeated slashes are normalised. Errors are FsError with the
 * errno name so command front-ends can print BusyBox-style messages.
 */

/** One regular file. */
export interface CtFile {
  /** base64 of the content */
  data: string
  mode: number
  mtime: number
}

/** The filesystem part of a container's runtime state. */
export interface CtFs {
  files: Record<string, CtFile>
  /** directory path → mode */
  dirs: Record<string, number>
}

/** A failed filesystem operation; `code` is the errno name, `message` the strerror text. */
export class FsError extends Error {
  constructor(readonly code: 'ENOENT' | 'EEXIST' | 'EISDIR' | 'ENOTDIR' | 'ENOTEMPTY' | 'EINVAL', readonly path: string) {
    super(STRERROR[code])
  }
}

const STRERROR: Record<FsError['code'], string> = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ENOTEMPTY: 'Directory not empty',
  EINVAL: 'Invalid argument',
}

const OS_RELEASE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.22.1
PRETTY_NAME="Alpine Linux v3.22"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`
const REPOSITORIES = `http://dl-cdn.alpinelinux.org/alpine/v3.22/main
http://dl-cdn.alpinelinux.org/alpine/v3.22/community
`

/** A fresh Alpine 3.22 root filesystem. */
export function seedFs(now: number): CtFs {
  const dirs: Record<string, number> = {}
  for (const d of ['/', '/bin', '/dev', '/etc', '/etc/apk', '/etc/conf.d', '/etc/init.d', '/home', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/sbin', '/var', '/var/lib', '/var/log']) {
    dirs[d] = d === '/tmp' ? 0o1777 : d === '/root' ? 0o700 : 0o755
  }
  const file = (text: string): CtFile => ({ data: Buffer.from(text).toString('base64'), mode: 0o644, mtime: now })
  return {
    dirs,
    files: {
      '/etc/alpine-release': file('3.22.1\n'),
      '/etc/os-release': file(OS_RELEASE),
      '/etc/apk/repositories': file(REPOSITORIES),
      '/etc/hostname': file('localhost\n'),
    },
  }
}

/** Normalises an absolute path (throws EINVAL for relative paths or NUL bytes). */
export function normPath(path: string): string {
  if (!path.startsWith('/') || path.includes('\0')) throw new FsError('EINVAL', path)
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return '/' + out.join('/')
}

/** Parent directory of a normalised path (`/` for `/`). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}

/** Filesystem operations over a CtFs; every mutation goes through here. */
export class CtFilesystem {
  constructor(private readonly fs: CtFs, private readonly now: () => number) {}

  isDir(path: string): boolean {
    return normPath(path) in this.fs.dirs
  }

  isFile(path: string): boolean {
    return normPath(path) in this.fs.files
  }

  exists(path: string): boolean {
    return this.isDir(path) || this.isFile(path)
  }

  /** Reads a regular file. */
  read(path: string): Buffer {
    const p = normPath(path)
    if (p in this.fs.dirs) throw new FsError('EISDIR', path)
    const f = this.fs.files[p]
    if (!f) throw new FsError('ENOENT', path)
    return Buffer.from(f.data, 'base64')
  }

  mode(path: string): number | undefined {
    const p = normPath(path)
    return this.fs.files[p]?.mode ?? this.fs.dirs[p]
  }

  /** Creates or truncates a regular file; the parent directory must exist. */
  write(path: string, content: Buffer | string, mode?: number): void {
    const p = normPath(path)
    if (p in this.fs.dirs) throw new FsError('EISDIR', path)
    const parent = parentOf(p)
    if (!(parent in this.fs.dirs)) throw new FsError(parent in this.fs.files ? 'ENOTDIR' : 'ENOENT', path)
    const prev = this.fs.files[p]
    const data = (typeof content === 'string' ? Buffer.from(content) : content).toString('base64')
    this.fs.files[p] = { data, mode: mode ?? prev?.mode ?? 0o644, mtime: this.now() }
  }

  /** `mkdir [-p]` */
  mkdir(path: string, parents: boolean): void {
    const p = normPath(path)
    if (p in this.fs.dirs) {
      if (parents) return
      throw new FsError('EEXIST', path)
    }
    if (p in this.fs.files) throw new FsError('EEXIST', path)
    const parent = parentOf(p)
    if (!(parent in this.fs.dirs)) {
      if (!parents) throw new FsError(parent in this.fs.files ? 'ENOTDIR' : 'ENOENT', path)
      this.mkdir(parent, true)
    }
    this.fs.dirs[p] = 0o755
  }

  /** `rm [-r]`; a directory needs `recursive`. */
  remove(path: string, recursive: boolean): void {
    const p = normPath(path)
    if (p in this.fs.files) {
      delete this.fs.files[p]
      return
    }
    if (!(p in this.fs.dirs)) throw new FsError('ENOENT', path)
    if (!recursive || p === '/') throw new FsError('EISDIR', path)
    const prefix = p + '/'
    for (const k of Object.keys(this.fs.files)) if (k.startsWith(prefix)) delete this.fs.files[k]
    for (const k of Object.keys(this.fs.dirs)) if (k.startsWith(prefix)) delete this.fs.dirs[k]
    delete this.fs.dirs[p]
  }

  /** `mv -f SRC DST` for files (DST may be an existing directory). */
  move(src: string, dst: string): void {
    const s = normPath(src)
    let d = normPath(dst)
    if (d in this.fs.dirs) d = d === '/' ? `/${s.split('/').pop()}` : `${d}/${s.split('/').pop()}`
    const f = this.fs.files[s]
    if (!f) {
      if (s in this.fs.dirs) throw new FsError('EISDIR', src)
      throw new FsError('ENOENT', src)
    }
    if (!(parentOf(d) in this.fs.dirs)) throw new FsError('ENOENT', dst)
    if (d in this.fs.dirs) throw new FsError('EISDIR', dst)
    delete this.fs.files[s]
    this.fs.files[d] = { ...f, mtime: this.now() }
  }

  chmod(path: string, mode: number): void {
    const p = normPath(path)
    if (p in this.fs.files) this.fs.files[p].mode = mode
    else if (p in this.fs.dirs) this.fs.dirs[p] = mode
    else throw new FsError('ENOENT', path)
  }

  /** Entries directly under a directory, sorted. */
  list(path: string): string[] {
    const p = normPath(path)
    if (p in this.fs.files) return [p.split('/').pop() ?? p]
    if (!(p in this.fs.dirs)) throw new FsError('ENOENT', path)
    const prefix = p === '/' ? '/' : p + '/'
    const names = new Set<string>()
    for (const k of [...Object.keys(this.fs.files), ...Object.keys(this.fs.dirs)]) {
      if (k !== p && k.startsWith(prefix)) {
        const rest = k.slice(prefix.length)
        if (rest && !rest.includes('/')) names.add(rest)
      }
    }
    return [...names].sort()
  }
}
