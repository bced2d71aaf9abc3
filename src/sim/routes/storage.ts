import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../model/paths.js'
import { flag, num, str, type RouteDef } from '../core.js'
import { fail, paramError } from '../errors.js'
import { parseSize } from '../guest-config.js'
import type { SimVolume } from '../state.js'
import { rootfsBytes } from './shapes.js'
import { contentText, storageConfigItem, STORAGES, storageDef, storageUsed } from './storage-defs.js'

const BACKUP_RE = /^vzdump-(lxc|qemu)-(\d+)-(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})\.(tar(?:\.(?:zst|gz|lzo))?|vma(?:\.(?:zst|gz|lzo))?|tgz)$/

/** Backup archive facts from its file name; `ctime` parsed in node (process) local time (trap 15). */
export function backupInfo(file: string): { subtype: string; vmid: number; ctime: number; format: string } | undefined {
  const m = BACKUP_RE.exec(file)
  if (!m) return undefined
  const [, subtype, vmid, y, mo, d, h, mi, s, format] = m
  const ctime = Math.floor(new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime() / 1000)
  return { subtype: subtype as string, vmid: Number(vmid), ctime, format: format as string }
}

/** vztmpl `format`: `tar` or `t<ext>` (`txz`, `tzst`, `tgz`, …). */
export function templateFormat(file: string): string {
  const m = /\.tar(?:\.(\w+))?$/.exec(file)
  if (!m) return 'raw'
  if (!m[1]) return 'tar'
  return `t${m[1] === 'bz2' ? 'bz2' : m[1]}`
}

let aplinfo: Record<string, unknown>[] | undefined
/** The appliance index sample (`src/sim/data/aplinfo.json`). */
export function aplinfoRecords(): Record<string, unknown>[] {
  aplinfo ??= JSON.parse(readFileSync(join(packageRoot(), 'src', 'sim', 'data', 'aplinfo.json'), 'utf8')) as Record<string, unknown>[]
  return aplinfo
}

/** A `local` volume listed as `…/content` shows it. */
function contentItem(v: SimVolume): Record<string, unknown> {
  const file = v.volid.slice(v.volid.indexOf('/') + 1)
  if (v.content === 'backup') {
    const info = backupInfo(file)
    const item: Record<string, unknown> = { volid: v.volid, content: 'backup', format: info?.format ?? 'tar', size: v.size, ctime: info?.ctime ?? v.ctime }
    if (info) Object.assign(item, { subtype: info.subtype, vmid: info.vmid })
    if (v.notes) item.notes = v.notes.split('\n')[0]
    if (v.protected) item.protected = 1
    return item
  }
  if (v.content === 'vztmpl') return { volid: v.volid, content: 'vztmpl', format: templateFormat(file), size: v.size, ctime: v.ctime }
  return { volid: v.volid, content: v.content, format: file.split('.').pop() ?? 'raw', size: v.size, ctime: v.ctime }
}

/** Resolves `{volume}` (full volid or volname) against `{storage}`. */
export function resolveVolid(storage: string, volume: string): string {
  const i = volume.indexOf(':')
  if (i < 0) return `${storage}:${volume}`
  const sid = volume.slice(0, i)
  if (sid !== storage) throw paramError({ volume: `storage ID mismatch (${sid} != ${storage})` })
  return volume
}

