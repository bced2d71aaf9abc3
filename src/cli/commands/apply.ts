import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity apply`. PLACEHOLDER: replaced by the owning work item. */
export function registerApply(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
