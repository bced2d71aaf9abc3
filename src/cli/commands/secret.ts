import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity secret`. PLACEHOLDER: replaced by the owning work item. */
export function registerSecret(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
