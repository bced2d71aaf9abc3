/**
 * No input may crash the loader: random bytes, truncated and mutated manifests and absurd
 * nesting (bounded loops, fixed seed) must always give a result, and every error must be
 * located (file, line ≥ 1, column ≥ 1, a one-line message) without a stack trace.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadManifests } from '../../src/manifest/index.js'

/** mulberry32: a tiny seeded PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let dir: string
let valid: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prox-fuzz-'))
  valid = await readFile(join(import.meta.dirname, '..', 'fixtures', 'valid', 'homelab', 'apps.yaml'), 'utf8')
})
afterAll(async () => rm(dir, { recursive: true }))

async function check(name: string, content: string | Buffer): Promise<void> {
  const file = join(dir, name)
  await writeFile(file, content)
  const r = await loadManifests([file], { cwd: dir })
  if (r.ok) return
  expect(r.errors.length).toBeGreaterThan(0)
  for (const e of r.errors) {
    expect(typeof e.file).toBe('string')
    expect(e.line, JSON.stringify(e)).toBeGreaterThanOrEqual(1)
    expect(e.column, JSON.stringify(e)).toBeGreaterThanOrEqual(1)
    expect(e.message.length).toBeGreaterThan(0)
    expect(e.message).not.toMatch(/\n|\bat .+:\d+:\d+/)
  }
}

describe('loader robustness', () => {
  it('survives random bytes', async () => {
    const rand = rng(42)
    for (let i = 0; i < 120; i++) {
      const len = Math.floor(rand() * 400)
      const buf = Buffer.alloc(len)
      // Half the cases are printable ASCII so the YAML parser (not the binary check) sees them.
      for (let j = 0; j < len; j++) buf[j] = i % 2 ? Math.floor(rand() * 256) : 9 + Math.floor(rand() * 118)
      await check(`rand-${i}.yaml`, buf)
    }
  })

  it('survives truncated and mutated manifests', async () => {
    const rand = rng(7)
    const alphabet = ':-[]{}&*!|>\'"#%@` \n\t,?0aZ'
    for (let i = 0; i < 80; i++) {
      let text = valid.slice(0, Math.floor(rand() * valid.length))
      if (i % 2) {
        const chars = [...valid]
        for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) chars[Math.floor(rand() * chars.length)] = alphabet[Math.floor(rand() * alphabet.length)]
        text = chars.join('')
      }
      await check(`mut-${i}.yaml`, text)
    }
  })

  it('survives deep nesting of flow and block collections', async () => {
    await check('deep-flow-seq.yaml', `spec: ${'['.repeat(20000)}${']'.repeat(20000)}\n`)
    await check('deep-flow-map.yaml', `spec: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`)
    let block = 'apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: deep}\nspec:\n  source:\n    compose:\n'
    for (let d = 0; d < 300; d++) block += `${'  '.repeat(d + 3)}k${d}:\n`
    await check('deep-block.yaml', block + `${'  '.repeat(303)}v: 1\n`)
  })

  it('reports, not crashes, on the classic billion-laughs bomb', async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`)
    const file = join(dir, 'lol.yaml')
    await writeFile(file, lines.join('\n') + '\n')
    const r = await loadManifests([file], { cwd: dir })
    expect(r.ok ? '' : r.errors[0].message).toContain('too many aliases')
  })
})
