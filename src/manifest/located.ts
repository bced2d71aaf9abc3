/** Builds located manifest errors for a parsed document. Pure. */
import type { ManifestError } from '../model/types.js'
import { formatPath, locate, type FieldPath } from './locate.js'
import type { ParsedDoc } from './yaml-docs.js'

/** `kind` and `name` of a document, when it has usable ones. */
export function identity(d: ParsedDoc): { kind?: string; name?: string } {
  const kind = typeof d.value.kind === 'string' ? d.value.kind : undefined
  const meta = d.value.metadata
  const name = meta && typeof meta === 'object' && typeof (meta as { name?: unknown }).name === 'string' ? (meta as { name: string }).name : undefined
  return { kind, name }
}

/**
 * A located error at `path` of document `d` (the value, or the key with `target: 'key'`); `at`
 * overrides the path used for locating.
 */
export function errorAt(d: ParsedDoc, path: FieldPath, message: string, target: 'value' | 'key' = 'value', at?: FieldPath): ManifestError {
  const p = locate(d.doc, d.lc, at ?? path, target)
  const id = identity(d)
  const e: ManifestError = { file: d.file, line: p.line, column: p.column, path: formatPath(path), message }
  if (id.kind) e.kind = id.kind
  if (id.name) e.name = id.name
  return e
}
