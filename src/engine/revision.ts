/**
 * The revision a reconcile records (`lastAppliedRevision`, Flux style): `<branch>@sha1:<sha>`
 * when the manifests come from a clean git work tree, else `local@sha256:<12 hex>` of the set.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { ManifestSet } from '../model/types.js'

/** Digest of a loaded set: `local@sha256:<12 hex>`; stable across file order and key order. */
export function localRevision(set: ManifestSet): string {
  const all = [set.cluster, ...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores]
    .filter((m) => m !== undefined)
    .map((m) => `${m.kind}/${m.metadata.name}=${m.specHash}`)
    .sort()
  return `local@sha256:${createHash('sha256').update(all.join('\n')).digest('hex').slice(0, 12)}`
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('git', args, { cwd, timeout: 5_000, windowsHide: true }, (err, stdout) => done(err ? undefined : stdout.trim()))
  })
}

/**
 * The revision recorded as lastAppliedRevision: `<branch>@sha1:<HEAD>` when every manifest
 * path is inside one git work tree with nothing uncommitted under them, else localRevision.
 * git runs through execFile (no shell). Never throws.
 */
export async function computeRevision(paths: string[], set: ManifestSet, cwd: string): Promise<string> {
  if (paths.length === 0) return localRevision(set)
  const abs = paths.map((p) => resolve(cwd, p))
  let dir = abs[0]
  try {
    if (!(await stat(dir)).isDirectory()) dir = dirname(dir)
  } catch {
    return localRevision(set)
  }
  const top = await git(dir, ['rev-parse', '--show-toplevel'])
  if (!top || abs.some((p) => !p.startsWith(top))) return localRevision(set)
  const [head, branch, dirty] = await Promise.all([
    git(top, ['rev-parse', 'HEAD']),
    git(top, ['rev-parse', '--abbrev-ref', 'HEAD']),
    git(top, ['status', '--porcelain', '--untracked-files=all', '--', ...abs]),
  ])
  if (!head || dirty === undefined || dirty !== '') return localRevision(set)
  return `${branch && branch !== 'HEAD' ? branch : 'detached'}@sha1:${head}`
}
