import type { Command } from 'commander'
import { dirname, relative, resolve } from 'node:path'
import { collect, err, type CliContext } from '../context.js'
import { TARGET_HELP } from '../target-help.js'
import { parseDurationOption } from '../format.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { Lease } from '../../store/types.js'
import type { OpenedEngine } from '../../engine/open.js'
import type { RunningServer } from '../../api/server.js'
import type { EngineSource } from '../../api/engine-source.js'
import { createEngineMetrics } from '../../runtime/metrics.js'
import { formatError } from '../../manifest/format.js'
import { gitFlagsFromCluster, openGitSource, unreadableGitFiles } from '../gitops.js'
import { displayGitUrl as displayUrl } from '../../model/git-url.js'
import type { GitOps } from '../../api/gitops.js'
import { stateDirOption } from '../state-dir.js'

interface ServeOptions {
  filename: string[]
  resync: string
  prune?: boolean
  listen: string
  grace: string
  parallelism: string
  leaseWait: string
  stateDir?: string
  logFormat?: string
  tlsCert?: string
  tlsKey?: string
  metricsPublic?: boolean
  viewerToken?: boolean
  git?: string
  ref?: string
  path?: string
  interval: string
  gitTokenFile?: string
  gitSshKey?: string
  gitKnownHosts?: string
  webhookSecretFile?: string
  notifyWebhook?: string
  notifySecretFile?: string
  commitStatusApi?: string
  commitStatusRepo?: string
  commitStatusTokenFile?: string
}

