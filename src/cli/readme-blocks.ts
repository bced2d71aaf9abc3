import { renderManifestReference } from '../manifest/reference-doc.js'
import { renderCliReference } from './reference.js'

/** The generated blocks of README.md, by marker name. */
export function readmeBlocks(): Record<string, string> {
  // The manifest reference is a document of its own; inside README its headings go one level down.
  const manifest = renderManifestReference()
    .replace(/^# Manifest reference\n+/, '')
    .replace(/^(#+) /gm, '#$1 ')
  return { 'MANIFEST REFERENCE': manifest.trim(), 'CLI REFERENCE': renderCliReference().trim() }
}

/**
 * Replaces the text between `<!-- BEGIN NAME -->` and `<!-- END NAME -->` for every block.
 * Throws if a marker pair is missing (README must keep them). Pure.
 */
export function fillReadme(readme: string, blocks: Record<string, string>): string {
  let out = readme
  for (const [name, body] of Object.entries(blocks)) {
    const begin = `<!-- BEGIN ${name} (generated; do not edit by hand) -->`
    const end = `<!-- END ${name} -->`
    const i = out.indexOf(begin)
    const j = out.indexOf(end)
    if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${begin} … ${end}`)
    out = `${out.slice(0, i + begin.length)}\n\n${body}\n\n${out.slice(j)}`
  }
  return out
}
