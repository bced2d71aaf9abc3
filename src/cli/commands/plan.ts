import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity plan`. PLACEHOLDER: replaced by the owning work item. */
export function registerPlan(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
