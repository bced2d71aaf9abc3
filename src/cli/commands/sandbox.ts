import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity sandbox`. PLACEHOLDER: replaced by the owning work item. */
export function registerSandbox(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
