/**
 * The CLI side of the source-file prune guard (issue 7; the rule lives in
 * src/runtime/source-files-guard.ts): which orphans `plan --prune` and `apply --prune` must keep
 * because their manifest file stopped being read, the plain words that say so, and recording
 * the files of this apply in the state folder.
 */
import { stat } from 'node:fs/promises'
import { isAbsolute, relative, resolve } from 'node:path'
import type { ManifestSet } from '../model/types.js'
import { explainUnreadFile, recordSources, unreadSourceFiles, type ManifestInput, type UnreadFile } from '../runtime/source-files-guard.js'
import { readManifestSources, writeManifestSources } from '../store/manifest-sources.js'

/** The flag that lets a prune delete objects whose manifest file stopped being read. */
export const ALLOW_MISSING_FILES_FLAG = '--allow-missing-files'

/** The `-f` inputs as absolute paths with their type (a missing path counts as a file). */
export async function manifestInputs(cwd: string, paths: string[]): Promise<ManifestInput[]> {
  return Promise.all(
    paths.map(async (p) => {
      const path = resolve(cwd, p)
      const isDir = await stat(path).then((s) => s.isDirectory(), () => false)
      return { path, isDir }
    }),
  )
}

/** What the guard found for one run. */
export interface SourceFileHold {
  /** Keys to keep out of the prune (empty when allowed). */
  hold: Set<string>
  files: (UnreadFile & { why: string })[]
}

/** Compares the files recorded in `stateDir` with `set`; `allow` releases the hold. */
export async function findHeldBySourceFiles(stateDir: string, set: ManifestSet, inputs: ManifestInput[], allow: boolean): Promise<SourceFileHold> {
  const files = unreadSourceFiles(await readManifestSources(stateDir), set, inputs)
  const explained = await Promise.all(files.map(async (f) => ({ ...f, why: await explainUnreadFile(f.file, set) })))
  return { hold: allow ? new Set() : new Set(files.flatMap((f) => f.keys)), files: explained }
}

/**
 * One line per file whose objects would be pruned (`orphans`: the keys the plan found without
 * a manifest), saying which file, why it holds nothing, which objects, and what was done.
 */
export function describeHeld(found: SourceFileHold, orphans: ReadonlySet<string>, cwd: string, allowed: boolean): string[] {
  const lines: string[] = []
  for (const f of found.files) {
    const keys = f.keys.filter((k) => orphans.has(k))
    if (keys.length === 0) continue
    const rel = relative(cwd, f.file)
    const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : f.file
    const which = keys.join(', ')
    lines.push(
      allowed
        ? `note: ${shown} held ${which} at the last apply and holds no manifest now (${f.why}); pruning ${keys.length === 1 ? 'it' : 'them'} as ${ALLOW_MISSING_FILES_FLAG} allows`
        : `${shown} held ${which} at the last apply and holds no manifest now (${f.why}); not pruning ${which}: restore the file, or re-run with ${ALLOW_MISSING_FILES_FLAG} if ${keys.length === 1 ? 'it' : 'they'} should go`,
    )
  }
  return lines
}

/** Records which file every object of `set` came from (after an apply); `deleted` are forgotten. Writes only on change. */
export async function recordManifestSources(stateDir: string, set: ManifestSet, inputs: ManifestInput[], deleted: string[]): Promise<void> {
  const prev = await readManifestSources(stateDir)
  const next = recordSources(prev, set, inputs, deleted, new Date().toISOString())
  if (JSON.stringify(sortedEntries(next)) === JSON.stringify(sortedEntries(prev))) return
  await writeManifestSources(stateDir, next)
}

const sortedEntries = <T>(o: Record<string, T>): [string, T][] => Object.entries(o).sort(([a], [b]) => a.localeCompare(b))
