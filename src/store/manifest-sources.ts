/**
 * Which `-f` file each managed object came from at the last apply (issue 7), kept in the state
 * folder as `manifest-sources.json` beside `state.json`. Read by the prune guard
 * (src/runtime/source-files-guard.ts) so a guest is never pruned only because its file stopped
 * being read. A cache like the rest of the store: a missing or unreadable file reads as empty
 * (the guard then has nothing to protect, exactly as before the first apply). Holds no secrets.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-file.js'

/** Where one object's manifest was read from. */
export interface ManifestSourceRecord {
  /** The `-f` path (absolute) the file was found under, or the file itself when `-f` named it. */
  root: string
  /** The file relative to `root` (`''` when `root` is the file). */
  file: string
  /** When the apply that recorded it ran (ISO time). */
  recordedAt: string
}

/** Object key (`App/web`) → where its manifest was. */
export type ManifestSources = Record<string, ManifestSourceRecord>

interface SourcesFile {
  version: 1
  objects: ManifestSources
}

const FILE = 'manifest-sources.json'

/** Reads the records of the state folder `dir`; `{}` when there are none or the file is unreadable. */
export async function readManifestSources(dir: string): Promise<ManifestSources> {
  try {
    const body = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as Partial<SourcesFile>
    if (body.version !== 1 || !body.objects || typeof body.objects !== 'object') return {}
    const out: ManifestSources = {}
    for (const [k, v] of Object.entries(body.objects)) {
      if (v && typeof v.root === 'string' && typeof v.file === 'string') out[k] = { root: v.root, file: v.file, recordedAt: String(v.recordedAt ?? '') }
    }
    return out
  } catch {
    return {}
  }
}

/** Replaces the records of `dir` (atomic write, mode 0600). */
export async function writeManifestSources(dir: string, objects: ManifestSources): Promise<void> {
  const sorted: ManifestSources = {}
  for (const k of Object.keys(objects).sort()) sorted[k] = objects[k]
  const body: SourcesFile = { version: 1, objects: sorted }
  await writeFileAtomic(join(dir, FILE), `${JSON.stringify(body, null, 2)}\n`)
}
