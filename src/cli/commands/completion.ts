import type { Command } from 'commander'
import { err, type CliContext } from '../context.js'
import { renderCompletion, SHELLS, type Shell } from '../completion.js'

/** Registers `proximity completion bash|zsh|fish`. */
export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description(
      'Print a shell completion script (commands, subcommands, flags and resource words).\n\n' +
        '  bash: source <(proximity completion bash)       (add the line to ~/.bashrc)\n' +
        '  zsh:  source <(proximity completion zsh)        (add the line to ~/.zshrc, after compinit)\n' +
        '  fish: proximity completion fish > ~/.config/fish/completions/proximity.fish',
    )
    .summary('print a shell completion script for bash, zsh or fish')
    .argument('<shell>', SHELLS.join(' | '))
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        err(ctx, `error: unknown shell "${shell}"; use one of: ${SHELLS.join(', ')}`)
        ctx.exitCode = 1
        return
      }
      ctx.stdout.write(renderCompletion(program, shell as Shell))
    })
}
