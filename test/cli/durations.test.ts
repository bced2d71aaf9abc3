import { describe, expect, it } from 'vitest'
import { parseTaskLatency } from '../../src/cli/commands/sandbox.js'
import { parseDurationOption } from '../../src/cli/format.js'
import { parseDurationMs } from '../../src/model/units.js'

describe('durations read the same on the command line as in manifests', () => {
  const cases: { name: string; reason: string; given: string; want: number }[] = [
    { name: 'plain seconds', reason: 'a manifest takes a plain number as seconds; so does every flag', given: '45', want: 45_000 },
    { name: 'compound', reason: 'manifests accept 1h30m; so do flags', given: '1h30m', want: 5_400_000 },
    { name: 'milliseconds', reason: 'sub-second values keep their unit', given: '250ms', want: 250 },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(parseDurationOption(c.given, '--timeout')).toBe(c.want)
      expect(parseTaskLatency(c.given)).toBe(c.want)
      // The manifest parser agrees (a manifest's plain number is a YAML number).
      expect(parseDurationMs(/^\d+$/.test(c.given) ? Number(c.given) : c.given)).toBe(c.want)
    })
  }

  it('--task-latency per type uses the same rules, and a bad value names the flag\'s form', () => {
    expect(parseTaskLatency('vzcreate=2,default=5ms')).toEqual({ vzcreate: 2000, default: 5 })
    expect(() => parseTaskLatency('soon')).toThrow("invalid duration 'soon': use e.g. 200ms, 2s or a number of seconds")
  })
})
