/**
 * `proximity describe source [NAME]`: the manifest source `serve` follows, in detail, from the
 * state store and the delivery log. For a git source (`Source/git`): the URL (credentials
 * stripped), ref, path, head, the last fetch (time, duration, error) and the last successful
 * one, the last attempted and applied revisions, its conditions (SourceInvalid naming the commit,
 * SourceStale, Stalled), the located errors of a rejected commit, the last webhook deliveries and
 * recent events. For the manifests themselves (`Source/manifests`): inputs, revision, conditions
 * and errors. Reads only local state; nothing in it is secret.
 */
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { err, type CliContext } from '../context.js'
import { formatAge, pushSection } from '../format.js'
import { resolveStateDir } from '../session.js'
import { openStoreIfPresent } from './get.js'
import { displayGitUrl as displayUrl } from '../../model/git-url.js'
import type { ObjectStatus, StoredEvent } from '../../store/types.js'

/** One entry of the delivery log as `describe` shows it. */
export interface DeliveryRow {
  time: string
  source: string
  event: string
  deliveryId?: string
  ref?: string
  verdict: string
  message?: string
  revision?: string
  error?: string
}

/** What `renderSource` shows for one source. */
export interface SourceDescription {
  status: ObjectStatus
  /** The located errors of the rejected revision (as `validate` prints them), when it is rejected. */
  errors: string[]
  errorCount: number
  /** Newest first; only for the git source. */
  deliveries: DeliveryRow[]
  events: StoredEvent[]
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined)

/** Renders one source kubectl-describe style. Pure; `now` drives the ages. */
export function renderSource(d: SourceDescription, now: number): string {
  const s = d.status
  const x = s.extra ?? {}
  const lines: string[] = []
  const field = (label: string, value: string | undefined): void => {
    lines.push(`${`${label}:`.padEnd(26)}${value ?? '<none>'}`)
  }
  const when = (iso: string | undefined): string | undefined => (iso ? `${iso} (${formatAge(iso, now)} ago)` : undefined)
  const isGit = typeof x.url === 'string'
  field('Name', s.name)
  field('Kind', 'Source')
  if (isGit) {
    field('Type', 'git')
    // Stripped when it was recorded; stripped again so an old state file cannot show a password.
    field('URL', displayUrl(String(x.url)))
    field('Ref', text(x.ref))
    field('Path', text(x.path) ?? '(the whole repository)')
    field('Head', text(x.head))
    const duration = typeof x.lastFetchDurationMs === 'number' ? `, took ${x.lastFetchDurationMs} ms` : ''
    const fetchAt = when(text(x.lastFetchAt))
    field('Last Fetch', fetchAt ? `${fetchAt}${duration}${text(x.lastError) ? ', failed' : ', succeeded'}` : undefined)
    if (text(x.lastError)) field('Last Fetch Error', text(x.lastError))
    field('Last Successful Fetch', when(text(x.lastFetchOkAt)))
    if (typeof x.consecutiveFailures === 'number' && x.consecutiveFailures > 0) field('Failed Fetches In A Row', String(x.consecutiveFailures))
  } else {
    field('Type', text(x.source) ?? 'manifests')
    const inputs = Array.isArray(x.inputs) ? (x.inputs as unknown[]).map((i) => (typeof i === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(i) ? displayUrl(i) : String(i))) : []
    field('Inputs', inputs.length > 0 ? inputs.join(', ') : undefined)
  }
  field('Last Attempted Revision', s.lastAttemptedRevision ?? (isGit ? text(x.head) : undefined))
  field('Last Applied Revision', s.lastAppliedRevision)
  if (isGit && text(x.invalidCommit)) field('Rejected Commit', text(x.invalidCommit))
  field('Updated', when(s.updatedAt))

  const section = (title: string, headers: string[], rows: (string | number | undefined)[][]): void => pushSection(lines, title, headers, rows)
  section(
    'Conditions',
    ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
    s.conditions.map((c) => [c.type, c.status, c.reason, formatAge(c.lastTransitionTime, now), c.message]),
  )
  if (d.errors.length > 0) {
    lines.push(`Errors (${d.errorCount}; nothing of this revision was applied):`)
    for (const e of d.errors) lines.push(`  ${e}`)
    if (d.errorCount > d.errors.length) lines.push(`  … and ${d.errorCount - d.errors.length} more`)
  }
  if (isGit) {
    section(
      'Deliveries',
      ['AGE', 'SOURCE', 'EVENT', 'DELIVERY', 'REF', 'VERDICT', 'REVISION'],
      d.deliveries.map((r) => [formatAge(r.time, now), r.source, r.event, r.deliveryId, r.ref, r.message ? `${r.verdict} (${r.message})` : r.verdict, r.revision ?? r.error]),
    )
  }
  section(
    'Events',
    ['TYPE', 'REASON', 'AGE', 'MESSAGE'],
    d.events.map((e) => [e.type, e.reason, formatAge(e.time, now), e.message]),
  )
  return `${lines.join('\n')}\n`
}

/** How many of the newest webhook deliveries a git source shows. */
const DELIVERIES_SHOWN = 5

/** The source names `describe source` knows, in the order they are shown. */
const SOURCE_NAMES = ['git', 'manifests']

/**
 * Prints `describe source [NAME]` (every recorded source when NAME is absent). Sets exit code 1
 * when NAME (or any source) is unknown.
 */
export async function describeSources(ctx: CliContext, name: string | undefined, o: { events: number; stateDir?: string }): Promise<void> {
  const store = await openStoreIfPresent(ctx, o.stateDir)
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const shown = relative(ctx.cwd, stateDir) || '.'
  try {
    const manifests = store?.getStatus('Source/manifests')
    const wanted = name === undefined ? SOURCE_NAMES : [name]
    const found = wanted.map((n) => store?.getStatus(`Source/${n}`)).filter((s): s is ObjectStatus => s !== undefined)
    if (found.length === 0) {
      err(
        ctx,
        name === undefined
          ? `error: no source recorded in the state (${shown}); proximity serve records its manifest source`
          : `error: Source/${name} not found in the state (${shown}); sources are ${SOURCE_NAMES.join(' and ')} (git only with serve --git)`,
      )
      ctx.exitCode = 1
      return
    }
    const deliveries = await readDeliveries(stateDir, DELIVERIES_SHOWN)
    const now = Date.now()
    const texts = found.map((status) => {
      // The located errors live with the manifests' status; the git source names the commit.
      const from = manifests?.conditions.some((c) => c.type === 'SourceInvalid' && c.status === 'True') ? manifests : undefined
      const errors = ((from?.extra?.errors as string[] | undefined) ?? []).slice()
      const errorCount = (from?.extra?.errorCount as number | undefined) ?? errors.length
      // The git source's revisions are accepted or rejected as the manifests' (their events).
      const keys = status.name === 'git' ? [status.key, 'Source/manifests'] : [status.key]
      const events = keys
        .flatMap((key) => store!.listEvents({ key, limit: o.events }))
        .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
        .slice(0, o.events)
      return renderSource({ status, errors, errorCount, deliveries: status.name === 'git' ? deliveries : [], events }, now)
    })
    ctx.stdout.write(texts.join('\n'))
  } finally {
    await store?.close()
  }
}

/** The newest `limit` deliveries of `<stateDir>/deliveries.json` (none when it is absent). */
async function readDeliveries(stateDir: string, limit: number): Promise<DeliveryRow[]> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, 'deliveries.json'), 'utf8')) as { items?: DeliveryRow[] }
    return (Array.isArray(parsed.items) ? parsed.items : []).slice(0, limit)
  } catch {
    return []
  }
}
