/** Renders manifest errors for people. Pure. */
import { isAbsolute, relative } from 'node:path'
import type { ManifestError } from '../model/types.js'

/**
 * `FILE:LINE:COLUMN: Kind/name: field.path: message`, with FILE relative to `cwd` when given.
 * The `Kind/name` and path parts are left out when unknown (e.g. a YAML syntax error).
 */
export function formatError(e: ManifestError, cwd?: string): string {
  const file = cwd && isAbsolute(e.file) ? relative(cwd, e.file) || e.file : e.file
  const who = e.kind ? `${e.kind}/${e.name ?? '?'}: ` : ''
  const path = e.path ? `${e.path}: ` : ''
  return `${file}:${e.line}:${e.column}: ${who}${path}${e.message}`
}
