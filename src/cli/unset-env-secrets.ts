/**
 * `{env: NAME}` secrets whose variable is unset (issue 7): `plan` and `apply` refuse them up
 * front with an error located at the secret (`file:line:column`), before a session opens, so an
 * unset variable never becomes a retry loop inside a controller. `validate` stays offline and
 * does not need the variables. Reads the manifest files again only when a variable is missing.
 */
import { readFile } from 'node:fs/promises'
import type { Manifest, ManifestError, ManifestSet } from '../model/types.js'
import { secretRefs } from '../manifest/secret-checks.js'
import { errorAt, identity } from '../manifest/located.js'
import { formatPath } from '../manifest/locate.js'
import { parseManifestText } from '../manifest/yaml-docs.js'

/**
 * One located error per `{env}` secret reference (Cluster and App) whose variable is not set in
 * `env`. An empty string counts as set (it is a value). Never reads a variable's value.
 */
export async function unsetEnvSecrets(set: ManifestSet, env: NodeJS.ProcessEnv): Promise<ManifestError[]> {
  const all: Manifest[] = [...(set.cluster ? [set.cluster] : []), ...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores]
  const missing: { m: Manifest; path: (string | number)[]; name: string }[] = []
  for (const m of all) {
    for (const { path, ref } of secretRefs(m)) if ('env' in ref && env[ref.env] === undefined) missing.push({ m, path, name: ref.env })
  }
  const errors: ManifestError[] = []
  const parsed = new Map<string, ReturnType<typeof parseManifestText>['docs']>()
  for (const { m, path, name } of missing) {
    const message = `environment variable ${name} is not set; export it before running plan or apply (nothing was changed)`
    let docs = parsed.get(m.source.file)
    if (!docs) {
      docs = await readFile(m.source.file, 'utf8')
        .then((text) => parseManifestText({ file: m.source.file, root: m.source.file, text }).docs)
        .catch(() => [])
      parsed.set(m.source.file, docs)
    }
    const d = docs.find((x) => {
      const id = identity(x)
      return id.kind === m.kind && id.name === m.metadata.name
    })
    if (d) errors.push(errorAt(d, [...path, 'env'], message))
    else errors.push({ file: m.source.file, line: m.source.line, column: m.source.column, kind: m.kind, name: m.metadata.name, path: formatPath([...path, 'env']), message })
  }
  return errors
}
