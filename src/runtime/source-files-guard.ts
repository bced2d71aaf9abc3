/**
 * The source-file prune guard (issue 7, DESIGN §9 "never delete without an explicit prune"): a
 * guest is never pruned only because the file that declared it stopped being read. Each apply
 * records which `-f` file every object came from; when a file that held manifests last time
 * holds none now (emptied, comments only, deleted or renamed while its folder is still given
 * with `-f`, or now read as an App's compose file), the objects it held are kept out of the
 * prune until the user says so (`--allow-missing-files`). A file that still holds other
 * manifests is a normal edit: objects removed from it are pruned as usual.
 *
 * `recordSources` and `unreadSourceFiles` are pure; `explainUnreadFile` reads the file system
 * (stat and read only) to say why a file holds nothing.
 */
import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import type { Manifest, ManifestSet } from '../model/types.js'
import type { ManifestSources } from '../store/manifest-sources.js'

/** One `-f` input, absolute. */
export interface ManifestInput {
  path: string
  isDir: boolean
}

/** A recorded file that held manifests at the last apply and holds none now. */
export interface UnreadFile {
  /** Absolute path. */
  file: string
  /** Keys recorded from it that have no manifest now (sorted). */
  keys: string[]
}

const reconciled = (set: ManifestSet): Manifest[] => [...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores]
const keyOf = (m: Manifest): string => `${m.kind}/${m.metadata.name}`
const fileOf = (r: { root: string; file: string }): string => (r.file === '' ? r.root : join(r.root, r.file))

/** True when `file` is read by `input`: the file itself, or inside the folder. */
function covers(input: ManifestInput, file: string): boolean {
  if (!input.isDir) return input.path === file
  const rel = relative(input.path, file)
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel)
}

/**
 * The records after an apply: every object of `set` gets the `-f` input it was read from (the
 * most specific one when several cover it; `recordedAt` changes only with the record), objects
 * in `deleted` are forgotten, and records of other objects are kept (their guests may still
 * exist and be pruned later). Pure.
 */
export function recordSources(prev: ManifestSources, set: ManifestSet, inputs: ManifestInput[], deleted: readonly string[], now: string): ManifestSources {
  const out: ManifestSources = { ...prev }
  for (const k of deleted) delete out[k]
  const byDepth = [...inputs].sort((a, b) => b.path.length - a.path.length)
  for (const m of reconciled(set)) {
    const file = resolve(m.source.file)
    const input = byDepth.find((i) => covers(i, file))
    if (!input) continue
    const rec = { root: input.path, file: input.isDir ? relative(input.path, file) : '' }
    const old = prev[keyOf(m)]
    // An unchanged record keeps its time, so a converged apply rewrites nothing.
    out[keyOf(m)] = old && old.root === rec.root && old.file === rec.file ? old : { ...rec, recordedAt: now }
  }
  return out
}

/**
 * Files that held manifests at the last apply, are still under a current `-f` input, and hold
 * no manifest of `set` now (any kind, Cluster included), with the recorded keys that have no
 * manifest now. Those keys must not be pruned without an explicit flag. Pure.
 */
export function unreadSourceFiles(records: ManifestSources, set: ManifestSet, inputs: ManifestInput[]): UnreadFile[] {
  const desired = new Set(reconciled(set).map(keyOf))
  const holding = new Set([...(set.cluster ? [set.cluster] : []), ...reconciled(set)].map((m) => resolve(m.source.file)))
  const byFile = new Map<string, string[]>()
  for (const [key, r] of Object.entries(records)) {
    if (desired.has(key)) continue
    const file = fileOf(r)
    if (holding.has(file) || !inputs.some((i) => covers(i, file))) continue
    byFile.set(file, [...(byFile.get(file) ?? []), key])
  }
  return [...byFile.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([file, keys]) => ({ file, keys: keys.sort() }))
}

/**
 * Why `file` holds no manifest now, as a phrase: it no longer exists, it is read as the compose
 * file of an App, it is empty or holds only comments, it cannot be read, or it holds no
 * manifest. Reads the file system; changes nothing.
 */
export async function explainUnreadFile(file: string, set: ManifestSet): Promise<string> {
  const composeOf = set.apps.find((a) => a.spec.source.composeFile !== undefined && resolve(dirname(a.source.file), a.spec.source.composeFile) === file)
  if (composeOf) return `it is now read as the compose file of App/${composeOf.metadata.name}`
  try {
    const st = await stat(file)
    if (!st.isFile()) return 'it is no longer a file'
    const text = await readFile(file, 'utf8')
    const meaningful = text.split(/\r?\n/).some((l) => {
      const t = l.trim()
      return t !== '' && !t.startsWith('#') && t !== '---' && t !== '...'
    })
    return meaningful ? 'it holds no manifest now' : 'it is empty or holds only comments'
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'it no longer exists (deleted or renamed)'
    return `it cannot be read (${code ?? 'unknown error'})`
  }
}
