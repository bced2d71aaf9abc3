import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { loadInputs, openSession, resolveStateDir, type Pass, type Session } from '../session.js'
import type { Kind, Manifest, ManifestSet } from '../../model/types.js'
import type { Action, Controller, OrphanRecord } from '../../runtime/controller.js'
import type { Plan } from '../../plan/types.js'

/** Manifests of one kind in a set (Cluster is not reconciled). */
export function manifestsOf(set: ManifestSet, kind: Kind): Manifest[] {
  switch (kind) {
    case 'App':
      return set.apps
    case 'Appliance':
      return set.appliances
    case 'BackupPolicy':
      return set.backupPolicies
    case 'Restore':
      return set.restores
    default:
      return []
  }
}

/** What `plan` found: the plan, per-key errors, and the orphans a prune would delete. */
export interface ComputedPlan {
  plan: Plan
  /** Objects that could not be observed or planned (the plan is incomplete without them). */
  errors: { key: string; message: string }[]
  /** Deletion candidates with their controller (only filled with `prune`). */
  orphans: { record: OrphanRecord; controller: Controller }[]
  /** Per key: the actions (for apply to decide what needs work). */
  byKey: Map<string, Action[]>
  /** Owned guests per kind seen by the orphan scan (desired + orphans), for the mass-delete guard. */
  ownedTotal: number
}

/** Refuses a prune that deletes too much (DESIGN §4). Thrown before anything is changed. */
export class MassDeleteError extends Error {
  override readonly name = 'MassDeleteError'
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const outv: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      outv[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return outv
}

/**
 * Observes and plans every object of the set (read only: no Proxmox write, no SSH command in
 * steady state), plus orphan deletions when `prune`. The same observe/plan code apply uses.
 */
export async function computePlan(session: Session, pass: Pass, opts: { prune: boolean }): Promise<ComputedPlan> {
  const entries: Action[] = []
  const errors: ComputedPlan['errors'] = []
  const orphans: ComputedPlan['orphans'] = []
  const byKey = new Map<string, Action[]>()
  let ownedTotal = 0
  for (const c of session.controllers) {
    const objs = manifestsOf(session.set, c.kind)
    await mapLimit(objs, 8, async (obj) => {
      const key = `${obj.kind}/${obj.metadata.name}`
      try {
        const ctx = pass.contextFor(key)
        const observed = await c.observe(ctx, obj as never)
        const actions = c.plan(obj as never, observed, ctx)
        byKey.set(key, actions)
        entries.push(...actions.filter((a) => a.type !== 'noop'))
      } catch (e) {
        errors.push({ key, message: (e as Error).message })
      }
    })
    if (opts.prune && c.orphans) {
      const found = await c.orphans(pass.contextFor(`${c.kind}/*`))
      ownedTotal += found.length + objs.length
      for (const record of found) {
        orphans.push({ record, controller: c })
        const action: Action = c.planDelete
          ? c.planDelete(record)
          : { type: 'delete', key: record.key, kind: record.kind, name: record.name, changes: [] }
        entries.push(action)
        byKey.set(record.key, [action])
      }
    }
  }
  const { buildPlan } = await import('../../plan/index.js')
  return { plan: buildPlan(entries), errors: errors.sort((a, b) => a.key.localeCompare(b.key)), orphans, byKey, ownedTotal }
}

/**
 * The mass-delete guard: a prune may delete at most `threshold` guests, and never every owned
 * guest, unless `allow`. Retained guests (deletionPolicy Retain) are not counted.
 */
export function checkMassDelete(computed: ComputedPlan, threshold: number, allow: boolean): void {
  if (allow) return
  const doomed = computed.orphans.filter((o) => o.record.deletionPolicy !== 'Retain').length
  if (doomed === 0) return
  if (doomed > threshold) {
    throw new MassDeleteError(
      `refusing to delete ${doomed} guests (more than the threshold of ${threshold}); check the -f paths, or pass --allow-mass-delete`,
    )
  }
  if (doomed === computed.ownedTotal) {
    throw new MassDeleteError(
      `refusing to delete every managed guest (${doomed}); check the -f paths, or pass --allow-mass-delete`,
    )
  }
}

/** Registers `proximity plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description(
      'Compare the manifests with the live cluster and show what apply would do, Terraform style\n' +
        '(+ create, ~ update in-place, - destroy, -/+ replace). Reads only; changes nothing.\n\n' +
        'Exit codes: 0 success (or no changes with --detailed-exitcode), 1 error,\n' +
        '2 changes present (only with --detailed-exitcode).',
    )
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
    .option('-o, --output <format>', 'json: print the plan as stable JSON')
    .option('--prune', 'also plan the deletion of managed guests whose manifest is gone')
    .option('--state-dir <dir>', 'state directory', '.proximity')
    .action(async (o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; stateDir?: string }) => {
      ctx.exitCode = await runPlan(ctx, o)
    })
}

async function runPlan(
  ctx: CliContext,
  o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; stateDir?: string },
): Promise<number> {
  if (o.output !== undefined && o.output !== 'json') {
    err(ctx, `error: unknown output format "${o.output}"; plan supports: json`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const set = await loadInputs(ctx, o.filename, { stateDir, requireKey: false })
  if (!set) return 1
  let session: Session | undefined
  try {
    session = await openSession({ ctx, set, paths: o.filename, stateDir, dryRun: true })
    const pass = await session.newPass()
    const computed = await computePlan(session, pass, { prune: o.prune === true })
    const { planToJson, renderPlan, isEmptyPlan } = await import('../../plan/index.js')
    if (o.output === 'json') out(ctx, JSON.stringify(planToJson(computed.plan), null, 2))
    else ctx.stdout.write(ensureNl(renderPlan(computed.plan, { color: ctx.stdout.isTTY === true && !ctx.env.NO_COLOR })))
    for (const e of computed.errors) err(ctx, `error: ${e.key}: ${e.message}`)
    if (computed.errors.length > 0) return 1
    if (o.detailedExitcode) return isEmptyPlan(computed.plan) ? 0 : 2
    return 0
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await session?.close()
  }
}

const ensureNl = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`)
