import type { Command } from 'commander'
import { collect, err, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target-help.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { Engine } from '../../engine/types.js'
import type { ManifestSource, SourceLoaded } from '../../engine/sources/types.js'
import { appProjectDir, findAppGuest } from '../app-guest.js'
import type { ManifestSet } from '../../model/types.js'
import { stateDirOption } from '../state-dir.js'

/** Options of `proximity logs`. */
interface LogsOptions {
  tail?: string
  follow?: boolean
  filename: string[]
  stateDir?: string
}

/** Registers `proximity logs APP [SERVICE]`. */
export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .summary('show the container logs of an App')
    .description(
      "Show the container logs of an App (docker compose logs inside its guest), like kubectl logs.\n" +
        'The guest is found on the live cluster by its ownership marker; the logs are read over SSH\n' +
        'with a fixed node command (pct exec … docker compose logs), never shell text.\n\n' +
        'Exit codes: 0 success (also when --follow is stopped with Ctrl-C), 1 failure.',
    )
    .argument('<app>', 'App name (metadata.name)')
    .argument('[service]', "only this compose service of the app")
    .option('--tail <n>', 'only the last N lines of each container (default: all)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--filename <path>', 'manifest file or folder holding the Cluster manifest (repeatable); without it the environment or the sandbox is used', collect, [])
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (app: string, service: string | undefined, o: LogsOptions) => {
      ctx.exitCode = await runLogs(ctx, app, service, o)
    })
}

/** Parses `--tail`: a whole number (kubectl's `-1` means every line). */
export function parseTail(value: string | undefined): number | undefined {
  if (value === undefined || value === '-1' || value === 'all') return undefined
  if (!/^\d+$/.test(value.trim())) throw new Error(`--tail must be a whole number of lines, got "${value}"`)
  return Number(value.trim())
}

const emptySet = (cwd: string): ManifestSet => ({ apps: [], appliances: [], backupPolicies: [], restores: [], roots: [cwd] })

async function runLogs(ctx: CliContext, app: string, service: string | undefined, o: LogsOptions): Promise<number> {
  let tail: number | undefined
  try {
    tail = parseTail(o.tail)
    const { composeLogsArgv } = await import('../../providers/ssh/commands.js')
    composeLogsArgv(appProjectDir(app), { service, tail }) // validates the words before anything is opened
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  // Without -f there is no manifest to read: the target comes from the environment or the sandbox.
  const source: ManifestSource =
    o.filename.length > 0
      ? await pathsSource(ctx, o.filename, { stateDir, requireKey: false })
      : { kind: 'paths', inputs: [], load: async () => ({ ok: true, set: emptySet(ctx.cwd), revision: 'none', warnings: [] }) }
  const initial: SourceLoaded | undefined = await loadSource(ctx, source)
  if (!initial) return 1
  let session: Engine | undefined
  let pool: { closeAll(): Promise<void> } | undefined
  try {
    session = await openCliEngine(ctx, { source, initial, stateDir, dryRun: true })
    const ssh = session.target.ssh
    if (!ssh) {
      err(ctx, `error: logs need SSH access to the node: set spec.ssh in the Cluster manifest or PROXIMITY_SSH_HOST and PROXIMITY_SSH_KEY_FILE`)
      return 1
    }
    const guest = await findAppGuest(session.pve, session.store, session.target.cluster.spec.owner, app)
    if (!guest) {
      err(ctx, `error: App ${app} has no guest on ${session.target.cluster.origin} (not applied yet, deleted, or owned by another installation); run proximity apply first`)
      return 1
    }
    if (guest.status !== 'running') {
      err(ctx, `error: App ${app}: guest ${guest.vmid} on ${guest.node} is ${guest.status}; logs need a running guest (spec.state: running, then proximity apply)`)
      return 1
    }
    const [{ createNodeShellPool }, { composeLogsArgv }] = await Promise.all([import('../../providers/ssh/client.js'), import('../../providers/ssh/commands.js')])
    const shells = createNodeShellPool({ host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey, hostKey: ssh.hostKey })
    pool = shells
    const shell = shells.forNode(guest.node)
    const argv = composeLogsArgv(appProjectDir(app), { service, tail, follow: o.follow === true })
    if (!o.follow) {
      const r = await shell.pctExec(guest.vmid, argv, { timeoutMs: 60_000 })
      ctx.stdout.write(r.stdout)
      return failed(ctx, app, r.code, r.stderr)
    }
    // --follow: stream until the remote ends or Ctrl-C closes the channel.
    const abort = new AbortController()
    const onSigint = (): void => abort.abort()
    if (ctx.interrupt) ctx.interrupt.addEventListener('abort', onSigint, { once: true })
    else process.once('SIGINT', onSigint)
    try {
      if (ctx.interrupt?.aborted) return 0
      const r = await shell.pctExecStream!(guest.vmid, argv, { onStdout: (c) => ctx.stdout.write(c), signal: abort.signal })
      if (r.aborted) return 0
      return failed(ctx, app, r.code, r.stderr)
    } finally {
      ctx.interrupt?.removeEventListener('abort', onSigint)
      process.off('SIGINT', onSigint)
    }
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await pool?.closeAll()
    await session?.close()
  }
}

/** Exit status of a finished `docker compose logs`: its error text on stderr, exit 1. */
function failed(ctx: CliContext, app: string, code: number, stderr: string): number {
  if (code === 0) return 0
  const text = stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${code}`
  err(ctx, `error: docker compose logs of App ${app} failed: ${text}`)
  return 1
}
