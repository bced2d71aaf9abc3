import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity events`. PLACEHOLDER: replaced by the owning work item. */
export function registerEvents(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
