/**
 * No tracked file keeps the markers of an unresolved merge: a README that shipped two versions
 * of a paragraph between `<<<<<<<` and `>>>>>>>` once slipped past every other check.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const MARKER = /^(<{7} |={7}$|>{7} )/m

it('has no merge conflict markers in any tracked text file', () => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean)
  const marked = files.filter((f) => /\.(md|ts|js|mjs|json|ya?ml|css|html|sh)$/.test(f)).filter((f) => {
    const text = readFileSync(join(ROOT, f), 'utf8')
    return MARKER.test(text)
  })
  expect(marked).toEqual([])
})
