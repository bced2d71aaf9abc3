import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCatalog } from '../../src/catalog/index.js'
import { loadManifests } from '../../src/manifest/index.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-catalog-apps-'))
  for (const e of listCatalog()) {
    const text = [
      'apiVersion: proximity/v1alpha1',
      'kind: App',
      'metadata:',
      `  name: ${e.name}`,
      'spec:',
      '  source:',
      `    catalog: ${e.name}`,
      '  network:',
      '    bridge: vmbr0',
      '    ip: dhcp',
      '',
    ].join('\n')
    await writeFile(join(dir, `${e.name}.yaml`), text)
  }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('every catalog entry expands into a valid App', () => {
  it('loads all catalog apps with the manifest loader, with the catalog defaults applied', async () => {
    const r = await loadManifests([dir], { cwd: dir, env: {} })
    expect(r.ok ? [] : r.errors.map((e) => `${relative(dir, e.file)}:${e.line} ${e.path} ${e.message}`)).toEqual([])
    if (!r.ok) return
    expect(r.set.apps).toHaveLength(listCatalog().length)
    for (const app of r.set.apps) {
      const entry = listCatalog().find((e) => e.name === app.metadata.name)!
      expect(app.spec.source.compose, app.metadata.name).toEqual(entry.compose)
      expect(app.spec.resources, app.metadata.name).toMatchObject(entry.resources)
      expect(Object.keys(app.spec.secrets).sort(), app.metadata.name).toEqual(Object.keys(entry.secrets).sort())
      expect(app.spec.volumes.map((v) => v.path), app.metadata.name).toEqual(entry.volumes.map((v) => v.path))
    }
  })

  it('applies source.version to the main image tag', async () => {
    const sub = await mkdtemp(join(dir, 'version-'))
    await writeFile(
      join(sub, 'kuma.yaml'),
      'apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: kuma}\nspec:\n  source: {catalog: uptime-kuma, version: 1.23.15}\n  network: {bridge: vmbr0, ip: dhcp}\n',
    )
    const r = await loadManifests([sub], { cwd: sub, env: {} })
    expect(r.ok ? [] : r.errors.map((e) => e.message)).toEqual([])
    if (!r.ok) return
    const svc = (r.set.apps[0].spec.source.compose.services as Record<string, { image: string }>)['uptime-kuma']
    expect(svc.image).toBe('louislam/uptime-kuma:1.23.15')
  })
})
