import type { Command } from 'commander'
import { collect, err, type CliContext } from '../context.js'
import { formatAge, pushSection } from '../format.js'
import { resolveStateDir } from '../session.js'
import { resourceKind } from './get.js'
import { openLiveView } from '../live-view.js'
import { observeStatus, type StatusObservation } from '../app-status.js'
import type { ObjectStatus, StoredEvent } from '../../store/types.js'
import { shownPath, stateDirOption } from '../state-dir.js'

/**
 * Renders one object kubectl-describe style: identity, revisions, inventory, conditions,
 * history and recent events. Pure; `now` drives the ages.
 */
export function renderDescribe(s: ObjectStatus, events: StoredEvent[], now: number, seen: Partial<StatusObservation> = {}): string {
  const lines: string[] = []
  const field = (label: string, value: unknown): void => {
    lines.push(`${`${label}:`.padEnd(24)}${value === undefined || value === '' ? '<none>' : String(value)}`)
  }
  field('Name', s.name)
  field('Kind', s.kind)
  field('Generation', `${s.generation} (observed ${s.observedGeneration})`)
  field('Spec Hash', s.specHash)
  field('Last Applied Revision', s.lastAppliedRevision)
  field('Last Attempted', s.lastAttemptedRevision)
  field('Created', `${s.createdAt} (${formatAge(s.createdAt, now)} ago)`)
  field('Updated', `${s.updatedAt} (${formatAge(s.updatedAt, now)} ago)`)
  field('Observed', `${s.updatedAt} (${formatAge(s.updatedAt, now)} ago)${seen.stale ? `, stale: ${seen.stale}` : ''}`)
  if (seen.live) field('Live State', `${seen.live.state}${seen.live.node ? ` on ${seen.live.node}` : ''} (read ${formatAge(seen.live.observedAt, now)} ago from /cluster/resources)`)
  if (seen.address) {
    field('IP', seen.address.ip)
    field('URLs', seen.address.urls.join(', '))
  }
  lines.push('Inventory:')
  const inv = s.inventory ?? {}
  if (Object.keys(inv).length === 0) lines.push('  <none>')
  for (const [k, v] of Object.entries(inv)) lines.push(`  ${`${k}:`.padEnd(22)}${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
  const section = (title: string, headers: string[], rows: (string | number | undefined)[][]): void => pushSection(lines, title, headers, rows)
  section(
    'Conditions',
    ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
    s.conditions.map((c) => [c.type, c.status, c.reason, formatAge(c.lastTransitionTime, now), c.message]),
  )
  section(
    'History',
    ['RESULT', 'REVISION', 'SPEC HASH', 'FIRST', 'LAST', 'DURATION', 'MESSAGE'],
    s.history.map((h) => [
      h.result,
      h.revision,
      h.specHash.slice(0, 12),
      formatAge(h.firstReconciled, now),
      formatAge(h.lastReconciled, now),
      `${(h.durationMs / 1000).toFixed(1)}s`,
      h.message,
    ]),
  )
  section(
    'Events',
    ['TYPE', 'REASON', 'AGE', 'MESSAGE'],
    events.map((e) => [e.type, e.reason, formatAge(e.time, now), e.message]),
  )
  if (s.extra && Object.keys(s.extra).length > 0) {
    lines.push('Extra:')
    for (const [k, v] of Object.entries(s.extra)) lines.push(`  ${`${k}:`.padEnd(22)}${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
  }
  return `${lines.join('\n')}\n`
}

/** Registers `proximity describe`. */
export function registerDescribe(program: Command, ctx: CliContext): void {
  program
    .command('describe')
    .summary('show one object in detail: conditions, inventory, history, events')
    .description(
      'Show one object in detail from the state store: conditions, inventory (vmid, node),\n' +
        'the last reconcile history entries and recent events; for apps and appliances also when\n' +
        'the status was observed, the live state of the guest (one read of /cluster/resources;\n' +
        '--no-refresh skips it), whether the status is stale, and an app\'s IP and URLs.\n' +
        '`describe source [git|manifests]` shows the manifest source serve follows: for a git source\n' +
        'the URL (without credentials), ref, head, last fetch (time, duration, error), revisions,\n' +
        'conditions, the located errors of a rejected commit and the last webhook deliveries.\n' +
        'Exits 1 when the object is unknown.',
    )
    .argument('<resource>', 'app | appliance | backuppolicy | restore | source')
    .argument('[name]', 'object name (optional for source: every source)')
    .option('--events <n>', 'number of recent events to show', '10')
    .option('-f, --filename <path>', 'manifests naming the target and the app\'s addresses (repeatable; default: the files of the last apply)', collect, [])
    .option('--no-refresh', 'do not read the cluster; show the status as last recorded')
    .addOption(stateDirOption())
    .action(async (resource: string, name: string | undefined, o: { events: string; stateDir?: string; filename: string[]; refresh: boolean }) => {
      try {
        const kind = resourceKind(resource)
        const limit = Number(o.events)
        if (!Number.isInteger(limit) || limit < 0) throw new Error(`--events must be a whole number, got "${o.events}"`)
        const stateDir = resolveStateDir(ctx, o.stateDir)
        if (kind === 'Source') {
          const { describeSources } = await import('./describe-source.js')
          return await describeSources(ctx, name, { events: limit, stateDir })
        }
        if (name === undefined) throw new Error(`give the name of the ${resource} to describe`)
        const key = `${kind}/${name}`
        const guestKind = kind === 'App' || kind === 'Appliance'
        const view = await openLiveView(ctx, { stateDir, filename: o.filename, refresh: o.refresh && guestKind, eventsFor: { key, limit }, interfacesOf: (n) => kind === 'App' && n === name })
        if (!view) {
          ctx.exitCode = 1
          return
        }
        const s = view.statuses.find((x) => x.key === key)
        if (!s) {
          err(ctx, `error: ${key} not found in the state (${shownPath(ctx.cwd, stateDir)}); run proximity apply first or check the name`)
          ctx.exitCode = 1
          return
        }
        if (view.notice && guestKind) err(ctx, view.notice)
        ctx.stdout.write(renderDescribe(s, view.events(key, limit), Date.now(), observeStatus(s, view)))
      } catch (e) {
        err(ctx, `error: ${(e as Error).message}`)
        ctx.exitCode = 1
      }
    })
}
