/** docs/manifest-reference.md must match what the schemas say (regenerate with UPDATE_DOCS=1). */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { renderManifestReference } from '../../src/manifest/reference-doc.js'
import { generateManifestDocs, REFERENCE_PATH } from '../../scripts/gen-manifest-docs.js'

const ROOT = join(import.meta.dirname, '..', '..')

it('the committed manifest reference is up to date with the schemas', async () => {
  if (process.env.UPDATE_DOCS === '1') await generateManifestDocs(ROOT)
  const committed = await readFile(join(ROOT, REFERENCE_PATH), 'utf8')
  expect(committed, 'run: UPDATE_DOCS=1 npx vitest run test/manifest/manifest-docs.test.ts').toBe(renderManifestReference())
  // Spot-check that every kind and a few nested fields are documented.
  for (const s of ['## Cluster', '## App', '## Appliance', '## BackupPolicy', '## Restore', '`spec.resources.memory`', '`spec.volumes[].path`', '`spec.retention.keepLast`']) expect(committed).toContain(s)
})
