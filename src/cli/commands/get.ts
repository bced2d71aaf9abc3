import type { Command } from 'commander'
import type { CliContext } from '../context.js'

/** Registers `proximity get`. PLACEHOLDER: replaced by the owning work item. */
export function registerGet(program: Command, ctx: CliContext): void {
  void program
  void ctx
}
