/**
 * The invalid-manifest corpus: every file in test/fixtures/invalid is a realistic mistake or
 * attack. Each is run through the real CLI entry (`proximity validate -f FILE`, in-process) and
 * must exit 1 with an error at the expected file, line and column carrying the expected text.
 * Expectations live in the fixture header (`# expect: LINE:COL text`, `# reason: why`) or, for
 * files that cannot carry comments, in a `FILE.expect` sidecar (`LINE:COL text` / `reason: why`).
 * When the error belongs in another file (a compose file read through composeFile, kept under
 * compose-support/), the expectation names it: `# expect: compose-support/x.yml:LINE:COL text`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './run-cli.js'

const DIR = 'test/fixtures/invalid'
const ROOT = join(import.meta.dirname, '..', '..')

interface Case {
  name: string
  reason: string
  /** The file the error is located in, relative to the corpus folder (the fixture itself by default). */
  file: string
  line: number
  column: number
  text: string
}

function readCase(file: string): Case {
  const sidecar = join(ROOT, DIR, `${file}.expect`)
  const lines = existsSync(sidecar)
    ? readFileSync(sidecar, 'utf8').split('\n')
    : readFileSync(join(ROOT, DIR, file), 'utf8').split('\n').slice(0, 2).map((l) => l.replace(/^# (expect|reason): /, (_m, k: string) => (k === 'reason' ? 'reason: ' : '')))
  const m = /^(?:([^\s:]+):)?(\d+):(\d+) (.+)$/.exec(lines[0].trim())
  if (!m) throw new Error(`${file}: no expectation header`)
  const reason = (lines[1] ?? '').replace(/^reason: /, '').trim()
  return { name: file, reason, file: m[1] ?? file, line: Number(m[2]), column: Number(m[3]), text: m[4] }
}

const cases = readdirSync(join(ROOT, DIR))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map(readCase)

describe('invalid manifest corpus', () => {
  it('has at least 120 fixtures, each with a reason', () => {
    expect(cases.length).toBeGreaterThanOrEqual(120)
    for (const c of cases) expect(c.reason, c.name).not.toBe('')
  })

  it.each(cases)('$name: $reason', async (c) => {
    const { code, stdout, stderr } = await runCli(['validate', '-f', `${DIR}/${c.name}`])
    expect(code).toBe(1)
    const prefix = `${DIR}/${c.file}:${c.line}:${c.column}: `
    const hit = stdout.split('\n').find((l) => l.startsWith(prefix) && l.includes(c.text))
    expect(hit, `expected a line starting ${prefix} containing ${JSON.stringify(c.text)}\n--- got:\n${stdout}${stderr}`).toBeDefined()
    expect(stdout).toMatch(/\d+ errors? in \d+ files?\n$/)
    expect(stdout + stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/) // never a stack trace
    const said = (stdout + stderr).replaceAll(c.name, '')
    expect(said).not.toMatch(/call stack|internal error|TypeError|Cannot read prop|is not a function|\bundefined\b|\[object /i) // never an internal message
    expect(said).not.toMatch(/\bNaN\b|\bInfinity\b/) // JavaScript's words, not YAML's
  })
})
