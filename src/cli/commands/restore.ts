import { createHash } from 'node:crypto'
import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target-help.js'
import { confirm } from '../confirm.js'
import { parseDurationOption } from '../format.js'
import { createProgress } from '../progress.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { Engine } from '../../engine/types.js'
import type { ManifestSource } from '../../engine/sources/types.js'
import type { Lease } from '../../store/types.js'
import type { RestoreManifest, RestoreSpec } from '../../model/types.js'
import { stateDirOption } from '../state-dir.js'

interface RestoreOptions {
  filename: string[]
  backup: string
  yes?: boolean
  timeout: string
  leaseWait: string
  stateDir?: string
}

const VOLID = /^[a-z][a-z0-9\-_.]*[a-z0-9]:backup\/\S+$/i

/** Registers `proximity restore`. */
export function registerRestore(program: Command, ctx: CliContext): void {
  program
    .command('restore')
    .description(
      'Restore an app in place from a backup: a safety backup of the current state first, then the\n' +
        'guest is stopped, restored over itself (same vmid, marker and features), started and\n' +
        'health-checked. A backup whose notes do not name the app is refused. Asks for confirmation\n' +
        'on a terminal; otherwise --yes is required.\n\n' +
        'Exit codes: 0 restored and healthy, 1 anything else.',
    )
    .argument('<app>', 'the App to restore (it must be in the manifests)')
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--backup <latest|volid>', 'the backup to restore: latest, or a volid such as local:backup/vzdump-lxc-101-….tar.zst', 'latest')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--timeout <duration>', 'give up when the app is not restored and healthy after this long', '15m')
    .option('--lease-wait <duration>', 'wait this long for a running apply to finish', '30s')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (app: string, o: RestoreOptions) => {
      ctx.exitCode = await runRestore(ctx, app, o)
    })
}

async function runRestore(ctx: CliContext, appName: string, o: RestoreOptions): Promise<number> {
  let timeoutMs: number
  let leaseWaitMs: number
  try {
    if (o.backup !== 'latest' && !VOLID.test(o.backup)) throw new Error(`--backup must be "latest" or a backup volid such as local:backup/vzdump-lxc-101-2026_01_01-00_00_00.tar.zst, got "${o.backup}"`)
    timeoutMs = parseDurationOption(o.timeout, '--timeout')
    leaseWaitMs = parseDurationOption(o.leaseWait, '--lease-wait')
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const paths = await pathsSource(ctx, o.filename, { stateDir, requireKey: true })
  const loaded = await loadSource(ctx, paths)
  if (!loaded) return 1
  const set = loaded.set
  if (!set.apps.some((a) => a.metadata.name === appName)) {
    err(ctx, `error: App ${appName} is not in the manifests given with -f; name an App that is`)
    return 1
  }
  if (
    !o.yes &&
    !(await confirm(ctx, {
      question: `Restore App ${appName} in place from ${o.backup === 'latest' ? 'its latest backup' : o.backup}? Data written since that backup is replaced (a safety backup is taken first). [y/N] `,
      accept: 'y-or-yes',
      notATerminal: 'refusing to restore without confirmation: stdin is not a terminal; pass --yes',
      declined: 'restore cancelled; nothing was changed',
    }))
  )
    return 1

  const restore = oneShotRestore(appName, { app: appName, backup: o.backup, mode: 'in-place' }, new Date())
  // The manifests as given, plus this run's one-shot Restore.
  const withRestore = <T extends { restores: RestoreManifest[] }>(s: T): T => ({ ...s, restores: [...s.restores, restore] })
  const source: ManifestSource = {
    kind: paths.kind,
    inputs: paths.inputs,
    load: async () => {
      const r = await paths.load()
      return r.ok ? { ...r, set: withRestore(r.set) } : r
    },
  }
  const key = `Restore/${restore.metadata.name}`
  const progress = createProgress(ctx.stderr)
  let session: Engine | undefined
  try {
    session = await openCliEngine(ctx, {
      source,
      initial: { ...loaded, set: withRestore(set) },
      stateDir,
      progress: (k, p, d) => progress.update(k, p, d),
      lease: { waitMs: leaseWaitMs, onWait: (h: Lease) => err(ctx, `waiting up to ${o.leaseWait} for another apply to finish (owner ${h.owner}, pid ${h.pid} on host ${h.host})`) },
    })
    const outcome = (await session.apply({ keys: [key] }, { workers: 1, deadlineMs: timeoutMs, maxAttempts: 4 })).outcomes.get(key)
    progress.finish()
    if (outcome?.result === 'Ready') {
      out(ctx, outcome.message)
      return 0
    }
    err(ctx, `error: ${key}: ${outcome?.reason ?? 'NotRun'}: ${outcome?.message ?? 'the restore did not run'}`)
    return 1
  } catch (e) {
    progress.finish()
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await session?.close()
  }
}

/**
 * The Restore manifest behind one `proximity restore` run: a name and specHash of its own (the
 * time of the request is part of both), so every run restores once and is kept in status.
 */
export function oneShotRestore(app: string, spec: RestoreSpec, at: Date): RestoreManifest {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()
  const name = `${app}-cli-${stamp}`.slice(0, 63)
  const specHash = createHash('sha256').update(JSON.stringify({ spec, at: at.toISOString() })).digest('hex')
  return { apiVersion: 'proximity/v1alpha1', kind: 'Restore', metadata: { name }, spec, source: { file: '(proximity restore)', line: 1, column: 1 }, specHash }
}
