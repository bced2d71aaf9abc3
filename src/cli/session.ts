/**
 * What the CLI commands share around the engine: the state dir, loading `-f` inputs with
 * errors printed as `validate` prints them, the CLI's runtime logger, and opening the engine
 * (src/engine/open.ts) with the command's streams and environment. No reconcile logic here.
 */
import { appendFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { CliContext } from './context.js'
import type { RuntimeLogger } from '../runtime/logger.js'
import { redactSecrets } from '../store/redact.js'
import { resolveKeyFile } from '../engine/key-file.js'
import { SANDBOX_FOLDER, stateHome } from './state-dir.js'
import type { ManifestSource, SourceLoad, SourceLoaded } from '../engine/sources/types.js'
import type { OpenEngineOptions, OpenedEngine } from '../engine/open.js'

/**
 * `--state-dir` resolved against the working directory. `main` sets the option to the folder
 * chosen for the command's target before its action runs (src/cli/state-dir.ts); without a
 * value (a command called outside `main`) `PROXIMITY_STATE_DIR`, else the sandbox's folder.
 */
export function resolveStateDir(ctx: Pick<CliContext, 'cwd' | 'env'>, value: string | undefined): string {
  if (value !== undefined) return resolve(ctx.cwd, value)
  const fromEnv = ctx.env.PROXIMITY_STATE_DIR
  return fromEnv && fromEnv.trim() !== '' ? resolve(ctx.cwd, fromEnv) : join(stateHome(ctx.env), SANDBOX_FOLDER)
}

/** Prints a rejected load as `validate` does (every located error, then a count) on stderr. */
async function printLoad(ctx: CliContext, res: SourceLoad, what = 'nothing was planned or applied'): Promise<void> {
  const { formatError } = await import('../manifest/index.js')
  for (const w of res.warnings) ctx.stderr.write(`warning: ${typeof w === 'string' ? w : formatError(w)}\n`)
  if (res.ok) return
  for (const e of res.errors) ctx.stderr.write(`${formatError(e)}\n`)
  const files = new Set(res.errors.map((e) => e.file)).size
  ctx.stderr.write(`${res.errors.length} error${res.errors.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}; ${what}\n`)
}

/** The static `-f` source of a command (relative paths against the command's cwd). */
export async function pathsSource(ctx: CliContext, paths: string[], opts: { stateDir: string; requireKey: boolean; watch?: boolean }): Promise<ManifestSource> {
  const keyInfo = resolveKeyFile(ctx.env, ctx.cwd, opts.stateDir)
  if (keyInfo.notice) ctx.stderr.write(`${keyInfo.notice}\n`) // the key moved out of the state dir
  const keyFile = keyInfo.path
  if (opts.watch) {
    const { createWatchedSource } = await import('../engine/sources/watch.js')
    return createWatchedSource({ paths, cwd: ctx.cwd, keyFile, requireKey: opts.requireKey })
  }
  const { createPathsSource } = await import('../engine/sources/paths.js')
  return createPathsSource({ paths, cwd: ctx.cwd, keyFile, requireKey: opts.requireKey })
}

/**
 * Loads a source once (all-or-nothing). On errors prints every located error to stderr and
 * resolves undefined (the caller exits 1); warnings go to stderr as well.
 */
export async function loadSource(ctx: CliContext, source: ManifestSource): Promise<SourceLoaded | undefined> {
  const res = await source.load()
  await printLoad(ctx, res)
  if (!res.ok) return undefined
  // An unset {env: NAME} secret is a located error here, before the engine opens anything.
  const { unsetEnvSecrets } = await import('./unset-env-secrets.js')
  const unset = await unsetEnvSecrets(res.set, ctx.env)
  if (unset.length > 0) {
    const { formatError } = await import('../manifest/index.js')
    for (const e of unset) ctx.stderr.write(`${formatError(e)}\n`)
    ctx.stderr.write(`${unset.length} secret${unset.length === 1 ? '' : 's'} not available; nothing was planned or applied\n`)
    return undefined
  }
  return res
}

/** Opens the engine for a command: its streams for notices, its environment, the CLI logger. */
export async function openCliEngine(
  ctx: CliContext,
  opts: Omit<OpenEngineOptions, 'env' | 'cwd' | 'announce'> & { logger?: RuntimeLogger },
): Promise<OpenedEngine> {
  const { openEngine } = await import('../engine/open.js')
  return openEngine({ env: ctx.env, cwd: ctx.cwd, announce: (l) => ctx.stderr.write(`${l}\n`), logger: opts.logger ?? cliLogger(ctx, opts.stateDir), ...opts })
}

/**
 * The runtime logger of the CLI: one short line on stderr (secret-looking values redacted);
 * stacks of unexpected errors go to `<stateDir>/errors.log`, never to the terminal.
 */
export function cliLogger(ctx: CliContext, stateDir: string): RuntimeLogger {
  const line = (prefix: string, msg: string): void => {
    ctx.stderr.write(`${prefix}${redactSecrets(msg.split('\n')[0])}\n`)
  }
  return {
    error(message, err) {
      line('error: ', message)
      if (err instanceof Error && err.stack) {
        const text = `${new Date().toISOString()} ${redactSecrets(`${message}\n${err.stack}`)}\n`
        void appendFile(join(stateDir, 'errors.log'), text, { mode: 0o600 }).catch(() => undefined)
      }
    },
    warn: (m) => line('warning: ', m),
    info: () => {},
  }
}

export { localRevision } from '../engine/revision.js'
