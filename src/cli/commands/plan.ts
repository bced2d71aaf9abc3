import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target.js'
import { loadInputs, openSession, resolveStateDir, type Session } from '../session.js'
import type { Kind, Manifest, ManifestSet } from '../../model/types.js'
import type { Action } from '../../runtime/controller.js'
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

/** What `plan` found: the plan, per-key problems, and the prune guard's verdict. */
export interface ComputedPlan {
  plan: Plan
  /** Objects that could not be observed or planned (the plan is incomplete without them). */
  errors: { key: string; message: string; transient: boolean }[]
  /** Objects waiting on something (a dependency, an appliance): not errors, shown as notes. */
  waiting: { key: string; message: string }[]
  /** Keys of orphan deletions (only with `prune`). */
  deletions: string[]
  /** The deletion guard's refusal, when a prune deletes too much. */
  refusal?: string
  /** Orphans kept out of the prune by `hold` (issue 7: their manifest file stopped being read). */
  held: string[]
  /** Per key: the planned actions (for apply to decide what needs work). */
  byKey: Map<string, Action[]>
}

/** Keys of every reconciled object of the set (Cluster excluded). */
export function desiredKeys(set: ManifestSet): string[] {
  const kinds: Kind[] = ['Appliance', 'App', 'BackupPolicy', 'Restore']
  return kinds.flatMap((k) => manifestsOf(set, k).map((m) => `${k}/${m.metadata.name}`))
}

/**
 * Observes and plans every object through the reconciler's plan helper (the same observe/plan
 * code apply runs; read only, one cluster snapshot), plus orphan deletions when `prune`.
 */
export async function computePlan(
  session: Session,
  opts: { prune: boolean; allowMassDelete?: boolean; workers?: number; hold?: ReadonlySet<string> },
): Promise<ComputedPlan> {
  const report = await session
    .reconciler({ workers: opts.workers })
    .plan(desiredKeys(session.set), { prune: opts.prune, allowMassDelete: opts.allowMassDelete, hold: opts.hold })
  const entries: Action[] = []
  const errors: ComputedPlan['errors'] = []
  const waiting: ComputedPlan['waiting'] = []
  const byKey = new Map<string, Action[]>()
  for (const e of [...report.entries, ...report.deletions]) {
    byKey.set(e.key, e.actions)
    entries.push(...e.actions.filter((a) => a.type !== 'noop'))
    if (e.error?.kind === 'waiting') waiting.push({ key: e.key, message: e.error.message })
    else if (e.error) errors.push({ key: e.key, message: e.error.message, transient: e.error.kind === 'transient' })
  }
  const { buildPlan } = await import('../../plan/index.js')
  const byName = (a: { key: string }, b: { key: string }): number => a.key.localeCompare(b.key)
  return {
    plan: buildPlan(entries),
    errors: errors.sort(byName),
    waiting: waiting.sort(byName),
    deletions: report.deletions.map((d) => d.key),
    refusal: report.refusal,
    held: report.held ?? [],
    byKey,
  }
}

/** Registers `proximity plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .summary('show what apply would change, Terraform style (reads only)')
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
    .option('--allow-missing-files', 'with --prune: also plan deleting objects whose manifest file is gone or no longer holds a manifest (empty, comments only, now a compose file)')
    .option('--state-dir <dir>', 'state directory', '.proximity')
    .addHelpText('after', TARGET_HELP)
    .action(async (o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; allowMissingFiles?: boolean; stateDir?: string }) => {
      ctx.exitCode = await runPlan(ctx, o)
    })
}

async function runPlan(
  ctx: CliContext,
  o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; allowMissingFiles?: boolean; stateDir?: string },
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
    // issue 7: objects whose manifest file stopped being read are not pruned without a flag.
    const sf = o.prune ? await import('../source-files.js') : undefined
    const held = sf ? await sf.findHeldBySourceFiles(stateDir, set, await sf.manifestInputs(ctx.cwd, o.filename), o.allowMissingFiles === true) : undefined
    const computed = await computePlan(session, { prune: o.prune === true, hold: held?.hold })
    const { planToJson, renderPlan, isEmptyPlan } = await import('../../plan/index.js')
    if (o.output === 'json') out(ctx, JSON.stringify(planToJson(computed.plan), null, 2))
    else ctx.stdout.write(ensureNl(renderPlan(computed.plan, { color: ctx.stdout.isTTY === true && !ctx.env.NO_COLOR })))
    const kinds = new Set<string>(session.controllers.map((c) => c.kind))
    const unsupported = desiredKeys(set).filter((k) => !kinds.has(k.slice(0, k.indexOf('/'))))
    if (unsupported.length > 0) err(ctx, `note: not planned (no controller for their kind in this version): ${unsupported.join(', ')}`)
    for (const w of computed.waiting) err(ctx, `note: ${w.key}: ${w.message}`)
    if (computed.refusal) err(ctx, `warning: apply --prune would refuse: ${computed.refusal}`)
    if (sf && held) {
      const orphans = new Set([...computed.held, ...computed.deletions])
      for (const l of sf.describeHeld(held, orphans, ctx.cwd, o.allowMissingFiles === true)) err(ctx, l.startsWith('note: ') ? l : `warning: ${l}`)
    }
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
