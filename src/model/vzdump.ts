/**
 * vzdump archives as Proxmox names and lists them (REFERENCE §4.3, §7.1). Pure.
 *
 *   local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst
 *   <storage>:backup/vzdump-<lxc|qemu|openvz>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<tar|vma|tgz>[.<gz|lzo|zst|bz2|xz>]
 *
 * The stamp is the backup start in the node's local time; Proxmox's content listing turns it into
 * `ctime` with the node's zone, so prefer the listing's `ctime` and use {@link backupTime} only
 * when there is none.
 */
import { wallClockToDate } from './time-zone.js'

/** What a backup volid says about itself. */
export interface BackupVolid {
  volid: string
  storage: string
  /** The file name, e.g. `vzdump-lxc-105-2026_11_30-03_00_01.tar.zst`. */
  file: string
  guestType: 'lxc' | 'qemu' | 'openvz'
  vmid: number
  /** The stamp as written, `YYYY-MM-DD HH:MM:SS` (node local time). */
  stamp: string
  /** `tar.zst`, `vma.zst`, `tgz`, … as Proxmox's `format` field. */
  format: string
  wall: { year: number; month: number; day: number; hour: number; minute: number; second: number }
}

const ARCHIVE_RE = /^vzdump-(lxc|qemu|openvz)-([1-9][0-9]{2,8})-([0-9]{4})_([0-9]{2})_([0-9]{2})-([0-9]{2})_([0-9]{2})_([0-9]{2})\.(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2|xz))?)$/

/**
 * Parses a backup volid (`storage:backup/file`), a volname (`backup/file`) or a bare file name.
 * Returns undefined for anything that is not a standard vzdump archive name (Proxmox lists such
 * files too, without `vmid`; they are not ours to interpret).
 */
export function parseBackupVolid(volid: string): BackupVolid | undefined {
  if (typeof volid !== 'string') return undefined
  const colon = volid.indexOf(':')
  const storage = colon > 0 ? volid.slice(0, colon) : ''
  const volname = colon > 0 ? volid.slice(colon + 1) : volid
  const file = volname.startsWith('backup/') ? volname.slice('backup/'.length) : volname
  if (file.includes('/')) return undefined
  const m = ARCHIVE_RE.exec(file)
  if (!m) return undefined
  const [, type, vmid, y, mo, d, h, mi, s, format] = m
  const wall = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi), second: Number(s) }
  if (wall.month < 1 || wall.month > 12 || wall.day < 1 || wall.day > 31 || wall.hour > 23 || wall.minute > 59 || wall.second > 59) return undefined
  return {
    volid,
    storage,
    file,
    guestType: type as BackupVolid['guestType'],
    vmid: Number(vmid),
    stamp: `${y}-${mo}-${d} ${h}:${mi}:${s}`,
    format: format as string,
    wall,
  }
}

/** The instant a backup started, read from its name in the node's time zone (default UTC). */
export function backupTime(v: BackupVolid, timeZone = 'UTC'): Date {
  return wallClockToDate(v.wall, timeZone)
}

/** One item of `GET /nodes/{node}/storage/{storage}/content?content=backup`. */
export interface BackupContentItem {
  volid: string
  content?: string
  format?: string
  subtype?: string
  vmid?: number | string
  size?: number | string
  /** Epoch seconds (from the file name for standard names). */
  ctime?: number | string
  /** First line of the notes only. */
  notes?: string
  protected?: number | string | boolean
}

/** A backup as Proximity reports it. */
export interface BackupEntry {
  volid: string
  storage: string
  vmid: number
  guestType: BackupVolid['guestType']
  time: Date
  size: number
  format: string
  notes?: string
  protected: boolean
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  return Number.isFinite(n) ? n : undefined
}

/**
 * Turns content listing items into backup entries, dropping everything that is not a standard
 * vzdump archive. `ctime` from the listing wins; the file name (read in `timeZone`) is the
 * fallback. Sorted newest first, then by volid, so the result is stable.
 */
export function backupEntries(items: readonly BackupContentItem[], timeZone = 'UTC'): BackupEntry[] {
  const out: BackupEntry[] = []
  for (const item of items) {
    if (item.content !== undefined && item.content !== 'backup') continue
    const v = parseBackupVolid(item.volid)
    if (!v) continue
    const ctime = num(item.ctime)
    const p = item.protected
    out.push({
      volid: item.volid,
      storage: v.storage,
      vmid: num(item.vmid) ?? v.vmid,
      guestType: v.guestType,
      time: ctime !== undefined ? new Date(ctime * 1000) : backupTime(v, timeZone),
      size: num(item.size) ?? 0,
      format: item.format ?? v.format,
      notes: typeof item.notes === 'string' ? item.notes : undefined,
      protected: p === true || p === 1 || p === '1',
    })
  }
  return out.sort((a, b) => b.time.getTime() - a.time.getTime() || (a.volid < b.volid ? -1 : a.volid > b.volid ? 1 : 0))
}
