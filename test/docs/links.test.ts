/**
 * The project's docs stand alone (issue 9 point 10): README, docs/ and the examples' READMEs link
 * only to files that exist inside the repository, and neither they nor any `--help` text point
 * outside it (no `../shared`, no developer-only files).
 */
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { expect, it } from 'vitest'
import { renderCliReference } from '../../src/cli/reference.js'

const ROOT = join(import.meta.dirname, '..', '..')

async function userDocs(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))
  const examples: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name))
      else if (/^README.*\.md$/i.test(e.name)) examples.push(join(dir, e.name))
    }
  }
  await walk(join(ROOT, 'examples'))
  return [join(ROOT, 'README.md'), ...docs, ...examples]
}

it('has the architecture and manifest guides, linked from the README', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  for (const f of ['docs/architecture.md', 'docs/manifests.md']) {
    expect(existsSync(join(ROOT, f)), f).toBe(true)
    expect(readme).toContain(`](${f})`)
  }
})

it('links only to files inside the repository that exist', async () => {
  const problems: string[] = []
  for (const file of await userDocs()) {
    const text = await readFile(file, 'utf8')
    const rel = relative(ROOT, file)
    if (/\.\.\/shared|shared\/(DESIGN|STYLE|CONVENTIONS)\.md/.test(text)) problems.push(`${rel}: mentions the developers' shared folder`)
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]
      if (/^[a-z]+:/.test(target)) continue // a URL
      const abs = resolve(dirname(file), target)
      if (!abs.startsWith(ROOT + '/') && abs !== ROOT) problems.push(`${rel}: ${target} points outside the repository`)
      else if (!existsSync(abs)) problems.push(`${rel}: ${target} does not exist`)
    }
  }
  expect(problems).toEqual([])
})

it('--help of every command stays inside the repository', () => {
  const help = renderCliReference()
  expect(help).not.toMatch(/\.\.\/shared|DESIGN\.md|CONVENTIONS\.md|STYLE\.md/)
})
