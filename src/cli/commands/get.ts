import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { closest } from 'fastest-levenshtein'
import { err, out, type CliContext } from '../context.js'
import { formatAge, parseOutputFormat, renderJson, renderTable, renderYaml } from '../format.js'
import { resolveStateDir } from '../session.js'
import type { Kind } from '../../model/types.js'
import type { ObjectStatus, StateStore } from '../../store/types.js'
import { SOURCE_KEY } from '../../engine/source-status.js'
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

/** Registers `proximity get`. */
export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .summary('list objects and their status, like kubectl get')
    .description(
      'List objects from the state store (what the last plan/apply/serve recorded), like kubectl get.\n' +
        'RESOURCE is apps, appliances, backuppolicies, restores, sources or deliveries (singular works\n' +
        'too); deliveries lists the webhook deliveries serve --git received, with their verdicts;\n' +
        'sources shows whether the manifests `serve` watches were accepted, with located errors.\n' +
        'Reads only the local state; it does not contact Proxmox. An unknown NAME exits 1.',
    )
    .argument('<resource>', 'apps | appliances | backuppolicies | restores | sources | deliveries')
    .argument('[name]', 'show only this object')
    .option('-o, --output <format>', 'json, yaml or wide (default: table)')
    .addOption(stateDirOption())
    .action(async (resource: string, name: string | undefined, o: { output?: string; stateDir?: string }) => {
      try {
        if (/^deliver(y|ies)$/i.test(resource)) {
          await getDeliveries(ctx, o)
          return
        }
        const kind = resourceKind(resource)
        const format = parseOutputFormat(o.output, ['table', 'wide', 'json', 'yaml'])
        const store = await openStoreIfPresent(ctx, o.stateDir)
        let items: ObjectStatus[] = []
        let source: ObjectStatus | undefined
        try {
          items = store ? store.listStatus(kind) : []
          source = store?.getStatus(SOURCE_KEY)
        } finally {
          await store?.close()
        }
        items = items.filter((s) => s.kind === kind).sort((a, b) => a.name.localeCompare(b.name))
        if (name !== undefined) {
          items = items.filter((s) => s.name === name)
          if (items.length === 0) {
            const shown = shownPath(ctx.cwd, resolveStateDir(ctx, o.stateDir))
            err(ctx, `error: ${kind} "${name}" not found in the state (${shown}); run proximity apply first or check the name`)
            ctx.exitCode = 1
            return
          }
        }
        if (format === 'json') {
          out(ctx, renderJson(name !== undefined ? items[0] : { kind: `${kind}List`, items }).trimEnd())
          return
        }
        if (format === 'yaml') {
          ctx.stdout.write(renderYaml(name !== undefined ? items[0] : { kind: `${kind}List`, items }))
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
        const now = Date.now()
        const wide = format === 'wide'
        const headers = ['NAME', 'READY', 'STATUS', 'NODE', 'VMID', 'AGE', ...(wide ? ['REVISION', 'LAST RECONCILED'] : [])]
        const rows = items.map((s) => [
          s.name,
          readyOf(s),
          wide ? statusText(s) : truncate(statusText(s), 60),
          s.inventory?.node,
          s.inventory?.vmid,
          formatAge(s.createdAt, now),
          ...(wide ? [s.lastAppliedRevision ?? s.lastAttemptedRevision, formatAge(s.updatedAt, now)] : []),
        ])
        ctx.stdout.write(renderTable(headers, rows))
      } catch (e) {
        err(ctx, `error: ${(e as Error).message}`)
        ctx.exitCode = 1
      }
    })
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
