/** Mapping between `Kind/name` keys and the manifests of a ManifestSet (level-based lookups). */
import type { Kind, Manifest, ManifestSet } from '../model/types.js'

const KINDS: readonly Kind[] = ['Cluster', 'App', 'Appliance', 'BackupPolicy', 'Restore']

/** Splits `Kind/name`; throws a TypeError for a malformed key. */
export function splitKey(key: string): { kind: Kind; name: string } {
  const i = key.indexOf('/')
  const kind = key.slice(0, i) as Kind
  const name = key.slice(i + 1)
  if (i <= 0 || !name || !KINDS.includes(kind)) throw new TypeError(`invalid object key ${JSON.stringify(key)}: expected Kind/name such as App/web`)
  return { kind, name }
}

/** Every manifest of the set, Cluster first, then Appliances, Apps, BackupPolicies, Restores. */
export function allManifests(set: ManifestSet): Manifest[] {
  return [...(set.cluster ? [set.cluster] : []), ...set.appliances, ...set.apps, ...set.backupPolicies, ...set.restores]
}

/** Keys of every manifest in the set, in the order of `allManifests`. */
export function manifestKeys(set: ManifestSet): string[] {
  return allManifests(set).map((m) => `${m.kind}/${m.metadata.name}`)
}

/** The manifest for `key` in the current set, or undefined (deleted, or never existed). */
export function findManifest(set: ManifestSet, key: string): Manifest | undefined {
  const { kind, name } = splitKey(key)
  const list: readonly Manifest[] =
    kind === 'Cluster' ? (set.cluster ? [set.cluster] : [])
    : kind === 'App' ? set.apps
    : kind === 'Appliance' ? set.appliances
    : kind === 'BackupPolicy' ? set.backupPolicies
    : set.restores
  return list.find((m) => m.metadata.name === name)
}