/** Registers `proximity serve`. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description(
      'Run the reconcile loop: watch the manifests, apply every valid change, and put back drift on\n' +
        'every resync (a jittered timer). An invalid change is never applied: the last good set keeps\n' +
        'being reconciled and the located errors are logged and shown by `proximity get sources`.\n' +
        'Holds the lease for its whole life. SIGTERM or SIGINT stops it gracefully (no new change is\n' +
        'started, running Proxmox tasks finish within --grace, state is flushed, the lease released);\n' +
        'a second SIGINT exits at once. Logs are JSON lines, or readable lines on a terminal.\n\n' +
        'GitOps: --git URL follows a repository (the -f files are what lives outside it). Without\n' +
        '--git, a Cluster manifest among the -f files that has spec.git is followed the same way;\n' +
        'each flag given (--ref, --path, --interval, --git-token-file, --webhook-secret-file, …)\n' +
        'overrides its field of spec.git. With --git, spec.git is ignored.\n\n' +
        'Exit codes: 0 stopped by a signal, 1 could not start, 130 a second interrupt.',
    )
    .option('-f, --filename <path>', 'manifest file or folder to watch (repeatable; folders are watched recursively); with --git, files outside the repository (e.g. the Cluster manifest)', collect, [])
    .option('--git <url>', 'follow a git repository (https, ssh, file:// or a local path) instead of watching folders')
    .option('--ref <ref>', 'with --git: the branch, tag or commit sha to follow (default: the remote default branch)')
    .option('--path <subdir>', 'with --git: the folder of the repository holding the manifests')
    .option('--interval <duration>', 'with --git: poll this often (always on, also with webhooks)', '1m')
    .option('--git-token-file <file>', 'with --git: an https token (or PROXIMITY_GIT_TOKEN); never in process arguments or logs')
    .option('--git-ssh-key <file>', 'with --git over ssh: the private key')
    .option('--git-known-hosts <file>', "with --git over ssh: a known_hosts file pinning the server's host key")
    .option('--webhook-secret-file <file>', 'enable POST /hooks/{github,gitea,gitlab,generic} with this shared secret (or PROXIMITY_WEBHOOK_SECRET)')
    .option('--notify-webhook <url>', 'send each revision outcome as signed JSON to this URL')
    .option('--notify-secret-file <file>', 'the HMAC secret that signs --notify-webhook bodies (X-Signature: sha256=…)')
    .option('--commit-status-api <url>', 'post commit statuses to this Gitea/GitHub API base (e.g. https://api.github.com)')
    .option('--commit-status-repo <owner/name>', 'the repository of --commit-status-api')
    .option('--commit-status-token-file <file>', 'the API token of --commit-status-api')
    .option('--resync <duration>', 'look at every object again this often (drift correction)', '5m')
    .option('--prune', 'delete managed guests whose manifest is gone (honours deletionPolicy)')
    .option('--listen <addr>', 'HOST:PORT of the status API, dashboard, /metrics, /healthz and /readyz (port 0 picks one)', '127.0.0.1:8080')
    .option('--tls-cert <file>', 'serve the API over HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--metrics-public', 'serve /metrics without a token (for a scraper on a trusted network)')
    .option('--viewer-token', 'issue a 24h viewer token at start and print the dashboard URL carrying it (npm start uses this)')
    .option('--grace <duration>', 'on shutdown, how long running work may take to finish', '30s')
    .option('--parallelism <n>', 'objects reconciled at once (per-node limits still apply)', '8')
    .option('--lease-wait <duration>', 'wait this long for another run holding the lease', '30s')
    .option('--log-format <format>', 'json or text (default: text on a terminal, json otherwise)')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (o: ServeOptions, cmd: Command) => {
      ctx.exitCode = await runServe(ctx, o, cmd.getOptionValueSource('interval') === 'cli')
    })
}

async function runServe(ctx: CliContext, o: ServeOptions, intervalGiven: boolean): Promise<number> {
  let resyncMs: number
  let graceMs: number
  let leaseWaitMs: number
  let listen: { host: string; port: number }
  let intervalMs = 60_000
  const workers = Number(o.parallelism)
  const { parseListen } = await import('../../api/health.js')
  try {
    resyncMs = parseDurationOption(o.resync, '--resync')
    if (resyncMs < 1000) throw new Error(`--resync must be at least 1s, got "${o.resync}"`)
    graceMs = parseDurationOption(o.grace, '--grace')
    leaseWaitMs = parseDurationOption(o.leaseWait, '--lease-wait')
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new Error(`--parallelism must be a whole number from 1 to 256, got "${o.parallelism}"`)
    if (o.logFormat !== undefined && o.logFormat !== 'json' && o.logFormat !== 'text') throw new Error(`--log-format must be json or text, got "${o.logFormat}"`)
    listen = parseListen(o.listen)
    if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together')
    if (!o.git && o.filename.length === 0) throw new Error("give the manifests with -f PATH (repeatable) or --git URL")
    intervalMs = parseDurationOption(o.interval, '--interval')
    if (intervalMs < 1000) throw new Error(`--interval must be at least 1s, got "${o.interval}"`)
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  // Without --git, the watched -f files are the source, unless their Cluster manifest has
  // spec.git: then serve follows that repository (each flag given overrides its field) and the
  // -f files are what lives outside it.
  let flags: ServeOptions = o
  let source = o.git ? undefined : await pathsSource(ctx, o.filename, { stateDir, requireKey: true, watch: true })
  let initial = source ? await loadSource(ctx, source) : undefined
  if (source && !initial) return 1
  const fromManifest = initial?.set.cluster?.spec.git
  if (fromManifest) {
    const cluster = initial!.set.cluster!
    const dir = dirname(resolve(ctx.cwd, cluster.source.file))
    const unreadable = await unreadableGitFiles(fromManifest, dir, o)
    if (unreadable.length > 0) {
      for (const u of unreadable) err(ctx, `${relative(ctx.cwd, resolve(ctx.cwd, cluster.source.file))}:${cluster.source.line}:${cluster.source.column}: Cluster/${cluster.metadata.name}: ${u}`)
      err(ctx, `error: the files named in spec.git must exist on this machine; nothing was started`)
      return 1
    }
    flags = { ...o, ...gitFlagsFromCluster(fromManifest, dir, o) }
    if (!intervalGiven) intervalMs = fromManifest.interval
  }
  try {
    if (!flags.git && (o.ref || o.path || o.gitTokenFile || o.gitSshKey || o.webhookSecretFile)) {
      throw new Error('--ref, --path, --git-token-file, --git-ssh-key and --webhook-secret-file need --git or a Cluster manifest with spec.git')
    }
    if (flags.commitStatusApi && (!flags.commitStatusRepo || !flags.commitStatusTokenFile)) throw new Error('--commit-status-api needs --commit-status-repo and --commit-status-token-file (or spec.git.notify.commitStatus)')
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  }
  const git = flags.git ? await openGitSource(ctx, flags, stateDir, intervalMs) : undefined
  if (git === null) return 1
  if (git) {
    source = git
    initial = await loadSource(ctx, git)
    if (!initial) return 1
    if (o.git && initial.set.cluster?.spec.git) err(ctx, `warning: --git ${displayUrl(o.git)} is followed; the Cluster manifest's spec.git is ignored (without --git, flags override its fields one by one)`)
  }
  if (!source || !initial) return 1
  const { createDaemonLog } = await import('../daemon-log.js')
  const log = createDaemonLog(ctx.stderr, o.logFormat ? { tty: o.logFormat === 'text' } : {})
  const stop = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    if (signals > 1 && sig === 'SIGINT') {
      log.pino.warn({ signal: sig }, 'second interrupt: exiting at once')
      log.flush()
      process.exit(130)
    }
    log.pino.info({ signal: sig, graceMs }, 'shutting down: no new change is started, running tasks may finish')
    stop.abort()
  }
  const onAbort = (): void => onSignal('SIGTERM')
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  ctx.signal?.addEventListener('abort', onAbort, { once: true })
  let engine: OpenedEngine | undefined
  let health: RunningServer | undefined
  let apiSource: EngineSource | undefined
  let stopGitops: (() => void) | undefined
  const metrics = createEngineMetrics()
  try {
    engine = await openCliEngine(ctx, {
      source,
      initial,
      stateDir,
      logger: log.runtime,
      clock: ctx.clock,
      progress: (key, phase, detail) => {
        ctx.onProgress?.(key, phase, detail)
        log.pino.debug({ key, phase, detail }, 'progress')
      },
      onPveRequest: (r) => {
        metrics.pveRequest(r.method, r.pathTemplate, r.status, r.durationMs / 1000)
        apiSource?.pveAnswered(r.status >= 200 && r.status < 500, r.status)
      },
      lease: {
        waitMs: leaseWaitMs,
        purpose: 'serve',
        onWait: (h: Lease) => log.pino.warn({ holder: h.owner, pid: h.pid, host: h.host }, `waiting up to ${o.leaseWait} for the lease`),
      },
    })
    const e = engine
    e.on((ev) => {
      if (ev.type === 'event') {
        const fields = { key: ev.event.key, reason: ev.event.reason }
        if (ev.event.type === 'Warning') log.pino.warn(fields, ev.event.message)
        else log.pino.info(fields, ev.event.message)
      } else if (ev.type === 'revision') log.pino.info({ revision: ev.revision, previous: ev.previous }, 'manifests changed')
      else if (ev.type === 'source' && ev.state.invalid) {
        for (const x of ev.state.invalid.errors) log.pino.error({ file: x.file, line: x.line, column: x.column }, `manifest rejected: ${formatError(x)}`)
      }
    })
    if (stop.signal.aborted) return 0
    const [{ createEngineSource }, { createChangeFeed }, { createApiApp }, { startApiServer }, { createTokenAuthority, resolveConfigDir }] = await Promise.all([
      import('../../api/engine-source.js'),
      import('../../api/status-source.js'),
      import('../../api/app.js'),
      import('../../api/server.js'),
      import('../../api/tokens.js'),
    ])
    let gitops: GitOps | undefined
    if (git) {
      const { setupGitOps } = await import('../../api/gitops.js')
      gitops = await setupGitOps({ ...(ctx.env.PROXIMITY_WEBHOOK_SECRET ? { envSecret: ctx.env.PROXIMITY_WEBHOOK_SECRET } : {}), flags, engine: e, git, stateDir, metrics, log: { info: (f, m) => log.pino.info(f, m), warn: (f, m) => log.pino.warn(f, m) } })
      stopGitops = () => gitops?.close()
    }
    apiSource = createEngineSource({ engine: e, metrics, ...(gitops ? { deliveries: gitops.deliveries, sourceInfo: gitops.sourceInfo } : {}) })
    const feed = createChangeFeed(apiSource)
    const app = createApiApp({
      source: apiSource,
      feed,
      tokens: createTokenAuthority({ configDir: resolveConfigDir(ctx.env) }),
      metrics: {
        contentType: metrics.contentType,
        text: async () => {
          metrics.queueTotals('reconcile', e.metrics())
          return metrics.text()
        },
      },
      metricsPublic: o.metricsPublic === true,
      ...(gitops?.webhooks ? { webhooks: gitops.webhooks } : {}),
      secureCookies: o.tlsCert !== undefined,
      log: { warn: (m) => log.pino.warn(m), error: (m, err) => log.pino.error({ err }, m) },
    })
    health = await startApiServer({ app, listen, ...(o.tlsCert && o.tlsKey ? { tls: { certFile: o.tlsCert, keyFile: o.tlsKey } } : {}), warn: (m) => log.pino.warn(m) })
    if (o.viewerToken) {
      const issued = await createTokenAuthority({ configDir: resolveConfigDir(ctx.env) }).issue({ role: 'viewer', ttlMs: 24 * 3600_000, name: 'serve --viewer-token' })
      // Printed for the person at the terminal, never logged: the log may be shipped elsewhere.
      ctx.stderr.write(
        `\n  Dashboard: ${health.url}/#token=${issued.token}\n` +
          `  API:       ${health.url}/api/v1/apps  (header Authorization: Bearer <the token above>)\n` +
          `  Token:     ${issued.record.id}, expires ${issued.record.expiresAt} (proximity token revoke ${issued.record.id})\n` +
          `  Stop:      Ctrl-C\n\n`,
      )
    }
    const manifests = source.inputs.map((p) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : relative(ctx.cwd, p) || '.')).join(', ')
    const target = `${e.target.cluster.origin} ${e.target.pve.endpoint}`
    log.pino.info(
      { target, manifests, stateDir, listen: health.url, resync: o.resync, prune: o.prune === true, revision: e.current().revision },
      `serving ${target}; manifests ${manifests} (${git ? 'git' : 'watched'}); state ${stateDir}; listening on ${health.url}`,
    )
    await e.run(stop.signal, { resyncMs, prune: o.prune === true, graceMs, workers })
    const revision = e.current().revision
    await health.close()
    health = undefined
    apiSource.close()
    stopGitops?.()
    await e.close()
    engine = undefined
    log.pino.info({ revision }, 'stopped: state flushed, lease released')
    return 0
  } catch (x) {
    log.pino.error(`cannot serve: ${(x as Error).message}`)
    return 1
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    ctx.signal?.removeEventListener('abort', onAbort)
    await health?.close()
    await engine?.close()
    log.flush()
  }
}
