/** The static paths source: the `-f` files and folders, read and validated on every `load()`. */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ManifestSource, SourceLoad } from './types.js'
import { computeRevision } from '../revision.js'

export interface PathsSourceOptions {
  /** Files and folders (folders are read recursively). */
  paths: string[]
  /** Relative paths resolve against this folder. */
  cwd: string
  /** The secret key file, when one exists (sealed values are checked with it). */
  keyFile?: string
  /** Refuse sealed values when no key is available. @default false */
  requireKey?: boolean
}

/** Creates a source over fixed paths; `load()` re-reads them each time (stateless). */
export function createPathsSource(opts: PathsSourceOptions): ManifestSource {
  const abs = opts.paths.map((p) => resolve(opts.cwd, p))
  return {
    kind: 'paths',
    inputs: abs,
    load: () => loadPaths(abs, opts),
  }
}

/**
 * Loads `abs` as one set (all-or-nothing) and computes its revision, unless the caller knows it
 * (`revision`: the git source's checkout), which spares the git processes computeRevision runs.
 */
export async function loadPaths(abs: string[], opts: Pick<PathsSourceOptions, 'cwd' | 'keyFile' | 'requireKey'> & { revision?: string }): Promise<SourceLoad> {
  const { loadManifests } = await import('../../manifest/index.js')
  const keyFile = opts.keyFile !== undefined && existsSync(opts.keyFile) ? opts.keyFile : undefined
  const res = await loadManifests(abs, { keyFile, requireKey: opts.requireKey === true })
  if (!res.ok) return { ok: false, errors: res.errors, warnings: res.warnings }
  return { ok: true, set: res.set, revision: opts.revision ?? (await computeRevision(abs, res.set, opts.cwd)), warnings: res.warnings }
}
