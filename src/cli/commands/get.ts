import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { closest } from 'fastest-levenshtein'
import { collect, err, out, type CliContext } from '../context.js'
import { formatAge, parseOutputFormat, renderJson, renderTable, renderYaml } from '../format.js'
import { resolveStateDir } from '../session.js'
import type { Kind } from '../../model/types.js'
import type { ObjectStatus, StateStore } from '../../store/types.js'
import { SOURCE_KEY } from '../../engine/source-status.js'
import { openLiveView } from '../live-view.js'
import { formatAddress, observeStatus, type StatusObservation } from '../app-status.js'
import { shownPath, stateDirOption } from '../state-dir.js'

/** Resource words accepted by `get` / `describe` (kubectl style: plural, singular, short). */
const RESOURCE_KINDS: Record<string, Kind | 'Source'> = {
  apps: 'App',
  app: 'App',
  appliances: 'Appliance',
  appliance: 'Appliance',
  backuppolicies: 'BackupPolicy',
  backuppolicy: 'BackupPolicy',
  bp: 'BackupPolicy',
  restores: 'Restore',
  restore: 'Restore',
  sources: 'Source',
  source: 'Source',
}

/** A bad resource word or missing object; the message says what to type instead. */
export class ResourceError extends Error {
  override readonly name = 'ResourceError'
}

/** Maps `apps`/`app`/`appliance`/… to a Kind or throws ResourceError with a suggestion. */
export function resourceKind(word: string): Kind | 'Source' {
  const k = RESOURCE_KINDS[word.toLowerCase()]
  if (k) return k
  const guess = closest(word.toLowerCase(), Object.keys(RESOURCE_KINDS))
  throw new ResourceError(`unknown resource type "${word}"; did you mean "${guess}"? (apps, appliances, backuppolicies, restores, sources)`)
}

/**
 * Opens the state store read-side for `get`/`describe`/`events`. Resolves undefined when the
 * state dir does not exist yet (nothing was applied), without creating it.
 */
export async function openStoreIfPresent(ctx: CliContext, stateDirOpt: string | undefined): Promise<StateStore | undefined> {
  const dir = resolveStateDir(ctx, stateDirOpt)
  if (!existsSync(dir)) return undefined
  const { openStateStore } = await import('../../store/state-store.js')
  return openStateStore(dir)
}

/** `True`/`False`/`Unknown` of a status's Ready condition. */
export function readyOf(s: ObjectStatus): 'True' | 'False' | 'Unknown' {
  return s.conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown'
}

/** The STATUS column: the Ready reason when ready, else the condition message (or reason). */
export function statusText(s: ObjectStatus): string {
  const stalled = s.conditions.find((c) => c.type === 'Stalled' && c.status === 'True')
  const ready = s.conditions.find((c) => c.type === 'Ready')
  if (!ready) return 'Unknown'
  if (ready.status === 'True') return ready.reason
  const c = stalled ?? ready
  return c.message ? `${c.reason}: ${c.message}` : c.reason
}

/** The `get sources` table, then every recorded located error (as `validate` prints them). */
function renderSources(items: ObjectStatus[], wide: boolean): string {
  const now = Date.now()
  // A git source shows its URL (no credentials), ref, head and last fetch; folders their paths.
  const where = (s: ObjectStatus): string => (typeof s.extra?.url === 'string' ? `${s.extra.url} ${String(s.extra.ref ?? '')}`.trim() : ((s.extra?.inputs as string[] | undefined) ?? []).join(', '))
  const rows = items.map((s) => [
    s.name,
    readyOf(s),
    wide ? statusText(s) : truncate(statusText(s), 60),
    s.lastAppliedRevision,
    ...(wide ? [where(s), s.lastAttemptedRevision ?? '', typeof s.extra?.lastFetchOkAt === 'string' && s.extra.lastFetchOkAt ? formatAge(s.extra.lastFetchOkAt, now) : ''] : []),
    formatAge(s.updatedAt, now),
  ])
  let text = renderTable(['NAME', 'READY', 'STATUS', 'REVISION', ...(wide ? ['SOURCE', 'HEAD', 'LAST FETCH'] : []), 'AGE'], rows)
  for (const s of items) {
    const errors = (s.extra?.errors as string[] | undefined) ?? []
    const count = (s.extra?.errorCount as number | undefined) ?? errors.length
    if (errors.length === 0) continue
    text += `\n${s.key}: ${count} error${count === 1 ? '' : 's'}, nothing of this change was applied:\n${errors.map((e) => `  ${e}\n`).join('')}`
    if (count > errors.length) text += `  … and ${count - errors.length} more\n`
  }
  return text
}

