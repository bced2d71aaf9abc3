import { flag, str, type RouteDef } from '../core.js'
import type { SimCore } from '../core.js'
import { fail, paramError } from '../errors.js'
import { splitList } from '../formats.js'
import { effectiveConfig, guestName } from '../guest-config.js'
import type { SimGuest } from '../state.js'
import type { TaskContext } from '../tasks.js'
import { parsePropertyString } from '../params.js'
import { backupInfo } from './storage.js'
import { storageDef } from './storage-defs.js'
import { dropSnapshot, takeSnapshot } from './lxc-snapshot.js'
import { rootfsBytes } from './shapes.js'

const pad = (n: number): string => String(n).padStart(2, '0')

/** `YYYY_MM_DD-HH_MM_SS` in node (process) local time, as vzdump names archives. */
export function backupStamp(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}_${pad(d.getMonth() + 1)}_${pad(d.getDate())}-${pad(d.getHours())}_${pad(d.getMinutes())}_${pad(d.getSeconds())}`
}

/**
 * VZDump.pm `$verify_notes_template`: no line feed, only `\n`/`\\` escapes and the variables
 * `{{cluster|guestname|node|vmid}}`. Returns PVE's message (newline-terminated) or undefined.
 */
export function checkNotesTemplate(tpl: string): string | undefined {
  if (tpl.includes('\n')) return 'contains a line feed\n'
  const problems: string[] = []
  for (const m of tpl.matchAll(/\\(.)/gs)) if (!/^[n\\]$/.test(m[1] as string)) problems.push(`escape sequence '\\${m[1]}' at char ${m.index}`)
  for (const m of tpl.matchAll(/\{\{([^\s{}]+)\}\}/g)) {
    const name = m[1] as string
    // Perl reports pos() after the match minus the name's length.
    if (!/^(cluster|guestname|node|vmid)$/.test(name)) problems.push(`variable '${name}' at char ${m.index + m[0].length - name.length}`)
  }
  return problems.length > 0 ? `found unknown: ${problems.join(', ')}\n` : undefined
}

function renderNotes(tpl: string, g: SimGuest): string {
  return tpl
    .replace(/\{\{(\w+)\}\}/g, (_, v: string) => ({ cluster: 'sandbox', guestname: guestName(g), node: g.node, vmid: String(g.vmid) })[v] ?? '')
    .replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
}

const EXT: Record<string, string> = { zstd: '.zst', gzip: '.gz', '1': '.lzo', lzo: '.lzo', pigz: '.gz', '0': '' }

async function backupOne(core: SimCore, g: SimGuest, opts: Record<string, unknown>, t: TaskContext): Promise<void> {
  const start = core.now()
  const storage = String(opts.storage ?? 'local')
  const stamp = backupStamp(start)
  const file = `vzdump-lxc-${g.vmid}-${stamp}.tar${EXT[String(opts.compress ?? '0')] ?? ''}`
  const volid = `${storage}:backup/${file}`
  t.log(`INFO: Starting Backup of VM ${g.vmid} (lxc)`)
  t.log(`INFO: Backup started at ${new Date(start).toISOString().replace('T', ' ').slice(0, 19)}`)
  t.log(`INFO: status = ${g.status}`)
  if (g.config.lock !== undefined) throw new Error(`CT is locked (${g.config.lock})`)
  g.config.lock = 'backup'
  const mode = g.status === 'running' ? String(opts.mode ?? 'snapshot') : 'stop'
  t.log(`INFO: CT Name: ${guestName(g)}`)
  t.log(`INFO: backup mode: ${mode}`)
  const snap = mode === 'snapshot'
  if (snap) {
    t.log(`INFO: create storage snapshot 'vzdump'`)
    takeSnapshot(g, 'vzdump', 'vzdump backup snapshot', core.now())
  }
  core.markDirty()
  try {
    t.log(`INFO: creating vzdump archive '/var/lib/vz/dump/${file}'`)
    await t.sleep(core.latency('vzdump'))
    const config = effectiveConfig(g, true)
    delete config.lock
    const size = Math.max(1, Math.floor(rootfsBytes(g) * 0.05)) || 52_428_800
    const node = core.state.nodes[g.node]!
    node.volumes[volid] = {
      volid,
      content: 'backup',
      size,
      ctime: backupInfo(file)?.ctime ?? Math.floor(start / 1000),
      vmid: g.vmid,
      guest: { config, runtime: structuredClone(g.runtime), firewall: structuredClone(g.firewall) },
    }
    t.log(`INFO: archive file size: ${Math.round(size / 2 ** 20)}MB`)
    if (opts['notes-template'] !== undefined) {
      t.log('INFO: adding notes to backup')
      node.volumes[volid]!.notes = renderNotes(String(opts['notes-template']), g)
    }
    if (Number(opts.protected ?? 0) === 1) {
      t.log('INFO: marking backup as protected')
      node.volumes[volid]!.protected = 1
    }
    prune(core, g, storage, opts, t)
  } finally {
    if (snap) {
      t.log(`INFO: cleanup temporary 'vzdump' snapshot`)
      if (g.snapshots.some((s) => s.name === 'vzdump')) dropSnapshot(g, 'vzdump')
    }
    if (g.config.lock === 'backup') delete g.config.lock
    core.markDirty()
  }
  t.log(`INFO: Finished Backup of VM ${g.vmid} (00:00:${pad(Math.min(59, Math.round((core.now() - start) / 1000)))})`)
  t.log(`INFO: Backup finished at ${new Date(core.now()).toISOString().replace('T', ' ').slice(0, 19)}`)
}

function prune(core: SimCore, g: SimGuest, storage: string, opts: Record<string, unknown>, t: TaskContext): void {
  if (Number(opts.remove ?? 1) === 0 || opts['prune-backups'] === undefined) return
  const spec = parsePropertyString(String(opts['prune-backups'])) ?? {}
  if (spec['keep-all'] === '1' || spec['keep-last'] === undefined) return
  t.log(`INFO: prune older backups with retention: ${String(opts['prune-backups'])}`)
  const keep = Number(spec['keep-last'])
  const vols = core.state.nodes[g.node]!.volumes
  const mine = Object.values(vols)
    .filter((v) => v.content === 'backup' && v.vmid === g.vmid && v.volid.startsWith(`${storage}:`))
    .sort((a, b) => b.ctime - a.ctime || (b.volid < a.volid ? -1 : 1))
  let kept = 0
  for (const v of mine) {
    if (v.protected) continue
    if (kept < keep) kept++
    else {
      t.log(`INFO: removing backup '${v.volid}'`)
      delete vols[v.volid]
    }
  }
}

/** vzdump and its defaults (REFERENCE §4.3, §7). */
export const vzdumpRoutes: RouteDef[] = [
  {
    method: 'POST',
    path: '/nodes/{node}/vzdump',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const hasVmid = params.vmid !== undefined
      // VZDump.pm verify_vzdump_parameters (with check_missing)
      if (hasVmid && flag(params, 'all')) throw paramError({ all: "option conflicts with option 'vmid'" })
      if (hasVmid && params.exclude !== undefined) throw paramError({ exclude: "option conflicts with option 'vmid'" })
      if (hasVmid && params.pool !== undefined) throw paramError({ pool: "option conflicts with option 'vmid'" })
      if (!hasVmid && !flag(params, 'all') && !flag(params, 'stop') && params.pool === undefined && params.exclude === undefined) throw paramError({ vmid: 'property is missing' })
      const tpl = str(params, 'notes-template')
      const tplError = tpl !== undefined ? checkNotesTemplate(tpl) : undefined
      if (tplError) throw paramError({ 'notes-template': tplError })
      const storage = str(params, 'storage') ?? 'local'
      if (!storageDef(storage).content.includes('backup')) throw fail(`can't use storage '${storage}' for backups - wrong content type`)
      let ids: number[]
      if (hasVmid) ids = splitList(String(params.vmid)).map(Number)
      else if (params.pool !== undefined) ids = [...(core.state.pools[String(params.pool)]?.members ?? [])]
      else {
        const excluded = new Set(splitList(str(params, 'exclude') ?? '').map(Number))
        ids = Object.values(core.state.guests).filter((g) => g.node === node && !excluded.has(g.vmid)).map((g) => g.vmid)
      }
      for (const id of ids) if (!core.guest(id)) throw fail(`unable to find VM '${id}'`)
      const local = ids.map((id) => core.guest(id)!).filter((g) => g.node === node)
      if (ids.length > 0 && local.length === 0) return 'OK'
      const opts: Record<string, unknown> = { compress: '0', mode: 'snapshot', ...params, storage }
      const taskId = local.length === 1 ? String(local[0]!.vmid) : ''
      const previous = core.vzdumpQueue.get(node) ?? Promise.resolve()
      let release!: () => void
      const mine = new Promise<void>((r) => (release = r))
      core.vzdumpQueue.set(node, previous.then(() => mine))
      let waiting = true
      void previous.then(() => (waiting = false))
      return core.tasks.start(
        node,
        'vzdump',
        taskId,
        user,
        async (t) => {
          try {
            if (waiting) t.log('INFO: trying to get global lock - waiting...')
            await previous
            const args = [local.map((g) => g.vmid).join(' '), `--storage ${storage}`, `--mode ${String(opts.mode)}`, `--compress ${String(opts.compress)}`]
            t.log(`INFO: starting new backup job: vzdump ${args.join(' ')}`)
            let errors = 0
            for (const g of local) {
              try {
                await backupOne(core, g, opts, t)
              } catch (e) {
                errors++
                t.log(`ERROR: Backup of VM ${g.vmid} failed - ${(e as Error).message}`)
              }
            }
            if (errors > 0) throw new Error('job errors')
            t.log('INFO: Backup job finished successfully')
          } finally {
            release()
          }
        },
        () => release(),
      )
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/vzdump/defaults',
    handler: ({ params }) => ({
      storage: str(params, 'storage') ?? 'local',
      mode: 'snapshot',
      compress: '0',
      remove: 1,
      lockwait: 180,
      stopwait: 10,
      ionice: 7,
      'prune-backups': 'keep-all=1',
    }),
  },
]
