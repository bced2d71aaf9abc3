import { describe, expect, it } from 'vitest'
import { wrapLongLines } from '../../src/cli/wrap.js'

describe('wrapLongLines: help text fits the terminal', () => {
  const cases: { name: string; reason: string; given: string; width: number; want: string }[] = [
    { name: 'short', reason: 'lines that fit are left exactly as commander laid them out', given: 'Usage: proximity plan [options]', width: 40, want: 'Usage: proximity plan [options]' },
    {
      name: 'option row',
      reason: 'an option description continues under its own column, like commander does when it can',
      given: '  --state-dir <dir>  state directory for everything proximity keeps',
      width: 50,
      want: '  --state-dir <dir>  state directory for\n                     everything proximity keeps',
    },
    {
      name: 'narrow option row',
      reason: 'when the description column would take more than half the width, continue with a small indent instead',
      given: '  --state-dir <dir>  state directory for everything proximity keeps',
      width: 40,
      want: '  --state-dir <dir>  state directory for\n    everything proximity keeps',
    },
    {
      name: 'list item',
      reason: 'a numbered item continues under its text, not under its number',
      given: '  2. the environment: PROXIMITY_ENDPOINT with PROXIMITY_TOKEN_ID',
      width: 40,
      want: '  2. the environment: PROXIMITY_ENDPOINT\n     with PROXIMITY_TOKEN_ID',
    },
    { name: 'long word', reason: 'a word longer than the width is never cut in the middle', given: 'see https://example.invalid/a/very/long/path/that/cannot/break', width: 20, want: 'see\nhttps://example.invalid/a/very/long/path/that/cannot/break' },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(wrapLongLines(c.given, c.width)).toBe(c.want)
    })
  }
})
