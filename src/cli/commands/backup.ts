import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { parseDurationOption, renderJson, renderTable } from '../format.js'
import { TARGET_HELP } from '../target-help.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { Engine } from '../../engine/types.js'
import type { Lease } from '../../store/types.js'
import { stateDirOption } from '../state-dir.js'
import { checkVolid } from '../../model/volid.js'

/** What the backup commands use of an open engine. */
interface Session {
  pve: Engine['pve']
  store: Engine['store']
  set: ReturnType<Engine['current']>['set']
  revision: string
  target: Engine['target']
  semaphores: Engine['semaphores']
}

/** The backup operations live beside the BackupPolicy controller; loaded lazily like the registry. */
const ops = () => import('../../../controllers/backup-policy/operations.js')

interface BackupCommonOptions {
  filename: string[]
  stateDir?: string
}

/** The restore-drill runner beside the BackupPolicy controller. */
const drills = () => import('../../../controllers/backup-policy/drills.js')

interface BackupVerifyOptions extends BackupCommonOptions {
  backup: string
  output?: string
  healthTimeout?: string
  leaseWait: string
}

/** Registers `proximity backup now`, `proximity backup list` and `proximity backup verify`. */
export function registerBackup(program: Command, ctx: CliContext): void {
  const backup = program
    .command('backup')
    .description('Back apps up now, list their backups and prove they restore (scheduled backups and drills come from BackupPolicy manifests).')
  backup
    .command('now')
    .summary('back apps up now (vzdump with notes naming app, revision and images)')
    .description(
      'Back up apps now with vzdump, to the storage and in the mode of the BackupPolicy that covers\n' +
        'each app (else the cluster backup storage, snapshot mode). The notes of the backup name the\n' +
        'app, the revision it runs and its images. At most Cluster.concurrency.perStorage backups run\n' +
        'on one storage at a time.\n\n' +
        'Exit codes: 0 every backup started (with --wait: finished), 1 anything else.',
    )
    .argument('<app...>', 'names of the apps to back up')
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable)', collect, [])
    .option('--wait', 'wait for each backup to finish and print its volume id')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (apps: string[], o: BackupCommonOptions & { wait?: boolean }) => {
      ctx.exitCode = await runBackupNow(ctx, apps, o)
    })
  backup
    .command('list')
    .summary("list the backups of the manifests' apps, newest first")
    .description(
      "List the backups of the manifests' apps on the backup storages in use, newest first: time,\n" +
        'size, the revision and trigger recorded in the notes, and the volume id. Apps that no\n' +
        'active BackupPolicy covers are named at the end.',
    )
    .argument('[app]', 'only this app')
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable)', collect, [])
    .option('-o, --output <format>', 'json: print the backups as JSON')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (app: string | undefined, o: BackupCommonOptions & { output?: string }) => {
      ctx.exitCode = await runBackupList(ctx, app, o)
    })
  backup
    .command('verify')
    .summary('restore drill now: restore a backup into a scratch guest, health-check it, destroy it')
    .description(
      "Run a restore drill now: restore an app's backup into a scratch guest (a new vmid from\n" +
        "Cluster.vmidRange, its network link down, never the app's addresses), start it, run the\n" +
        "app's health check and destroy the scratch guest. The app itself is not touched. The outcome\n" +
        'is recorded as the RestoreVerified condition of the App (shown by get and describe).\n' +
        'Apps are drilled one after another.\n\n' +
        'Exit codes: 0 every drill passed, 1 anything else (a failed drill, bad input).',
    )
    .argument('<app...>', 'names of the apps to drill')
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable)', collect, [])
    .option('--backup <latest|volid>', 'the backup to restore: latest, or a volid of the app (one app only)', 'latest')
    .option('--health-timeout <duration>', "how long the restored app may take to turn healthy (default: the policy's verify.healthTimeout, else the app's health timeout)")
    .option('-o, --output <format>', 'json: print the outcomes as JSON')
    .option('--lease-wait <duration>', 'wait this long for a running apply to finish', '30s')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (apps: string[], o: BackupVerifyOptions) => {
      ctx.exitCode = await runBackupVerify(ctx, apps, o)
    })
}

async function withSession(ctx: CliContext, o: BackupCommonOptions, fn: (s: Session) => Promise<number>): Promise<number> {
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const source = await pathsSource(ctx, o.filename, { stateDir, requireKey: false })
  const initial = await loadSource(ctx, source)
  if (!initial) return 1
  let session: Engine | undefined
  try {
    session = await openCliEngine(ctx, { source, initial, stateDir })
    const e = session
    return await fn({ pve: e.pve, store: e.store, set: e.current().set, revision: e.current().revision, target: e.target, semaphores: e.semaphores })
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await session?.close()
  }
}

