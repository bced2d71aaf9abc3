import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target-help.js'
import { requireManifests } from '../require-manifests.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import { desiredKeys } from '../../engine/plan.js'
import type { Engine } from '../../engine/types.js'
import { stateDirOption } from '../state-dir.js'

/** Registers `proximity plan`. */
export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .summary('show what apply would change, Terraform style (reads only)')
    .description(
      'Compare the manifests with the live cluster and show what apply would do, Terraform style\n' +
        '(+ create, ~ update in-place, - destroy, -/+ replace). Reads only; changes nothing.\n' +
        '"No changes. Your cluster matches the manifests." is printed only when it is true: objects\n' +
        'that are not Ready (a failed health gate, a stalled reconcile) are listed with the reason,\n' +
        'and managed guests whose manifest is gone with what --prune would do.\n\n' +
        'Exit codes: 0 success (or no changes with --detailed-exitcode), 1 error,\n' +
        '2 changes present (only with --detailed-exitcode). Objects not Ready and guests left alone\n' +
        'without --prune are not changes: they do not turn 0 into 2.',
    )
    .option('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
    .option('-o, --output <format>', 'json: print the plan as stable JSON')
    .option('--prune', 'also plan the deletion of managed guests whose manifest is gone')
    .option('--allow-missing-files', 'with --prune: also plan deleting objects whose manifest file is gone or no longer holds a manifest (empty, comments only, now a compose file)')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; allowMissingFiles?: boolean; stateDir?: string }) => {
      ctx.exitCode = await runPlan(ctx, o)
    })
}

async function runPlan(
  ctx: CliContext,
  o: { filename: string[]; detailedExitcode?: boolean; output?: string; prune?: boolean; allowMissingFiles?: boolean; stateDir?: string },
): Promise<number> {
  if (!requireManifests(ctx, o.filename)) return 1
  if (o.output !== undefined && o.output !== 'json') {
    err(ctx, `error: unknown output format "${o.output}"; plan supports: json`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const source = await pathsSource(ctx, o.filename, { stateDir, requireKey: false })
  const initial = await loadSource(ctx, source)
  if (!initial) return 1
  let engine: Engine | undefined
  try {
    engine = await openCliEngine(ctx, { source, initial, stateDir, dryRun: true })
    // Objects whose manifest file stopped being read are not pruned without a flag.
    const sf = o.prune ? await import('../source-files.js') : undefined
    const held = sf ? await sf.findHeldBySourceFiles(stateDir, initial.set, await sf.manifestInputs(ctx.cwd, o.filename), o.allowMissingFiles === true) : undefined
    const computed = await engine.plan({}, { prune: o.prune === true, ...(held ? { hold: held.hold } : {}) })
    const { planToJson, renderPlan, isEmptyPlan } = await import('../../plan/index.js')
    if (o.output === 'json') out(ctx, JSON.stringify(planToJson(computed.plan), null, 2))
    else {
      // "No changes" only when true: objects not Ready and orphans left alone are said (issue 9).
      const { findAttention } = await import('../attention.js')
      const att = await findAttention(engine, computed, { prune: o.prune === true })
      ctx.stdout.write(ensureNl(renderPlan(computed.plan, { color: ctx.stdout.isTTY === true && !ctx.env.NO_COLOR, notReady: att.notReady, orphans: att.orphans })))
      if (att.orphanScanError) err(ctx, `warning: ${att.orphanScanError}`)
    }
    const kinds = new Set<string>(engine.controllers.map((c) => c.kind))
    const unsupported = desiredKeys(initial.set).filter((k) => !kinds.has(k.slice(0, k.indexOf('/'))))
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
    await engine?.close()
  }
}

const ensureNl = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`)
