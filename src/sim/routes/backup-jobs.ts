import { randomUUID } from 'node:crypto'
import { str, type RouteDef, type SimCore } from '../core.js'
import { fail, paramError, permError } from '../errors.js'
import { nextEvent, parseCalendarEvent } from '../calendar-event.js'
import { HASH_FORMATS, splitList } from '../formats.js'
import { parsePropertyString, type Params } from '../params.js'
import type { ConfigValue } from '../state.js'
import { checkNotesTemplate } from './vzdump.js'

const ALL_DAYS = 'mon,tue,wed,thu,fri,sat,sun'
/** Keys PUT may `delete` besides the vzdump options (Backup.pm `$deletable`). */
const DELETABLE = new Set(['comment', 'repeat-missed'])
/** vzdump options (VZDump.pm `option_exists`): what PUT may `delete`. */
const VZDUMP_OPTIONS = new Set(['all', 'bwlimit', 'compress', 'dumpdir', 'enabled', 'exclude', 'exclude-path', 'fleecing', 'ionice', 'lockwait', 'mailnotification', 'mailto', 'maxfiles', 'mode', 'node', 'notes-template', 'notification-mode', 'pbs-change-detection-mode', 'performance', 'pigz', 'pool', 'protected', 'prune-backups', 'quiet', 'remove', 'schedule', 'script', 'stdexcludes', 'stop', 'stopwait', 'storage', 'tmpdir', 'vmid', 'zstd'])
/** Parameters that are not stored in the job. */
const NOT_STORED = new Set(['id', 'delete', 'digest', 'starttime', 'dow'])
/** Property-string options stored as text and returned as objects (Backup.pm return schema). */
const OBJECT_OPTIONS = ['prune-backups', 'fleecing', 'performance'] as const

/**
 * Backup.pm `$schedule_param_check`: `schedule` xor the legacy `starttime` (+ `dow`), which is
 * turned into a schedule. `required` on create. Mutates `params`.
 */
function scheduleCheck(params: Params, required: boolean): void {
  if (params.schedule !== undefined) {
    if (params.starttime !== undefined) throw paramError({ starttime: "'starttime' and 'schedule' cannot both be set" })
  } else if (params.starttime === undefined) {
    if (required) throw paramError({ schedule: "neither 'starttime' nor 'schedule' were set" })
  } else {
    const dow = params.dow === undefined ? '' : splitList(String(params.dow)).join(',')
    params.schedule = dow === '' || dow === ALL_DAYS ? String(params.starttime) : `${dow} ${String(params.starttime)}`
  }
}

/** VZDump.pm `verify_vzdump_parameters`: selection conflicts, notes template, missing selection. */
function verifyJob(job: Record<string, unknown>, checkMissing: boolean): void {
  const set = (k: string): boolean => job[k] !== undefined && job[k] !== '' && job[k] !== 0 && job[k] !== '0'
  if (set('all') && set('vmid')) throw paramError({ all: "option conflicts with option 'vmid'" })
  if (set('exclude') && set('vmid')) throw paramError({ exclude: "option conflicts with option 'vmid'" })
  if (set('pool') && set('vmid')) throw paramError({ pool: "option conflicts with option 'vmid'" })
  const tpl = job['notes-template'] !== undefined ? checkNotesTemplate(String(job['notes-template'])) : undefined
  if (tpl) throw paramError({ 'notes-template': tpl })
  if (checkMissing && !(set('all') || set('stop') || set('pool') || set('exclude')) && !set('vmid')) throw paramError({ vmid: 'property is missing' })
}

/** A property-string option as the object GET returns (integers and booleans as numbers). */
function optionObject(name: (typeof OBJECT_OPTIONS)[number], text: string): Record<string, string | number> {
  const format = HASH_FORMATS[name] ?? {}
  const defaultKey = Object.keys(format).find((k) => format[k]?.default_key)
  const out: Record<string, string | number> = {}
  for (const [k, v] of Object.entries(parsePropertyString(text, defaultKey) ?? {})) {
    const type = format[k]?.type
    out[k] = type === 'integer' || type === 'number' ? Number(v) : type === 'boolean' ? (/^(1|on|yes|true)$/i.test(v) ? 1 : 0) : v
  }
  return out
}

/** A stored job as GET returns it; `next-run` only in the list (Backup.pm `index`). */
function renderJob(core: SimCore, id: string, job: Record<string, ConfigValue>, withNextRun: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...job, id }
  for (const k of OBJECT_OPTIONS) if (typeof job[k] === 'string') out[k] = optionObject(k, job[k] as string)
  if (withNextRun && job.schedule !== undefined) {
    const next = nextEvent(parseCalendarEvent(String(job.schedule)), Math.floor(core.now() / 1000))
    if (next !== undefined) out['next-run'] = next
  }
  return out
}

