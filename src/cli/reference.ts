import { PassThrough } from 'node:stream'
import type { Command } from 'commander'
import type { CliContext } from './context.js'
import { buildProgram } from './main.js'

/**
 * The CLI reference in Markdown: the `--help` text of `proximity` and of every command and
 * subcommand, in tree order. Generated from the same commander tree the CLI runs, so README's
 * reference cannot drift from `--help` (test/docs/readme.test.ts compares them). Pure apart
 * from building the command tree; runs no command.
 */
export function renderCliReference(): string {
  const sink = new PassThrough()
  const ctx: CliContext = { stdout: sink, stderr: sink, stdin: sink, env: {}, cwd: '/', exitCode: 0 }
  const program = buildProgram(ctx)
  const parts: string[] = []
  const walk = (cmd: Command, path: string[]): void => {
    const name = [...path, cmd.name()].join(' ')
    // A fixed width: the reference must not depend on the terminal that generated it.
    cmd.configureHelp({ helpWidth: 100 })
    parts.push(`### \`${name}\``, '', '```text', cmd.helpInformation().trimEnd(), '```', '')
    for (const sub of cmd.commands) walk(sub, [...path, cmd.name()])
  }
  walk(program, [])
  return parts.join('\n')
}
