import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity validate`. PLACEHOLDER: replaced by the owning work item. */
export function registerValidate(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