const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

/** DHCP guests a plain `get apps` asks for their address (`-o wide` asks all). */
const INTERFACE_LOOKUPS = 10

/** The options of `get`. */
interface GetOptions {
  output?: string
  stateDir?: string
  filename: string[]
  refresh: boolean
}

/** Registers `proximity get`. */
export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .summary('list objects and their status, like kubectl get')
    .description(
      'List objects and their status, like kubectl get. RESOURCE is apps, appliances,\n' +
        'backuppolicies, restores, sources or deliveries (singular works too); deliveries lists the\n' +
        'webhook deliveries serve --git received, with their verdicts; sources shows whether the\n' +
        'manifests `serve` watches were accepted, with located errors.\n\n' +
        'Apps and appliances are observed live with one read of the cluster (GET\n' +
        '/cluster/resources): STATE is what Proxmox says now (running, stopped, gone), OBSERVED how\n' +
        'long ago the status was recorded, and a status the live read contradicts (guest stopped,\n' +
        'deleted or moved behind Proximity\'s back, sandbox reset) or that the daemon\'s last resync\n' +
        'did not renew is marked Stale. ADDRESS is the app\'s IP and URLs as the status API shows\n' +
        'them (status.addresses); a DHCP app on a plain bridge whose address is not recorded yet is\n' +
        'asked for it (one read per guest, the first 10 of them; -o wide asks every one).\n' +
        '--no-refresh reads only the local state. The target is the Cluster manifest among the -f\n' +
        'inputs (else the files the last apply recorded), else PROXIMITY_ENDPOINT, else the sandbox.\n' +
        'An unknown NAME exits 1.',
    )
    .argument('<resource>', 'apps | appliances | backuppolicies | restores | sources | deliveries')
    .argument('[name]', 'show only this object')
    .option('-o, --output <format>', 'json, yaml or wide (default: table)')
    .option('-f, --filename <path>', 'manifests naming the target and the apps\' addresses (repeatable; default: the files of the last apply)', collect, [])
    .option('--no-refresh', 'do not read the cluster; show the status as last recorded')
    .addOption(stateDirOption())
    .action(async (resource: string, name: string | undefined, o: GetOptions) => {
      try {
        if (/^deliver(y|ies)$/i.test(resource)) {
          await getDeliveries(ctx, o)
          return
        }
        const kind = resourceKind(resource)
        const format = parseOutputFormat(o.output, ['table', 'wide', 'json', 'yaml'])
        const stateDir = resolveStateDir(ctx, o.stateDir)
        const guestKind = kind === 'App' || kind === 'Appliance'
        // DHCP apps on a plain bridge: only their guest knows the address (one read each, a few
        // by default so a large list stays at about one read; -o wide asks every one).
        const interfaces = kind === 'App' ? { interfacesOf: (n: string) => name === undefined || n === name, interfacesLimit: format === 'wide' ? Infinity : INTERFACE_LOOKUPS } : {}
        const view = await openLiveView(ctx, { stateDir, filename: o.filename, refresh: o.refresh && guestKind, ...interfaces })
        if (!view) {
          ctx.exitCode = 1
          return
        }
        if (view.notice && guestKind) err(ctx, view.notice)
        const source = view.statuses.find((s) => s.key === SOURCE_KEY)
        let items = view.statuses.filter((s) => s.kind === kind).sort((a, b) => a.name.localeCompare(b.name))
        if (name !== undefined) {
          items = items.filter((s) => s.name === name)
          if (items.length === 0) {
            err(ctx, `error: ${kind} "${name}" not found in the state (${shownPath(ctx.cwd, stateDir)}); run proximity apply first or check the name`)
            ctx.exitCode = 1
            return
          }
        }
        const rows: ObservedRow[] = items.map((s) => ({ status: s, observation: observeStatus(s, view) }))
        if (format === 'json' || format === 'yaml') {
          const shown = rows.map((r) => (guestKind ? { ...r.status, observation: r.observation } : r.status))
          const body = name !== undefined ? shown[0] : { kind: `${kind}List`, items: shown }
          if (format === 'json') out(ctx, renderJson(body).trimEnd())
          else ctx.stdout.write(renderYaml(body))
          return
        }
        // Objects are only as current as the manifests that were accepted: say so when they were not.
        const rejected = source?.conditions.find((c) => c.type === 'SourceInvalid' && c.status === 'True')
        if (rejected && kind !== 'Source') err(ctx, `warning: the manifests were rejected: ${rejected.message} (proximity get sources)`)
        if (items.length === 0) {
          err(ctx, `No ${resource.toLowerCase().replace(/s?$/, 's')} found.`)
          return
        }
        if (kind === 'Source') {
          ctx.stdout.write(renderSources(items, format === 'wide'))
          return
        }
        ctx.stdout.write(renderObjects(rows, { wide: format === 'wide', apps: kind === 'App', guests: guestKind, now: Date.now() }))
      } catch (e) {
        err(ctx, `error: ${(e as Error).message}`)
        ctx.exitCode = 1
      }
    })
}

