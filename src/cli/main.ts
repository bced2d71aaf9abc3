import { Command, CommanderError } from 'commander'
import type { CliContext } from './context.js'
import { wrapLongLines } from './wrap.js'
import { registerValidate } from './commands/validate.js'
import { registerSecret } from './commands/secret.js'
import { registerCatalog } from './commands/catalog.js'
import { registerSandbox } from './commands/sandbox.js'
import { registerPlan } from './commands/plan.js'
import { registerApply } from './commands/apply.js'
import { registerGet } from './commands/get.js'
import { registerDescribe } from './commands/describe.js'
import { registerEvents } from './commands/events.js'
import { registerToken } from './commands/token.js'
import { registerLogs } from './commands/logs.js'
import { registerCompletion } from './commands/completion.js'
import { registerServe } from './commands/serve.js'
import { registerRestore } from './commands/restore.js'
import { registerBackup } from './commands/backup.js'
import { registerDiagnose } from './commands/diagnose.js'
import { applyStateDirChoice } from './state-dir.js'
import { STATE_HELP } from './target-help.js'

/** Builds the `proximity` command tree bound to one CLI context. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('proximity')
    .description(
      'Declarative application delivery for Proxmox VE: describe apps, backups and the network\n' +
        'appliance in YAML, and Proximity converges the cluster to match.\n' +
        'With no Cluster manifest and no PROXIMITY_* environment, commands use the built-in sandbox.',
    )
    .version('0.1.0', '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ helpWidth: helpWidth(ctx) })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(wrapLongLines(s, helpWidth(ctx))),
      writeErr: (s) => ctx.stderr.write(s),
    })
  registerValidate(program, ctx)
  registerPlan(program, ctx)
  registerApply(program, ctx)
  registerServe(program, ctx)
  registerGet(program, ctx)
  registerDescribe(program, ctx)
  registerEvents(program, ctx)
  registerLogs(program, ctx)
  registerRestore(program, ctx)
  registerBackup(program, ctx)
  registerDiagnose(program, ctx)
  registerSandbox(program, ctx)
  registerSecret(program, ctx)
  registerCatalog(program, ctx)
  registerToken(program, ctx)
  registerCompletion(program, ctx)
  for (const cmd of program.commands) inheritSettings(cmd, ctx)
  // One place decides every command's state dir (and says so once), before the action runs.
  program.hook('preAction', async (_program, action) => applyStateDirChoice(action, ctx))
  return program
}

/**
 * Width `--help` wraps to: the terminal's columns when stdout is a TTY, else 80 (pipes, files
 * and CI logs get the same text whatever launched them).
 */
export function helpWidth(ctx: Pick<CliContext, 'stdout'>): number {
  const columns = (ctx.stdout as { columns?: number }).columns
  return ctx.stdout.isTTY === true && typeof columns === 'number' && columns > 0 ? columns : 80
}

function inheritSettings(cmd: Command, ctx: CliContext): void {
  if (cmd.options.some((o) => o.attributeName() === 'stateDir')) cmd.addHelpText('after', STATE_HELP)
  cmd.configureHelp({ helpWidth: helpWidth(ctx) })
  cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.stdout.write(wrapLongLines(s, helpWidth(ctx))), writeErr: (s) => ctx.stderr.write(s) })
  cmd.showSuggestionAfterError(true)
  for (const sub of cmd.commands) inheritSettings(sub, ctx)
}

/**
 * Runs the CLI and resolves with the process exit code. Never throws for user errors and never
 * prints a stack trace; only `bin/proximity.js` touches `process.exitCode`.
 */
export async function main(argv: string[], partial: Partial<CliContext> = {}): Promise<number> {
  const ctx: CliContext = {
    stdout: partial.stdout ?? process.stdout,
    stderr: partial.stderr ?? process.stderr,
    stdin: partial.stdin ?? process.stdin,
    env: partial.env ?? process.env,
    cwd: partial.cwd ?? process.cwd(),
    exitCode: 0,
    interrupt: partial.interrupt,
    ...(partial.signal ? { signal: partial.signal } : {}),
    ...(partial.clock ? { clock: partial.clock } : {}),
    ...(partial.onProgress ? { onProgress: partial.onProgress } : {}),
  }
  const program = buildProgram(ctx)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return ctx.exitCode
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? 0 : 1
    }
    ctx.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`)
    return 1
  }
}
