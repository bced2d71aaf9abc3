/**
 * The simulated node's host filesystem (in memory, per SSH node server) and the SFTP subsystem
 * serving it. Only what an upload needs: open/write/read/close, stat, setstat, remove, realpath.
 * Writable places are `/tmp` and `/root` (like a node's scratch space); contents never leave
 * memory and are never logged.
 */
import ssh2 from 'ssh2'
import type { Attributes, SFTPWrapper } from 'ssh2'

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp

/** One file on the simulated node. */
export interface HostFile {
  data: Buffer
  mode: number
  mtime: number
}

/** The node's in-memory filesystem. */
export type HostFs = Map<string, HostFile>

const WRITABLE_DIRS = ['/tmp', '/root']

/** Normalised absolute path, or undefined for relative paths or NUL bytes. */
export function hostPath(p: string): string | undefined {
  if (!p.startsWith('/') || p.includes('\0')) return undefined
  const out: string[] = []
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return '/' + out.join('/')
}

function attrsOf(f: HostFile): Attributes {
  const t = Math.floor(f.mtime / 1000)
  return { mode: 0o100000 | f.mode, uid: 0, gid: 0, size: f.data.length, atime: t, mtime: t }
}

/** Serves SFTP requests on `sftp` against `fs`. */
export function serveSftp(sftp: SFTPWrapper, fs: HostFs): void {
  const handles = new Map<number, string>()
  let nextHandle = 1
  const handleId = (h: Buffer): number => (h.length === 4 ? h.readUInt32BE(0) : -1)
  const fileOf = (h: Buffer): HostFile | undefined => {
    const path = handles.get(handleId(h))
    return path === undefined ? undefined : fs.get(path)
  }
  sftp.on('OPEN', (reqid, filename, flags, attrs) => {
    const path = hostPath(filename)
    if (!path) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    let f = fs.get(path)
    if (flags & OPEN_MODE.WRITE) {
      const dir = path.slice(0, path.lastIndexOf('/')) || '/'
      if (!WRITABLE_DIRS.includes(dir)) return sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED)
      if (f && flags & OPEN_MODE.EXCL) return sftp.status(reqid, STATUS_CODE.FAILURE, 'file exists')
      if (!f && !(flags & OPEN_MODE.CREAT)) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
      if (!f) {
        f = { data: Buffer.alloc(0), mode: (attrs.mode ?? 0o644) & 0o7777, mtime: Date.now() }
        fs.set(path, f)
      } else if (flags & OPEN_MODE.TRUNC) f.data = Buffer.alloc(0)
    } else if (!f) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    const id = nextHandle++
    handles.set(id, path)
    const h = Buffer.alloc(4)
    h.writeUInt32BE(id, 0)
    sftp.handle(reqid, h)
  })
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const f = fileOf(handle)
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE)
    const end = offset + data.length
    if (end > f.data.length) {
      const grown = Buffer.alloc(end)
      f.data.copy(grown)
      f.data = grown
    }
    data.copy(f.data, offset)
    f.mtime = Date.now()
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on('READ', (reqid, handle, offset, length) => {
    const f = fileOf(handle)
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE)
    if (offset >= f.data.length) return sftp.status(reqid, STATUS_CODE.EOF)
    sftp.data(reqid, f.data.subarray(offset, Math.min(f.data.length, offset + length)))
  })
  sftp.on('FSTAT', (reqid, handle) => {
    const f = fileOf(handle)
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE)
    sftp.attrs(reqid, attrsOf(f))
  })
  const stat = (reqid: number, p: string): void => {
    const path = hostPath(p)
    const f = path ? fs.get(path) : undefined
    if (f) return sftp.attrs(reqid, attrsOf(f))
    if (path && (path === '/' || WRITABLE_DIRS.includes(path))) return sftp.attrs(reqid, { mode: 0o040755, uid: 0, gid: 0, size: 4096, atime: 0, mtime: 0 })
    sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
  }
  sftp.on('STAT', stat)
  sftp.on('LSTAT', stat)
  sftp.on('FSETSTAT', (reqid, handle, attrs) => {
    const f = fileOf(handle)
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE)
    if (attrs.mode !== undefined) f.mode = attrs.mode & 0o7777
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on('SETSTAT', (reqid, p, attrs) => {
    const path = hostPath(p)
    const f = path ? fs.get(path) : undefined
    if (!f) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    if (attrs.mode !== undefined) f.mode = attrs.mode & 0o7777
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on('CLOSE', (reqid, handle) => {
    if (!handles.delete(handleId(handle))) return sftp.status(reqid, STATUS_CODE.FAILURE)
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on('REMOVE', (reqid, p) => {
    const path = hostPath(p)
    if (!path || !fs.delete(path)) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    sftp.status(reqid, STATUS_CODE.OK)
  })
  sftp.on('REALPATH', (reqid, p) => {
    const path = hostPath(p.startsWith('/') ? p : `/root/${p}`) ?? '/root'
    sftp.name(reqid, [{ filename: path, longname: path, attrs: {} as Attributes }])
  })
  for (const op of ['OPENDIR', 'READDIR', 'RMDIR', 'MKDIR', 'RENAME', 'READLINK', 'SYMLINK']) {
    sftp.on(op, (reqid: number) => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED))
  }
}