/** One listed object with what was observed about it (the `observation` of `-o json`). */
interface ObservedRow {
  status: ObjectStatus
  observation: StatusObservation
}

/**
 * The table of `get apps|appliances|backuppolicies|restores`. A stale status shows READY
 * `Unknown` and `Stale: <why>` as its STATUS; guests show their live STATE and node.
 */
function renderObjects(rows: ObservedRow[], o: { wide: boolean; apps: boolean; guests: boolean; now: number }): string {
  const headers = ['NAME', 'READY', 'STATUS', ...(o.guests ? ['STATE'] : []), 'NODE', 'VMID', ...(o.apps ? ['ADDRESS'] : []), 'OBSERVED', 'AGE', ...(o.wide ? ['REVISION'] : [])]
  const body = rows.map(({ status: s, observation: ob }) => {
    const text = ob.stale ? `Stale: ${ob.stale}` : statusText(s)
    return [
      s.name,
      ob.stale ? 'Unknown' : readyOf(s),
      o.wide ? text : truncate(text, 60),
      ...(o.guests ? [ob.live?.state ?? '<unknown>'] : []),
      ob.live?.node ?? s.inventory?.node,
      s.inventory?.vmid,
      ...(o.apps ? [ob.address ? formatAddress(ob.address) : ''] : []),
      formatAge(s.updatedAt, o.now),
      formatAge(s.createdAt, o.now),
      ...(o.wide ? [s.lastAppliedRevision ?? s.lastAttemptedRevision] : []),
    ]
  })
  return renderTable(headers, body)
}

/**
 * `get deliveries`: the webhook deliveries `serve --git` recorded (newest first) with their
 * verdicts and the revision each led to. Reads `<state dir>/deliveries.json`; nothing secret is
 * in it.
 */
async function getDeliveries(ctx: CliContext, o: { output?: string; stateDir?: string }): Promise<void> {
  const format = parseOutputFormat(o.output, ['table', 'wide', 'json', 'yaml'])
  const { readFile } = await import('node:fs/promises')
  const { join } = await import('node:path')
  let items: Record<string, string | undefined>[] = []
  try {
    items = (JSON.parse(await readFile(join(resolveStateDir(ctx, o.stateDir), 'deliveries.json'), 'utf8')) as { items: Record<string, string>[] }).items ?? []
  } catch {
    items = []
  }
  if (format === 'json') return void out(ctx, renderJson({ kind: 'DeliveryList', items }).trimEnd())
  if (format === 'yaml') return void ctx.stdout.write(renderYaml({ kind: 'DeliveryList', items }))
  if (items.length === 0) return void err(ctx, 'No deliveries found (serve --git with --webhook-secret-file records them).')
  const now = Date.now()
  out(ctx, renderTable(['AGE', 'SOURCE', 'EVENT', 'DELIVERY', 'REF', 'VERDICT', 'REVISION'], items.map((d) => [formatAge(d.time, now), d.source, d.event, d.deliveryId ?? '', d.ref ?? '', d.message ? `${d.verdict} (${d.message})` : d.verdict, d.revision ?? d.error ?? ''])).trimEnd())
}
