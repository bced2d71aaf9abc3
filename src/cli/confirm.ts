/**
 * The one confirmation prompt of the CLI (`apply` of a destructive plan, `restore`): asks on a
 * terminal, refuses without one. Commands never act on an unanswered or ambiguous prompt.
 */
import { createInterface } from 'node:readline'
import { err, type CliContext } from './context.js'

export interface ConfirmOptions {
  /** The question, printed on stderr; the answer is read from stdin. */
  question: string
  /**
   * Which answers approve. `yes`: only the literal word `yes` (Terraform's habit for changes that
   * destroy something); `y-or-yes`: `y` or `yes`, any case. Anything else declines.
   */
  accept: 'yes' | 'y-or-yes'
  /** Printed (as `error: …`) when stdin is not a terminal; should name the flag that skips the prompt. */
  notATerminal: string
  /** Printed when the user declines, presses Ctrl-C or closes stdin. */
  declined: string
}

/** True when stdin is a terminal a person can answer on. */
export function canPrompt(ctx: Pick<CliContext, 'stdin'>): boolean {
  return (ctx.stdin as { isTTY?: boolean }).isTTY === true
}

/**
 * Asks `question` and resolves true only for an approving answer. Without a terminal on stdin it
 * prints `notATerminal` and resolves false at once. Ctrl-C at the prompt and end of input decline
 * (the process keeps running so the caller can clean up and exit 1). Reads one line, then stops
 * reading stdin.
 */
export async function confirm(ctx: CliContext, o: ConfirmOptions): Promise<boolean> {
  if (!canPrompt(ctx)) {
    err(ctx, `error: ${o.notATerminal}`)
    return false
  }
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr, terminal: true })
  const approved = await new Promise<boolean>((resolve) => {
    let settled = false
    const done = (v: boolean): void => {
      if (settled) return
      settled = true
      rl.close()
      resolve(v)
    }
    rl.on('SIGINT', () => {
      ctx.stderr.write('\n')
      done(false)
    })
    rl.on('close', () => done(false))
    rl.question(o.question, (answer) => done(approves(answer, o.accept)))
  })
  if (!approved) err(ctx, o.declined)
  return approved
}

/** Whether `answer` approves under `accept` (surrounding blanks ignored). */
export function approves(answer: string, accept: ConfirmOptions['accept']): boolean {
  const a = answer.trim()
  if (accept === 'yes') return a === 'yes'
  return /^(y|yes)$/i.test(a)
}
