import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity describe`. PLACEHOLDER: replaced by the owning work item. */
export function registerDescribe(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
