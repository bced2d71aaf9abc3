import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target.js'
import { parseDurationOption } from '../format.js'
import { createProgress, silentProgress } from '../progress.js'
import { loadInputs, openSession, resolveStateDir, type Session } from '../session.js'
import { computePlan, desiredKeys, type ComputedPlan } from './plan.js'
import type { Outcome } from '../../runtime/reconciler.js'
import type { Lease, ObjectStatus } from '../../store/types.js'

interface ApplyOptions {
  filename: string[]
  prune?: boolean
  allowMassDelete?: boolean
  dryRun?: boolean
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
    .description(
      'Converge the cluster to the manifests: plan, then create, update (and with --prune delete)\n' +
        'guests through the controllers until every object is Ready, Stalled or the timeout passes.\n' +
        'Only one apply acts at a time per cluster, whatever folder or state dir it runs from (a lease\n' +
        'held in Proxmox as the pool proximity-lease-<owner>, renewed while it runs, expiring by itself).\n\n' +
        'Exit codes: 0 every object Ready, 1 anything else.',
    )
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--prune', 'delete managed guests whose manifest is gone (honours deletionPolicy)')
    .option('--allow-mass-delete', 'allow a prune to delete more than the threshold, or every managed guest')
    .option('--dry-run', 'observe and plan only; change nothing')
    .option('-o, --output <format>', 'json: print the final statuses as JSON on stdout')
    .option('--parallelism <n>', 'objects reconciled at once (per-node limits still apply)', '8')
    .option('--timeout <duration>', 'give up on objects not Ready after this long', '15m')
    .option('--lease-wait <duration>', 'wait this long for another running apply to finish', '30s')
    .option('--state-dir <dir>', 'state directory', '.proximity')
    .addHelpText('after', TARGET_HELP)
    .action(async (o: ApplyOptions) => {
      ctx.exitCode = await runApply(ctx, o)
    })
}

async function runApply(ctx: CliContext, o: ApplyOptions): Promise<number> {
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
  const set = await loadInputs(ctx, o.filename, { stateDir, requireKey: o.dryRun !== true })
  if (!set) return 1
  const progress = json || o.dryRun ? silentProgress : createProgress(ctx.stderr)
  let session: Session | undefined
  const onSignal = (sig: NodeJS.Signals): void => {
    void (session?.close() ?? Promise.resolve()).finally(() => process.kill(process.pid, sig))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const lease = o.dryRun
      ? undefined
      : {
          waitMs: leaseWaitMs,
          onWait: (h: Lease) =>
            err(ctx, `waiting up to ${o.leaseWait} for another apply to finish (owner ${h.owner}, pid ${h.pid} on host ${h.host}, since ${h.acquiredAt}; expires at ${h.expiresAt} unless renewed)`),
        }
    session = await openSession({ ctx, set, paths: o.filename, stateDir, dryRun: o.dryRun === true, progress, lease })
    const computed = await computePlan(session, { prune: o.prune === true, allowMassDelete: o.allowMassDelete === true, workers: parallelism })
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
    if (!json) ctx.stdout.write(nl(renderPlan(computed.plan, { color: ctx.stdout.isTTY === true && !ctx.env.NO_COLOR })))
    if (o.dryRun) {
      if (json) out(ctx, JSON.stringify(planToJson(computed.plan), null, 2))
      else out(ctx, 'Dry run: nothing was changed.')
      return 0
    }
    const keys = keysNeedingWork(session, computed)
    const outcomes =
      keys.length > 0 || computed.deletions.length > 0
        ? await session.reconciler({ workers: parallelism }).runOnce(keys, {
            prune: o.prune === true,
            allowMassDelete: o.allowMassDelete === true,
            deadlineMs: timeoutMs,
            maxAttempts: 8,
          })
        : new Map<string, Outcome>()
    progress.finish()
    return report(ctx, session, computed, outcomes, json)
  } catch (e) {
    progress.finish()
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await session?.close()
  }
}

