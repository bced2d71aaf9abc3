import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity catalog`. PLACEHOLDER: replaced by the owning work item. */
export function registerCatalog(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
