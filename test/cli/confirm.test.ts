import { describe, expect, it } from 'vitest'
import { PassThrough } from 'node:stream'
import { approves, confirm } from '../../src/cli/confirm.js'
import type { CliContext } from '../../src/cli/context.js'

describe('approves', () => {
  const cases = [
    { name: 'yes', reason: "Terraform's habit: the literal word approves a destructive apply", answer: ' yes\n', accept: 'yes' as const, want: true },
    { name: 'y for yes-only', reason: 'a reflexive y must not destroy anything', answer: 'y', accept: 'yes' as const, want: false },
    { name: 'YES for yes-only', reason: 'only the exact word counts, as in Terraform', answer: 'YES', accept: 'yes' as const, want: false },
    { name: 'empty', reason: 'pressing Enter declines', answer: '', accept: 'yes' as const, want: false },
    { name: 'y for y-or-yes', reason: 'restore keeps its [y/N] prompt', answer: 'Y', accept: 'y-or-yes' as const, want: true },
    { name: 'no', reason: 'anything else declines', answer: 'no', accept: 'y-or-yes' as const, want: false },
  ]
  for (const c of cases) it(`${c.name}: ${c.reason}`, () => expect(approves(c.answer, c.accept)).toBe(c.want))
})

describe('confirm', () => {
  it('refuses at once without a terminal on stdin, printing the flag to use', async () => {
    const stderr = new PassThrough()
    let text = ''
    stderr.on('data', (d: Buffer) => (text += d.toString()))
    const ctx: CliContext = { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {}, cwd: '/', exitCode: 0 }
    const ok = await confirm(ctx, { question: 'go? ', accept: 'yes', notATerminal: 'not a terminal; pass --yes', declined: 'cancelled' })
    expect(ok).toBe(false)
    expect(text).toBe('error: not a terminal; pass --yes\n')
  })
})