async function runBackupNow(ctx: CliContext, apps: string[], o: BackupCommonOptions & { wait?: boolean }): Promise<number> {
  return withSession(ctx, o, async (s) => {
    const { planBackupNow, runBackupNow: run } = await ops()
    const deps = { pve: s.pve, store: s.store, set: s.set, cluster: s.target.cluster.spec, semaphores: s.semaphores, revision: s.revision }
    const guests = await s.pve.clusterGuests()
    // Every name is checked before anything starts: bad input changes nothing.
    const plans = [...new Set(apps)].map((name) => planBackupNow(deps, name, guests))
    const results = await Promise.allSettled(plans.map((p) => run(deps, p, { wait: o.wait === true })))
    let failed = 0
    results.forEach((r, i) => {
      const p = plans[i]!
      if (r.status === 'rejected') {
        failed++
        err(ctx, `error: App/${p.app}: backup failed: ${(r.reason as Error).message}`)
      } else if (o.wait) out(ctx, `App/${p.app}: backed up to ${r.value.volid ?? '(archive not found in the listing)'} (revision ${p.revision})`)
      else out(ctx, `App/${p.app}: backup started on ${p.storage} (task ${r.value.upid})`)
    })
    return failed > 0 ? 1 : 0
  })
}

const size = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}

async function runBackupList(ctx: CliContext, app: string | undefined, o: BackupCommonOptions & { output?: string }): Promise<number> {
  if (o.output !== undefined && o.output !== 'json') {
    err(ctx, `error: unknown output format "${o.output}"; backup list supports: json`)
    return 1
  }
  return withSession(ctx, o, async (s) => {
    if (app !== undefined && !s.set.apps.some((a) => a.metadata.name === app)) {
      err(ctx, `error: no App "${app}" in the manifests`)
      return 1
    }
    const { listBackups } = await ops()
    const all = await listBackups({ pve: s.pve, store: s.store, set: s.set, cluster: s.target.cluster.spec }, await s.pve.clusterGuests())
    const items = app === undefined ? all.items : all.items.filter((i) => i.kind === 'App' && i.app === app)
    const uncovered = app === undefined ? all.uncovered : all.uncovered.filter((k) => k === `App/${app}`)
    if (o.output === 'json') {
      out(ctx, renderJson({ items, uncovered }))
      return 0
    }
    if (items.length === 0) out(ctx, app ? `no backups of App ${app}` : 'no backups of the apps in the manifests')
    else out(ctx, renderTable(['APP', 'TIME', 'SIZE', 'REVISION', 'TRIGGER', 'VOLID'], items.map((i) => [i.app, i.time, size(i.size), i.revision ?? '-', i.trigger ?? '-', i.volid])))
    if (uncovered.length > 0) err(ctx, `note: not covered by any BackupPolicy: ${uncovered.join(', ')}`)
    return 0
  })
}

async function runBackupVerify(ctx: CliContext, apps: string[], o: BackupVerifyOptions): Promise<number> {
  let healthTimeoutMs: number | undefined
  let leaseWaitMs: number
  const names = [...new Set(apps)]
  try {
    if (o.output !== undefined && o.output !== 'json') throw new Error(`unknown output format "${o.output}"; backup verify supports: json`)
    const bad = o.backup === 'latest' ? undefined : checkVolid(o.backup, 'backup')
    if (bad) throw new Error(`--backup must be "latest" or a backup volid: ${bad}`)
    if (o.backup !== 'latest' && names.length > 1) throw new Error('--backup with a volid names the backup of one app; drill one app at a time')
    if (o.healthTimeout !== undefined) healthTimeoutMs = parseDurationOption(o.healthTimeout, '--health-timeout')
    leaseWaitMs = parseDurationOption(o.leaseWait, '--lease-wait')
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const source = await pathsSource(ctx, o.filename, { stateDir, requireKey: false })
  const initial = await loadSource(ctx, source)
  if (!initial) return 1
  // Every name is checked before anything starts: bad input changes nothing.
  const unknown = names.filter((n) => !initial.set.apps.some((a) => a.metadata.name === n))
  if (unknown.length > 0) {
    err(ctx, `error: no App ${unknown.map((n) => `"${n}"`).join(', ')} in the manifests`)
    return 1
  }
  let session: Engine | undefined
  try {
    session = await openCliEngine(ctx, {
      source,
      initial,
      stateDir,
      lease: { waitMs: leaseWaitMs, purpose: 'backup verify', onWait: (h: Lease) => err(ctx, `waiting up to ${o.leaseWait} for another apply to finish (owner ${h.owner}, pid ${h.pid} on host ${h.host})`) },
    })
    const { verifyAppNow, formatDuration } = await drills()
    const pass = await session.newContext({ dryRun: false })
    const items = []
    for (const name of names) {
      if (o.output !== 'json') err(ctx, `App/${name}: restoring ${o.backup === 'latest' ? 'its latest backup' : o.backup} into a scratch guest…`)
      items.push(await verifyAppNow(pass, name, o.backup, healthTimeoutMs !== undefined ? { healthTimeoutMs } : {}))
    }
    if (o.output === 'json') out(ctx, renderJson({ items }))
    else {
      for (const r of items) {
        if (r.ok) out(ctx, `App/${r.app}: verified ${r.volid} in ${formatDuration(r.durationMs)} (restored into a scratch guest and healthy; scratch guest destroyed)`)
        else err(ctx, `error: App/${r.app}: restore drill failed (${r.reason}) after ${formatDuration(r.durationMs)}${r.volid ? ` from ${r.volid}` : ''}: ${r.message}`)
      }
    }
    return items.every((r) => r.ok) ? 0 : 1
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await session?.close()
  }
}
