import { constants as osConstants } from 'node:os'
import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target-help.js'
import { canPrompt, confirm } from '../confirm.js'
import { requireManifests } from '../require-manifests.js'
import { parseDurationOption } from '../format.js'
import { createProgress, formatElapsed, silentProgress } from '../progress.js'
import { createInFlightTracker, interruptMessage } from '../interrupt.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { ComputedPlan } from '../../engine/plan.js'
import type { Engine } from '../../engine/types.js'
import type { Outcome } from '../../runtime/reconciler.js'
import type { ProgressPhase } from '../../runtime/controller.js'
import type { Lease, ObjectStatus } from '../../store/types.js'
import { stateDirOption } from '../state-dir.js'

interface ApplyOptions {
  filename: string[]
  prune?: boolean
  allowMassDelete?: boolean
  allowMissingFiles?: boolean
  dryRun?: boolean
  yes?: boolean
  autoApprove?: boolean
  verbose?: boolean
  output?: string
  parallelism: string
  timeout: string
  leaseWait: string
  stateDir?: string
}

/** Registers `proximity apply`. */
export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .summary('converge the cluster to the manifests')
    .description(
      'Converge the cluster to the manifests: plan, then create, update (and with --prune delete)\n' +
        'guests through the controllers until every object is Ready, Stalled or the timeout passes.\n' +
        'Only one apply acts at a time per cluster, whatever folder or state dir it runs from (a lease\n' +
        'held in Proxmox as the pool proximity-lease-<owner>, renewed while it runs, expiring by itself).\n\n' +
        'A plan that destroys, replaces or deletes data is shown first and applied only when you type\n' +
        'yes on the terminal; without a terminal (CI, pipes) it needs --yes, else nothing is changed.\n' +
        'Ctrl-C stops starting work, says what was in flight and exits; a re-run resumes safely.\n' +
        'A second Ctrl-C exits at once.\n\n' +
        'Exit codes: 0 every object Ready, 1 anything else.',
    )
    .option('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--prune', 'delete managed guests whose manifest is gone (honours deletionPolicy)')
    .option('--allow-mass-delete', 'allow a prune to delete more than the threshold, or every managed guest')
    .option('--allow-missing-files', 'allow a prune to delete objects whose manifest file is gone or no longer holds a manifest (empty, comments only, now a compose file)')
    .option('--dry-run', 'observe and plan only; change nothing')
    .option('-y, --yes', 'apply a plan that destroys, replaces or deletes data without asking')
    .option('--auto-approve', 'the same as --yes (Terraform\'s name)')
    .option('-v, --verbose', 'show full Proxmox task ids (UPIDs) in the progress, not only type and guest id')
    .option('-o, --output <format>', 'json: print the final statuses as JSON on stdout')
    .option('--parallelism <n>', 'objects reconciled at once (per-node limits still apply)', '8')
    .option('--timeout <duration>', 'give up on objects not Ready after this long', '15m')
    .option('--lease-wait <duration>', 'wait this long for another running apply to finish', '30s')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (o: ApplyOptions) => {
      ctx.exitCode = await runApply(ctx, o)
    })
}

