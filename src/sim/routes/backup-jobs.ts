import { randomBytes } from 'node:crypto'
import { str, type RouteDef } from '../core.js'
import { fail, paramError } from '../errors.js'
import { splitList } from '../formats.js'
import { guestName } from '../guest-config.js'
import type { ConfigValue } from '../state.js'
import { checkNotesTemplate } from './vzdump.js'

const DOW = '(mon|tue|wed|thu|fri|sat|sun)'
const DOW_SPEC = `${DOW}(\\.\\.${DOW})?(,${DOW}(\\.\\.${DOW})?)*`
const NUM = '(\\*|\\d{1,4}(\\.\\.\\d{1,4})?(\\/\\d+)?(,\\d{1,4}(\\.\\.\\d{1,4})?)*)'
const DATE = `${NUM}-${NUM}(-${NUM})?`
const TIME = `${NUM}(:${NUM}){1,2}|${NUM}`
const CAL_RE = new RegExp(`^(${DOW_SPEC})?(\\s*(${DATE}))?(\\s*(${TIME}))?$`)
const NAMED = new Set(['minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'annually', 'quarterly', 'semiannually'])

/** Checks a `pve-calendar-event` (a subset of systemd calendar events). */
export function isCalendarEvent(s: string): boolean {
  const v = s.trim().toLowerCase()
  if (v === '') return false
  return NAMED.has(v) || CAL_RE.test(v)
}

const SKIP = new Set(['delete', 'digest', 'id'])

function setFields(job: Record<string, ConfigValue>, params: Record<string, unknown>): void {
  if (params.schedule !== undefined && !isCalendarEvent(String(params.schedule))) throw paramError({ schedule: 'invalid format - unable to parse calendar event\n' })
  const tpl = params['notes-template'] !== undefined ? checkNotesTemplate(String(params['notes-template'])) : undefined
  if (tpl) throw paramError({ 'notes-template': tpl })
  for (const [k, v] of Object.entries(params)) if (!SKIP.has(k)) job[k] = v as ConfigValue
}

/** `/cluster/backup` jobs and `/cluster/backup-info/not-backed-up` (§4.10). */
export const backupJobRoutes: RouteDef[] = [
  { method: 'GET', path: '/cluster/backup', handler: ({ core }) => Object.values(core.state.backupJobs).map((j) => ({ ...j })) },
  {
    method: 'POST',
    path: '/cluster/backup',
    handler: ({ core, params }) => {
      const id = str(params, 'id') ?? `backup-${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}`
      if (core.state.backupJobs[id]) throw fail(`Job '${id}' already exists`)
      if (params.vmid !== undefined && params.all !== undefined) throw paramError({ vmid: "option conflicts with option 'all'" })
      const job: Record<string, ConfigValue> = { id, type: 'vzdump', enabled: 1, mode: 'snapshot', compress: '0', storage: 'local' }
      setFields(job, params)
      core.state.backupJobs[id] = job
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => {
      const job = core.state.backupJobs[String(params.id)]
      if (!job) throw fail(`job '${String(params.id)}' not found`)
      return { ...job }
    },
  },
  {
    method: 'PUT',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => {
      const job = core.state.backupJobs[String(params.id)]
      if (!job) throw fail(`job '${String(params.id)}' not found`)
      for (const k of splitList(str(params, 'delete') ?? '')) delete job[k]
      setFields(job, params)
      core.markDirty()
      return null
    },
  },
  {
    method: 'DELETE',
    path: '/cluster/backup/{id}',
    handler: ({ core, params }) => {
      if (!core.state.backupJobs[String(params.id)]) throw fail(`job '${String(params.id)}' not found`)
      delete core.state.backupJobs[String(params.id)]
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/cluster/backup-info/not-backed-up',
    handler: ({ core }) => {
      const covered = new Set<number>()
      let all = false
      for (const j of Object.values(core.state.backupJobs)) {
        if (Number(j.enabled ?? 1) === 0) continue
        if (Number(j.all ?? 0) === 1) all = true
        for (const v of splitList(String(j.vmid ?? ''))) covered.add(Number(v))
        if (j.pool !== undefined) for (const m of core.state.pools[String(j.pool)]?.members ?? []) covered.add(m)
      }
      if (all) return []
      return Object.values(core.state.guests)
        .filter((g) => !covered.has(g.vmid))
        .map((g) => ({ vmid: g.vmid, name: guestName(g), type: g.type }))
    },
  },
]
