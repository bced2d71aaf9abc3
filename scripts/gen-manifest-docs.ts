/**
 * Writes docs/manifest-reference.md from the schemas. Run it through the doc test:
 *   UPDATE_DOCS=1 npx vitest run test/manifest/manifest-docs.test.ts
 * (the test fails whenever the committed file is out of date).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { renderManifestReference } from '../src/manifest/reference-doc.js'

/** Path of the generated reference, relative to the package root. */
export const REFERENCE_PATH = join('docs', 'manifest-reference.md')

/** Regenerates the reference under `root`. */
export async function generateManifestDocs(root: string): Promise<void> {
  await writeFile(join(root, REFERENCE_PATH), renderManifestReference())
}
