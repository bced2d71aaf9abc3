import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { loadManifests } from '../../src/manifest/index.js'
import { packageRoot } from '../../src/model/paths.js'

const root = packageRoot()
const examplesDir = join(root, 'examples')

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => {
      const p = join(dir, n)
      return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : []
    })
    .sort()
}

/** Example sets: each folder directly under examples/ is one `-f` target. */
const sets = readdirSync(examplesDir).filter((n) => statSync(join(examplesDir, n)).isDirectory())
/** A plain Compose file referenced by `composeFile` (no Proximity kind). */
function isComposeFile(file: string): boolean {
  return parseAllDocuments(readFileSync(file, 'utf8')).every((d) => {
    const v = d.toJS() as { kind?: unknown; services?: unknown } | null
    return v !== null && v.kind === undefined && v.services !== undefined
  })
}

const KIND_SCHEMA: Record<string, string> = {
  Cluster: 'cluster.schema.json',
  App: 'app.schema.json',
  Appliance: 'appliance.schema.json',
  BackupPolicy: 'backup-policy.schema.json',
  Restore: 'restore.schema.json',
}

describe('examples', () => {
  it('has the homelab quickstart', () => {
    expect(sets).toContain('homelab')
  })

  const show = (r: Awaited<ReturnType<typeof loadManifests>>): string[] =>
    r.ok ? [] : r.errors.map((e) => `${relative(root, e.file)}:${e.line}:${e.column} ${e.path} ${e.message}`)

  for (const set of sets) {
    it(`examples/${set}: every manifest file loads with the manifest loader without errors`, async () => {
      const manifests = yamlFiles(join(examplesDir, set)).filter((f) => !isComposeFile(f))
      expect(show(await loadManifests(manifests, { cwd: root, env: {} }))).toEqual([])
    })

    it(`examples/${set} loads as a folder, the way \`npm start\` applies it (compose files included)`, async () => {
      expect(show(await loadManifests([join(examplesDir, set)], { cwd: root, env: {} }))).toEqual([])
    })
  }

  for (const file of yamlFiles(examplesDir)) {
    const rel = relative(root, file)
    it(`${rel} starts with a modeline pointing at the right existing schema`, () => {
      const text = readFileSync(file, 'utf8')
      const m = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text)
      expect(m, `${rel} first line`).not.toBeNull()
      const target = resolve(dirname(file), m![1])
      expect(existsSync(target), `${rel} -> ${m![1]} exists`).toBe(true)
      expect(dirname(target)).toBe(join(root, 'schemas'))
      const kinds = [...new Set(parseAllDocuments(text).map((d) => (d.toJS() as { kind?: string } | null)?.kind))]
      const want = kinds.length === 1 && kinds[0] === undefined
        ? 'compose-spec.json' // a composeFile: plain Compose, no Proximity kind
        : kinds.length === 1 ? KIND_SCHEMA[kinds[0] as string] : 'manifest.schema.json'
      expect(m![1].split('/').at(-1), `${rel} kinds ${kinds.join(',')}`).toBe(want)
    })
  }

  it('keeps the quickstart small and converge-able on the sandbox', async () => {
    const files = yamlFiles(join(examplesDir, 'homelab')).filter((f) => !isComposeFile(f))
    const r = await loadManifests(files, { cwd: root, env: {} })
    expect(show(r)).toEqual([])
    if (!r.ok) return
    expect(r.set.cluster).toBeUndefined()
    expect(r.set.apps.length).toBeGreaterThanOrEqual(4)
    expect(r.set.apps.length).toBeLessThanOrEqual(5)
    for (const a of r.set.apps) {
      expect(a.spec.network.appliance, `${a.metadata.name} uses a bridge, not the appliance`).toBeUndefined()
      expect(a.spec.network).toMatchObject({ bridge: 'vmbr0', ip: 'dhcp' })
    }
    const byName = new Map(r.set.apps.map((a) => [a.metadata.name, a]))
    expect(byName.get('whoami')?.spec.source.catalog).toBe('whoami')
    expect(byName.get('uptime-kuma')?.spec.source.catalog).toBe('uptime-kuma')
    const notes = r.set.apps.find((a) => a.spec.source.composeFile)
    expect(notes?.spec.secrets.DB_PASSWORD).toEqual({ generate: { length: 32 } })
    expect(notes?.spec.volumes.length).toBeGreaterThan(0)
    expect(r.set.apps.some((a) => !a.spec.source.catalog && !a.spec.source.composeFile)).toBe(true)
    expect(r.set.backupPolicies.map((b) => b.spec.schedule)).toEqual(['*-*-* 03:00'])
    expect(r.set.appliances.map((a) => relative(examplesDir, a.source.file))).toEqual(['homelab/network/appliance.yaml'])
  })

  it('describes every example set in examples/README.md', () => {
    const readme = readFileSync(join(examplesDir, 'README.md'), 'utf8')
    for (const set of sets) expect(readme).toContain(`examples/${set}`)
    for (const file of yamlFiles(join(examplesDir, 'homelab'))) expect(readme).toContain(relative(join(examplesDir, 'homelab'), file))
  })
})