const nl = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`)

/**
 * Keys apply must reconcile: every object with a planned change, plus every object whose stored
 * status is not Ready for its current spec (first run, state dir lost, an earlier failure).
 * A converged object with a Ready status is skipped, so a converged apply writes nothing.
 */
function keysNeedingWork(session: Session, computed: ComputedPlan): string[] {
  const keys: string[] = []
  const kinds = new Set<string>(session.controllers.map((c) => c.kind))
  for (const key of desiredKeys(session.set)) {
    if (!kinds.has(key.slice(0, key.indexOf('/')))) continue
    const actions = computed.byKey.get(key) ?? []
    const st = session.store.getStatus(key)
    const ready = st?.conditions.find((c) => c.type === 'Ready')?.status === 'True'
    const manifest = findManifest(session, key)
    const current = ready && manifest !== undefined && st?.specHash === manifest.specHash
    const retry = computed.errors.some((e) => e.key === key)
    if (retry || actions.some((a) => a.type !== 'noop') || !current) keys.push(key)
  }
  return keys.sort()
}

function findManifest(session: Session, key: string): { specHash: string } | undefined {
  const s = session.set
  return [...s.apps, ...s.appliances, ...s.backupPolicies, ...s.restores].find((m) => `${m.kind}/${m.metadata.name}` === key)
}

function report(ctx: CliContext, session: Session, computed: ComputedPlan, outcomes: Map<string, Outcome>, json: boolean): number {
  const typeOf = new Map<string, string>()
  for (const a of computed.plan.entries) typeOf.set(a.key, a.type)
  let added = 0
  let changed = 0
  let destroyed = 0
  const failures: { key: string; reason: string; message: string }[] = []
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
  const kinds = new Set<string>(session.controllers.map((c) => c.kind))
  const all = [...session.set.apps, ...session.set.appliances, ...session.set.backupPolicies, ...session.set.restores]
  const desired = all.filter((m) => kinds.has(m.kind))
  const unsupported = all.filter((m) => !kinds.has(m.kind)).map((m) => `${m.kind}/${m.metadata.name}`)
  if (unsupported.length > 0 && !json) err(ctx, `note: not reconciled yet (no controller for their kind in this version): ${unsupported.join(', ')}`)
  const statuses: ObjectStatus[] = desired
    .map((m) => session.store.getStatus(`${m.kind}/${m.metadata.name}`))
    .filter((s): s is ObjectStatus => s !== undefined)
  const notReady = desired.filter((m) => {
    const st = session.store.getStatus(`${m.kind}/${m.metadata.name}`)
    return st?.conditions.find((c) => c.type === 'Ready')?.status !== 'True'
  })
  for (const m of notReady) {
    const key = `${m.kind}/${m.metadata.name}`
    if (failures.some((f) => f.key === key)) continue
    const ready = session.store.getStatus(key)?.conditions.find((c) => c.type === 'Ready')
    failures.push({ key, reason: ready?.reason ?? 'Unknown', message: ready?.message ?? 'not reconciled' })
  }
  failures.sort((a, b) => a.key.localeCompare(b.key))
  const apps = session.set.apps.length
  const summary = { added, changed, destroyed }
  if (json) {
    out(ctx, JSON.stringify({ revision: session.revision, ok: failures.length === 0, summary, failures, objects: statuses }, null, 2))
  } else {
    const counts = `${added} added, ${changed} changed, ${destroyed} destroyed`
    if (failures.length === 0) {
      out(ctx, `Apply complete: ${counts}; all ${apps} app${apps === 1 ? '' : 's'} Ready`)
      if (session.target.sandbox) err(ctx, 'next: proximity get apps · proximity describe app <name> · proximity events')
    } else {
      const readyApps = session.set.apps.filter((a) => !failures.some((f) => f.key === `App/${a.metadata.name}`)).length
      out(ctx, `Apply finished with errors: ${counts}; ${readyApps} of ${apps} apps Ready`)
      for (const f of failures) out(ctx, `  ${f.key}: ${f.reason}: ${f.message}`)
    }
  }
  return failures.length === 0 ? 0 : 1
}

/**
 * One resync pass over every object of the session's set, exactly as the daemon's resync and
 * a converged `apply` reconcile them (one snapshot, observe → plan → apply per key). Used by
 * the steady-state benchmark; changes nothing on a converged cluster.
 */
export async function resyncPass(session: Session, opts: { workers?: number } = {}): Promise<Map<string, Outcome>> {
  return session.reconciler({ workers: opts.workers ?? 8 }).runOnce(desiredKeys(session.set), { maxAttempts: 1, deadlineMs: 60_000 })
}