/** Storage, content and template routes (REFERENCE §4.3, §4.4). */
export const storageRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/storage',
    handler: ({ params }) => STORAGES.filter((s) => params.type === undefined || s.type === params.type).map(storageConfigItem),
  },
  { method: 'GET', path: '/storage/{storage}', handler: ({ params }) => storageConfigItem(storageDef(String(params.storage))) },
  {
    method: 'GET',
    path: '/nodes/{node}/storage',
    handler: ({ core, params }) => {
      const node = String(params.node)
      const content = str(params, 'content')
      const only = str(params, 'storage')
      return STORAGES.filter((s) => (!content || content.split(',').every((c) => s.content.includes(c))) && (!only || s.id === only)).map((s) => {
        const used = storageUsed(core, node, s)
        return { storage: s.id, type: s.type, content: contentText(s), active: 1, enabled: 1, shared: 0, total: s.total, used, avail: s.total - used, used_fraction: used / s.total }
      })
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/status',
    handler: ({ core, params }) => {
      const s = storageDef(String(params.storage))
      const used = storageUsed(core, String(params.node), s)
      return { type: s.type, content: contentText(s), active: 1, enabled: 1, shared: 0, total: s.total, used, avail: s.total - used }
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/content',
    handler: ({ core, params }) => {
      const node = String(params.node)
      const s = storageDef(String(params.storage))
      const content = str(params, 'content')
      const vmid = num(params, 'vmid')
      if (content && !s.content.includes(content)) return []
      if (s.type === 'lvmthin') {
        return Object.values(core.state.guests)
          .filter((g) => g.node === node && g.created && g.type === 'lxc' && (vmid === undefined || g.vmid === vmid))
          .map((g) => ({ volid: `local-lvm:vm-${g.vmid}-disk-0`, content: 'rootdir', format: 'raw', size: rootfsBytes(g), vmid: g.vmid, used: Math.floor(rootfsBytes(g) * 0.1) }))
      }
      return Object.values(core.state.nodes[node]?.volumes ?? {})
        .filter((v) => (!content || v.content === content) && (vmid === undefined || (v.content !== 'vztmpl' && v.vmid === vmid)))
        .map(contentItem)
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/content/{volume}',
    restParam: true,
    handler: ({ core, params }) => {
      const volid = resolveVolid(String(params.storage), String(params.volume))
      const v = core.state.nodes[String(params.node)]?.volumes[volid]
      if (!v) throw fail(`volume '${volid}' does not exist`)
      const item = contentItem(v)
      return { path: `/var/lib/vz/${volid.slice(volid.indexOf(':') + 1).replace(/^backup\//, 'dump/').replace(/^vztmpl\//, 'template/cache/').replace(/^iso\//, 'template/iso/')}`, size: v.size, used: v.size, format: item.format, ...(v.notes ? { notes: v.notes } : {}), ...(v.protected ? { protected: 1 } : {}) }
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/storage/{storage}/content/{volume}',
    restParam: true,
    handler: ({ core, params }) => {
      const volid = resolveVolid(String(params.storage), String(params.volume))
      const v = core.state.nodes[String(params.node)]?.volumes[volid]
      if (!v) throw fail(`volume '${volid}' does not exist`)
      if (params.notes !== undefined) {
        if (String(params.notes) === '') delete v.notes
        else v.notes = String(params.notes)
      }
      if (params.protected !== undefined) {
        if (flag(params, 'protected')) v.protected = 1
        else delete v.protected
      }
      core.markDirty()
      return null
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/storage/{storage}/content/{volume}',
    restParam: true,
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const storage = String(params.storage)
      const volid = resolveVolid(storage, String(params.volume))
      const vols = core.state.nodes[node]?.volumes ?? {}
      const v = vols[volid]
      if (!v) throw fail(`volume '${volid}' does not exist`)
      return core.tasks.start(node, 'imgdel', v.vmid !== undefined ? `${v.vmid}@${storage}` : storage, user, (t) => {
        const cur = vols[volid]
        if (!cur) throw new Error(`volume '${volid}' does not exist`)
        if (cur.protected) throw new Error(`cannot remove protected volume '${volid}' on '${storage}'`)
        delete vols[volid]
        t.log(`Removed volume '${volid}'`)
        core.markDirty()
      })
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/storage/{storage}/upload',
    handler: ({ core, params, user, upload }) => {
      // pve-storage API2/Storage/Status.pm upload
      const node = String(params.node)
      const storage = String(params.storage)
      const s = storageDef(storage)
      if (s.type !== 'dir') throw fail(`can't upload to storage type '${s.type}'`)
      if (!upload) throw fail('missing temporary file name')
      const content = String(params.content)
      const filename = String(params.filename).replace(/\n$/, '').replace(/^.*[/\\]/, '').replace(/[^a-zA-Z0-9_.-]/g, '_')
      if (content === 'iso' && !/[^/]+\.(iso|img)$/i.test(filename)) throw paramError({ filename: 'wrong file extension' })
      if (content === 'vztmpl' && !/[^/]+\.(tar|tar\.(gz|xz|zst|bz2))$/i.test(filename)) throw paramError({ filename: 'wrong file extension' })
      if (content === 'import' && !/[^/]+\.(ova|ovf|qcow2|raw|vmdk)$/.test(filename)) throw paramError({ filename: 'invalid filename or wrong extension' })
      if (!s.content.includes(content)) throw fail(`storage '${storage}' does not support '${content}' content`)
      const dir = content === 'iso' ? 'template/iso' : content === 'vztmpl' ? 'template/cache' : 'import'
      const dest = `/var/lib/vz/${dir}/${filename}`
      const tmp = `/var/tmp/pveupload-${createHash('md5').update(upload.data).update(String(core.now())).digest('hex')}`
      const algorithm = str(params, 'checksum-algorithm')
      const expected = str(params, 'checksum')
      return core.tasks.start(node, 'imgcopy', '', user, (t) => {
        t.log(`starting file import from: ${tmp}`)
        if (algorithm && expected) {
          const got = createHash(algorithm).update(upload.data).digest('hex')
          if (got.toLowerCase() !== expected.toLowerCase()) throw new Error(`checksum mismatch: got '${got}' != expect '${expected}'`)
          t.log('calculating checksum...OK, checksum verified')
        }
        t.log(`target node: ${node}`)
        t.log(`target file: ${dest}`)
        t.log(`file size is: ${upload.data.length}`)
        t.log(`command: cp -- ${tmp} ${dest}`)
        const volid = `${storage}:${content}/${filename}`
        core.state.nodes[node]!.volumes[volid] = { volid, content: content as 'iso' | 'vztmpl', size: upload.data.length, ctime: Math.floor(core.now() / 1000) }
        t.log('finished file import successfully')
        core.markDirty()
      })
    },
  },
  { method: 'GET', path: '/nodes/{node}/aplinfo', handler: () => aplinfoRecords() },
  {
    method: 'POST',
    path: '/nodes/{node}/aplinfo',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const template = String(params.template)
      const storage = String(params.storage)
      const rec = aplinfoRecords().find((r) => r.template === template)
      if (!rec) throw paramError({ template: 'no such template' })
      const s = storageDef(storage)
      if (!s.content.includes('vztmpl')) throw fail(`storage '${storage}' does not support templates`)
      return core.tasks.start(node, 'download', template, user, (t) => {
        const volid = `${storage}:vztmpl/${template}`
        t.log(`starting template download from: ${String(rec.location)}`)
        t.log(`target file: /var/lib/vz/template/cache/${template}`)
        core.state.nodes[node]!.volumes[volid] = { volid, content: 'vztmpl', size: parseSize('120M'), ctime: Math.floor(core.now() / 1000) }
        t.log(`download of '${String(rec.location)}' to '/var/lib/vz/template/cache/${template}' finished`)
        core.markDirty()
      })
    },
  },
]