async function runApply(ctx: CliContext, o: ApplyOptions): Promise<number> {
  if (!requireManifests(ctx, o.filename)) return 1
  let timeoutMs: number
  let leaseWaitMs: number
  const parallelism = Number(o.parallelism)
  try {
    if (o.output !== undefined && o.output !== 'json') throw new Error(`unknown output format "${o.output}"; apply supports: json`)
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 256) throw new Error(`--parallelism must be a whole number from 1 to 256, got "${o.parallelism}"`)
    timeoutMs = parseDurationOption(o.timeout, '--timeout')
    leaseWaitMs = parseDurationOption(o.leaseWait, '--lease-wait')
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const json = o.output === 'json'
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const source = await pathsSource(ctx, o.filename, { stateDir, requireKey: o.dryRun !== true })
  const initial = await loadSource(ctx, source)
  if (!initial) return 1
  const now = (): number => (ctx.clock ? ctx.clock.now() : Date.now())
  const startedAt = now()
  const progress = json || o.dryRun ? silentProgress : createProgress(ctx.stderr, { now, verbose: o.verbose === true })
  const inFlight = createInFlightTracker()
  let engine: Engine | undefined
  // First Ctrl-C (or SIGTERM): say what was in flight, release the lease and clients, then die of
  // the signal. A second one exits at once (128 + signal number, as shells report it).
  let interrupted = false
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      err(ctx, 'interrupted again: exiting now; the lease expires by itself')
      process.exit(128 + (osConstants.signals[sig] ?? 2))
    }
    interrupted = true
    progress.finish()
    err(ctx, interruptMessage(inFlight.snapshot(), sig))
    void (engine?.close() ?? Promise.resolve()).finally(() => {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      process.kill(process.pid, sig)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const track = (k: string, p: ProgressPhase, d?: string): void => {
    inFlight.update(k, p, d)
    if (!interrupted) progress.update(k, p, d)
  }
  try {
    const lease = o.dryRun
      ? undefined
      : {
          waitMs: leaseWaitMs,
          onWait: (h: Lease) =>
            err(ctx, `waiting up to ${o.leaseWait} for another apply to finish (owner ${h.owner}, pid ${h.pid} on host ${h.host}, since ${h.acquiredAt}; expires at ${h.expiresAt} unless renewed)`),
        }
    engine = await openCliEngine(ctx, { source, initial, stateDir, dryRun: o.dryRun === true, progress: track, lease })
    const prune = o.prune === true
    const allowMassDelete = o.allowMassDelete === true
    // Objects whose manifest file stopped being read are not pruned without a flag.
    const sf = await import('../source-files.js')
    const inputs = await sf.manifestInputs(ctx.cwd, o.filename)
    const held = prune ? await sf.findHeldBySourceFiles(stateDir, initial.set, inputs, o.allowMissingFiles === true) : undefined
    const computed = await engine.plan({}, { prune, allowMassDelete, workers: parallelism, ...(held ? { hold: held.hold } : {}) })
    const heldLines = held ? sf.describeHeld(held, new Set([...computed.held, ...computed.deletions]), ctx.cwd, o.allowMissingFiles === true) : []
    for (const l of heldLines) err(ctx, l.startsWith('note: ') ? l : `warning: ${l}`)
    const { renderPlan, planToJson } = await import('../../plan/index.js')
    // A transient failure to observe one object does not block the others: apply retries it.
    for (const e of computed.errors.filter((x) => x.transient)) err(ctx, `note: ${e.key}: ${e.message} (will retry)`)
    const blocking = computed.errors.filter((x) => !x.transient)
    if (blocking.length > 0) {
      for (const e of blocking) err(ctx, `error: ${e.key}: ${e.message}`)
      err(ctx, 'nothing was applied: fix the errors above and re-run')
      return 1
    }
    if (computed.refusal) {
      err(ctx, `error: ${computed.refusal}`)
      return 1
    }
    if (!json) {
      // "No changes" only when true: objects not Ready and orphans left alone are said (issue 9).
      const { findAttention } = await import('../attention.js')
      const att = await findAttention(engine, computed, { prune })
      ctx.stdout.write(nl(renderPlan(computed.plan, { color: ctx.stdout.isTTY === true && !ctx.env.NO_COLOR, notReady: att.notReady, orphans: att.orphans })))
      if (att.orphanScanError) err(ctx, `warning: ${att.orphanScanError}`)
    }
    if (o.dryRun) {
      if (json) out(ctx, JSON.stringify(planToJson(computed.plan), null, 2))
      else out(ctx, 'Dry run: nothing was changed.')
      return 0
    }
    // Destroy, replace, data loss: only an explicit yes (or --yes) lets the plan run (issue 9).
    if (!(o.yes || o.autoApprove) && !(await approveDestructive(ctx, computed, json))) return 1
    const applied = await engine.apply({}, { plan: computed, prune, allowMassDelete, workers: parallelism, deadlineMs: timeoutMs, maxAttempts: 8, ...(held ? { hold: held.hold } : {}) })
    progress.finish()
    if (interrupted) return 130 // the signal handler has said everything and ends the process
    // Remember which file each object came from, for the next prune.
    const deleted = [...applied.outcomes.values()].filter((x) => x.result === 'Deleted').map((x) => x.key)
    await sf.recordManifestSources(stateDir, initial.set, inputs, deleted).catch((e: Error) => err(ctx, `warning: cannot record the manifest files of this apply: ${e.message}`))
    const heldFailures = computed.held.map((key) => ({ key, reason: 'PruneHeld', message: `not pruned: its manifest file stopped being read (see the warning above; ${sf.ALLOW_MISSING_FILES_FLAG} allows it)` }))
    return report(ctx, engine, computed, applied.outcomes, json, heldFailures, formatElapsed(now() - startedAt))
  } catch (e) {
    progress.finish()
    if (interrupted) return 130 // errors of clients closed by the interrupt are not news
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await engine?.close()
  }
}

const nl = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`)

/**
 * True when the plan destroys nothing, or a person typed `yes` on the terminal after seeing it.
 * Without a terminal such a plan is refused with the flag that allows it. With `-o json` the
 * plan (not printed on stdout) is shown on stderr before the question.
 */
async function approveDestructive(ctx: CliContext, computed: ComputedPlan, json: boolean): Promise<boolean> {
  const { destructiveChanges, describeDestructive } = await import('../../plan/destructive.js')
  const destructive = destructiveChanges(computed.plan)
  if (destructive.length === 0) return true
  const list = describeDestructive(destructive)
  if (json && canPrompt(ctx)) {
    const { renderPlan } = await import('../../plan/index.js')
    ctx.stderr.write(nl(renderPlan(computed.plan)))
  }
  const n = destructive.length
  return confirm(ctx, {
    question:
      `\nThis plan destroys, replaces or deletes data of ${n} object${n === 1 ? '' : 's'}: ${list}.\n` +
      "Only 'yes' approves; anything else cancels and changes nothing.\n" +
      'Apply it? ',
    accept: 'yes',
    notATerminal: `this plan destroys, replaces or deletes data (${list}) and stdin is not a terminal to ask on; nothing was changed; re-run with --yes (or --auto-approve) to apply it`,
    declined: 'apply cancelled; nothing was changed',
  })
}

/** Prints the outcome of the run (`took`: the time since the command started) and returns the exit code. */
function report(ctx: CliContext, engine: Engine, computed: ComputedPlan, outcomes: Map<string, Outcome>, json: boolean, extraFailures: { key: string; reason: string; message: string }[], took: string): number {
  const { set, revision } = engine.current()
  const typeOf = new Map<string, string>()
  for (const a of computed.plan.entries) typeOf.set(a.key, a.type)
  let added = 0
  let changed = 0
  let destroyed = 0
  const failures: { key: string; reason: string; message: string }[] = [...extraFailures]
  for (const [key, oc] of outcomes) {
    const t = typeOf.get(key)
    if (oc.result !== 'Ready' && oc.result !== 'Deleted' && oc.result !== 'Skipped') {
      failures.push({ key, reason: oc.reason, message: oc.message })
      continue
    }
    if (t === 'create') added++
    else if (t === 'update') changed++
    else if (t === 'delete') destroyed++
    else if (t === 'replace') {
      added++
      destroyed++
    }
  }
  const kinds = new Set<string>(engine.controllers.map((c) => c.kind))
  const all = [...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores]
  const desired = all.filter((m) => kinds.has(m.kind))
  const unsupported = all.filter((m) => !kinds.has(m.kind)).map((m) => `${m.kind}/${m.metadata.name}`)
  if (unsupported.length > 0 && !json) err(ctx, `note: not reconciled yet (no controller for their kind in this version): ${unsupported.join(', ')}`)
  const statuses: ObjectStatus[] = desired
    .map((m) => engine.store.getStatus(`${m.kind}/${m.metadata.name}`))
    .filter((s): s is ObjectStatus => s !== undefined)
  const notReady = desired.filter((m) => {
    const st = engine.store.getStatus(`${m.kind}/${m.metadata.name}`)
    return st?.conditions.find((c) => c.type === 'Ready')?.status !== 'True'
  })
  for (const m of notReady) {
    const key = `${m.kind}/${m.metadata.name}`
    if (failures.some((f) => f.key === key)) continue
    const ready = engine.store.getStatus(key)?.conditions.find((c) => c.type === 'Ready')
    failures.push({ key, reason: ready?.reason ?? 'Unknown', message: ready?.message ?? 'not reconciled' })
  }
  failures.sort((a, b) => a.key.localeCompare(b.key))
  const apps = set.apps.length
  const summary = { added, changed, destroyed }
  if (json) {
    out(ctx, JSON.stringify({ revision: revision, ok: failures.length === 0, summary, failures, objects: statuses }, null, 2))
  } else {
    const counts = `${added} added, ${changed} changed, ${destroyed} destroyed`
    if (failures.length === 0) {
      out(ctx, `Apply complete: ${counts}; all ${apps} app${apps === 1 ? '' : 's'} Ready (took ${took})`)
      if (engine.target.sandbox) err(ctx, 'next: proximity get apps · proximity describe app <name> · proximity events')
    } else {
      const readyApps = set.apps.filter((a) => !failures.some((f) => f.key === `App/${a.metadata.name}`)).length
      out(ctx, `Apply finished with errors: ${counts}; ${readyApps} of ${apps} apps Ready (took ${took})`)
      for (const f of failures) out(ctx, `  ${f.key}: ${f.reason}: ${f.message}`)
    }
  }
  return failures.length === 0 ? 0 : 1
}
