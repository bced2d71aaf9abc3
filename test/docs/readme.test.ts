/**
 * README.md carries the manifest reference (from the schemas) and the CLI reference (from
 * `--help`) as generated blocks; this test fails when either drifts. Regenerate with
 * `UPDATE_DOCS=1 npx vitest run test/docs`.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fillReadme, readmeBlocks } from '../../src/cli/readme-blocks.js'
import { buildProgram } from '../../src/cli/main.js'
import { PassThrough } from 'node:stream'
import type { Command } from 'commander'

const README = join(import.meta.dirname, '..', '..', 'README.md')

it('README.md reference blocks match the schemas and --help', async () => {
  const current = await readFile(README, 'utf8')
  const wanted = fillReadme(current, readmeBlocks())
  if (process.env.UPDATE_DOCS === '1' && wanted !== current) await writeFile(README, wanted)
  expect(current, 'regenerate with: UPDATE_DOCS=1 npx vitest run test/docs').toBe(wanted)
  // Spot-check that every kind and a few nested fields are documented.
  for (const s of ['### Cluster', '### App', '### Appliance', '### BackupPolicy', '### Restore', '`spec.resources.memory`', '`spec.volumes[].path`', '`spec.retention.keepLast`']) expect(current).toContain(s)
})

it('README documents every command and every flag the CLI has', async () => {
  const readme = await readFile(README, 'utf8')
  const sink = new PassThrough()
  const program = buildProgram({ stdout: sink, stderr: sink, stdin: sink, env: {}, cwd: '/', exitCode: 0 })
  const missing: string[] = []
  const walk = (cmd: Command, path: string): void => {
    for (const sub of cmd.commands) {
      const name = `${path} ${sub.name()}`
      if (!readme.includes(`### \`${name}\``)) missing.push(name)
      for (const o of sub.options) if (!readme.includes(o.flags)) missing.push(`${name} ${o.flags}`)
      walk(sub, name)
    }
  }
  walk(program, 'proximity')
  expect(missing).toEqual([])
  // The two commands a newcomer needs come first.
  expect(readme.indexOf('npm start')).toBeLessThan(readme.indexOf('## Concepts'))
  expect(readme.indexOf('npm test')).toBeLessThan(readme.indexOf('## Concepts'))
})
