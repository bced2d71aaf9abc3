import { Command, CommanderError } from 'commander'
import type { CliContext } from './context.js'
import { registerValidate } from './commands/validate.js'
import { registerSecret } from './commands/secret.js'
import { registerCatalog } from './commands/catalog.js'
import { registerSandbox } from './commands/sandbox.js'
import { registerPlan } from './commands/plan.js'
import { registerApply } from './commands/apply.js'
import { registerGet } from './commands/get.js'
import { registerDescribe } from './commands/describe.js'
import { registerEvents } from './commands/events.js'
import { registerDiagnose } from './commands/diagnose.js'

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
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
  registerValidate(program, ctx)
  registerPlan(program, ctx)
  registerApply(program, ctx)
  registerGet(program, ctx)
  registerDescribe(program, ctx)
  registerEvents(program, ctx)
  registerDiagnose(program, ctx)
  registerSandbox(program, ctx)
  registerSecret(program, ctx)
  registerCatalog(program, ctx)
  for (const cmd of program.commands) inheritSettings(cmd, ctx)
  return program
}

function inheritSettings(cmd: Command, ctx: CliContext): void {
  cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
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