function jobOr400(core: SimCore, id: string): Record<string, ConfigValue> {
  const job = core.state.backupJobs[id]
  if (!job) throw paramError({ id: `No such job '${id}'` })
  return job
}

/** `check_pool_exist` for a job's pool (403, like every pool check). */
function checkPool(core: SimCore, params: Params): void {
  const pool = str(params, 'pool')
  if (pool !== undefined && !core.state.pools[pool]) throw permError(`pool '${pool}' does not exist`)
}

/**
 * Guests a job covers (VZDump.pm `get_included_guests`): its pool's members, its vmid list, or
 * with `all` every guest but the excluded; a job bound to a `node` covers only guests there.
 */
function includedGuests(core: SimCore, job: Record<string, ConfigValue>): number[] {
  let ids: number[]
  if (job.pool !== undefined) ids = [...(core.state.pools[String(job.pool)]?.members ?? [])]
  else if (job.vmid !== undefined) ids = splitList(String(job.vmid)).map(Number)
  else if (Number(job.all ?? 0) === 1) {
    const excluded = new Set(splitList(String(job.exclude ?? '')).map(Number))
    ids = Object.values(core.state.guests).map((g) => g.vmid).filter((v) => !excluded.has(v))
  } else return []
  return ids.filter((vmid) => {
    const g = core.guest(vmid)
    return !g || job.node === undefined || g.node === job.node
  })
}

/** `/cluster/backup` jobs and `/cluster/backup-info/not-backed-up` (§4.10; pve-manager Backup.pm). */
export const backupJobRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/cluster/backup',
    handler: ({ core }) => Object.entries(core.state.backupJobs).map(([id, j]) => renderJob(core, id, j, true)),
  },
  {
    method: 'POST',
    path: '/cluster/backup',
    handler: ({ core, params }) => {
      checkPool(core, params)
      scheduleCheck(params, true)
      const id = str(params, 'id') ?? randomUUID()
      if (core.state.backupJobs[id]) throw fail(`Job '${id}' already exists`)
      const job: Record<string, ConfigValue> = { type: 'vzdump' }
      for (const [k, v] of Object.entries(params)) if (!NOT_STORED.has(k)) job[k] = v as ConfigValue
      job.enabled ??= 1
      verifyJob(job, true)
      if (job.exclude !== undefined && job.pool === undefined) job.all = 1
      core.state.backupJobs[id] = job
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => renderJob(core, String(params.id), jobOr400(core, String(params.id)), false),
  },
  {
    method: 'PUT',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => {
      const id = String(params.id)
      checkPool(core, params)
      scheduleCheck(params, false)
      const del = splitList(str(params, 'delete') ?? '')
      const changes = Object.entries(params).filter(([k]) => !NOT_STORED.has(k))
      if (changes.length === 0 && del.length === 0) throw fail('no options specified')
      verifyJob(Object.fromEntries(changes), false)
      const stored = core.state.backupJobs[id]
      if (!stored) throw fail('no such vzdump job')
      const job = { ...stored }
      for (const k of del) {
        if (!DELETABLE.has(k) && !VZDUMP_OPTIONS.has(k)) throw paramError({ delete: `unknown option '${k}'` })
        delete job[k]
      }
      for (const [k, v] of changes) job[k] = v as ConfigValue
      if (job.exclude !== undefined && job.pool === undefined) job.all = 1
      if (params.vmid !== undefined) {
        delete job.all
        delete job.exclude
        delete job.pool
      } else if (Number(params.all ?? 0) === 1) {
        delete job.vmid
        delete job.pool
      } else if (job.pool !== undefined) {
        delete job.vmid
        delete job.all
        delete job.exclude
      }
      verifyJob(job, true)
      core.state.backupJobs[id] = job
      core.markDirty()
      return null
    },
  },
  {
    method: 'DELETE',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => {
      jobOr400(core, String(params.id))
      delete core.state.backupJobs[String(params.id)]
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/cluster/backup-info/not-backed-up',
    handler: ({ core }) => {
      // Every vzdump job counts, enabled or not (BackupInfo.pm get_included_vmids).
      const covered = new Set<number>()
      for (const j of Object.values(core.state.backupJobs)) for (const v of includedGuests(core, j)) covered.add(v)
      return Object.values(core.state.guests)
        .filter((g) => !covered.has(g.vmid))
        .sort((a, b) => a.vmid - b.vmid)
        .map((g) => ({ vmid: g.vmid, type: g.type, ...(g.config.hostname !== undefined ? { name: String(g.config.hostname) } : {}) }))
    },
  },
]
