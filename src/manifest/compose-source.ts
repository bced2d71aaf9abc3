/**
 * Step 3 of loading, for Apps: find the compose document of each App (inline, `composeFile`, or
 * the catalog entry with its `version`) and validate it against the Compose Specification and
 * Proximity's own image rule. Errors are located in the manifest, or in the compose file itself.
 */
import { readFile, realpath, stat } from 'node:fs/promises'
import { dirname, relative, resolve, isAbsolute, sep } from 'node:path'
import type { ValidateFunction } from 'ajv'
import type { ManifestError } from '../model/types.js'
import { isValidImage, isValidImageTag } from '../model/names.js'
import { translateErrors, suggest } from './ajv-messages.js'
import type { CatalogEntryLike, CatalogPort } from './catalog-port.js'
import { checkComposeData } from './field-checks.js'
import { errorAt, identity } from './located.js'
import { formatPath, locate, type FieldPath } from './locate.js'
import { readSchema } from './schemas.js'
import { loadValidators } from './validator-cache.js'
import { decodeYamlBytes, MAX_FILE_BYTES } from './read-files.js'
import { parseManifestText, type ParsedDoc } from './yaml-docs.js'

let composeValidator: ValidateFunction | undefined

/** The Compose Specification validator; call {@link prepareComposeValidator} first. */
export function composeSpecValidator(): ValidateFunction {
  if (!composeValidator) throw new Error('composeSpecValidator called before prepareComposeValidator')
  return composeValidator
}

/** Loads (from the cache) or compiles the Compose Specification validator (draft-07, own ajv). */
export async function prepareComposeValidator(): Promise<void> {
  if (!composeValidator) {
    // The file names its meta-schema by an https URL ajv does not know; it is plain draft-07.
    const { $schema: _meta, ...schema } = readSchema('compose-spec.json')
    void _meta
    composeValidator = (
      await loadValidators({
      name: 'compose-validator',
      inputs: ['v1', JSON.stringify(schema)],
      exports: { compose: String(schema.$id) },
      build: async () => {
        const { Ajv } = await import('ajv')
        const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, validateFormats: false, code: { source: true } })
        ajv.addSchema(schema)
        return ajv
      },
      })
    ).compose
  }
}

const catalogChecks = new Map<string, { path: FieldPath; message: string }[]>()

/** The resolved compose of one App. */
export interface AppComposeResult {
  compose?: Record<string, unknown>
  catalogEntry?: CatalogEntryLike
  errors: ManifestError[]
}

/** True when `child` is `parent` or inside it (both real paths). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child)
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel))
}

/**
 * Resolves and validates the compose of App document `d` (already schema-valid).
 * `manifestFiles` holds the real paths of the files loaded as manifests: a composeFile naming
 * one of them (or the App's own file) is refused, since a file is a manifest or a compose file.
 */
export async function resolveAppCompose(d: ParsedDoc, catalog: CatalogPort | undefined, manifestFiles: ReadonlySet<string> = new Set()): Promise<AppComposeResult> {
  const spec = d.value.spec as Record<string, unknown>
  const src = spec.source as Record<string, unknown>
  const errors: ManifestError[] = []
  if (typeof src.catalog === 'string') {
    const entry = catalog?.get(src.catalog)
    if (!entry) {
      const s = catalog ? suggest(src.catalog, catalog.names()) : undefined
      errors.push(errorAt(d, ['spec', 'source', 'catalog'], `unknown catalog app "${src.catalog}"${s ? `; did you mean "${s}"?` : '; run `proximity catalog list`'}`))
      return { errors }
    }
    const compose = structuredClone(entry.compose)
    if (typeof src.version === 'string') {
      const problem = overrideMainTag(compose, src.version)
      if (problem && isValidImageTag(src.version)) errors.push(errorAt(d, ['spec', 'source', 'version'], problem))
    }
    // The same catalog app at the same version gives the same compose: check it once per run.
    const memoKey = `${src.catalog}@${String(src.version ?? '')}`
    let problems = catalogChecks.get(memoKey)
    if (!problems) {
      problems = []
      checkCompose(compose, (path, message) => {
        problems!.push({ path, message })
        return errorAt(d, [], '')
      })
      catalogChecks.set(memoKey, problems)
    }
    for (const p of problems) errors.push(errorAt(d, ['spec', 'source', 'catalog'], `catalog app compose ${formatPath(p.path)}: ${p.message}`))
    return { compose, catalogEntry: entry, errors }
  }
  if (src.compose !== undefined) {
    const compose = src.compose as Record<string, unknown>
    errors.push(...checkCompose(compose, (path, message, target, at) => errorAt(d, ['spec', 'source', 'compose', ...path], message, target, at && ['spec', 'source', 'compose', ...at])))
    return { compose, errors }
  }
  const rel = src.composeFile as string
  const where: FieldPath = ['spec', 'source', 'composeFile']
  const full = resolve(dirname(d.file), rel)
  let real: string
  let rootReal: string
  try {
    rootReal = await realpath(d.root)
  } catch {
    rootReal = d.root
  }
  try {
    real = await realpath(full)
  } catch {
    errors.push(errorAt(d, where, `compose file "${rel}" does not exist; the path is relative to this manifest`))
    return { errors }
  }
  if (isAbsolute(rel) || !isInside(rootReal, real)) {
    errors.push(errorAt(d, where, `compose file "${rel}" is outside the manifest folder; move it inside the folder given to -f`))
    return { errors }
  }
  if (manifestFiles.has(real)) {
    const self = real === (await realpath(d.file).catch(() => d.file))
    errors.push(errorAt(d, where, self ? `compose file "${rel}" is this manifest file itself; point composeFile at a separate compose file` : `compose file "${rel}" is a manifest file; a file is either a manifest or a compose file, point composeFile at a compose file`))
    return { errors }
  }
  let text: string
  try {
    const st = await stat(real)
    if (st.isDirectory()) {
      errors.push(errorAt(d, where, `compose file "${rel}" is a folder; name the compose file inside it`))
      return { errors }
    }
    if (!st.isFile()) throw new Error('not a file')
    if (st.size > MAX_FILE_BYTES) {
      errors.push(errorAt(d, where, `compose file "${rel}" is larger than 5 MiB`))
      return { errors }
    }
    const decoded = decodeYamlBytes(await readFile(real))
    if (typeof decoded !== 'string') {
      errors.push({ file: full, line: decoded.line, column: decoded.column, path: formatPath(where), message: `compose ${decoded.message}`, ...ident(d) })
      return { errors }
    }
    text = decoded
  } catch {
    errors.push(errorAt(d, where, `compose file "${rel}" cannot be read`))
    return { errors }
  }
  const parsed = parseManifestText({ file: full, root: d.root, text })
  if (parsed.errors.length > 0 || parsed.docs.length !== 1) {
    for (const e of parsed.errors) errors.push({ ...e, message: e.message.replace('document must be a mapping with apiVersion, kind, metadata and spec', 'compose file must be a mapping').replace('file contains no manifest; add one or delete the file', 'compose file is empty; add a services: mapping'), ...ident(d) })
    if (parsed.errors.length === 0) errors.push(errorAt(d, where, `compose file "${rel}" must hold exactly one YAML document`))
    return { errors }
  }
  if (parsed.docs[0].value.apiVersion !== undefined && parsed.docs[0].value.kind !== undefined) {
    errors.push(errorAt(d, where, `compose file "${rel}" holds a Proximity manifest, not a compose file; point composeFile at a compose file`))
    return { errors }
  }
  const cd = parsed.docs[0]
  const compose = cd.value
  for (const e of checkComposeData(cd, compose, [])) {
    const tail = e.path === '' ? '' : e.path.startsWith('[') ? e.path : `.${e.path}`
    errors.push({ ...e, path: `spec.source.composeFile${tail}`, ...ident(d) })
  }
  errors.push(
    ...checkCompose(compose, (path, message, target, at) => {
      const p = locate(cd.doc, cd.lc, at ?? path, target)
      return { file: full, line: p.line, column: p.column, path: formatPath(['spec', 'source', 'composeFile', ...path]), message, ...ident(d) }
    }),
  )
  return { compose, errors }
}

const ident = (d: ParsedDoc): { kind?: string; name?: string } => {
  const id = identity(d)
  return { ...(id.kind ? { kind: id.kind } : {}), ...(id.name ? { name: id.name } : {}) }
}


type At = (path: FieldPath, message: string, target?: 'value' | 'key', at?: FieldPath) => ManifestError

/** Validates one compose document; returns located errors via `at`. */
export function checkCompose(compose: Record<string, unknown>, at: At): ManifestError[] {
  const errors: ManifestError[] = []
  const validate = composeSpecValidator()
  const specOk = validate(compose)
  if (!specOk) {
    for (const p of translateErrors(validate.errors ?? [])) errors.push(at(p.path, p.message, p.target, p.at))
  }
  const services = compose.services
  if (!services || typeof services !== 'object' || Object.keys(services).length === 0) {
    errors.push(at([], 'compose defines no services; add a services: mapping'))
    return errors
  }
  for (const [name, svc] of Object.entries(services as Record<string, unknown>)) {
    if (!svc || typeof svc !== 'object') continue
    const image = (svc as Record<string, unknown>).image
    if (image === undefined) {
      if (specOk && (svc as Record<string, unknown>).build === undefined) errors.push(at(['services', name], `service "${name}" has no image; set image`, 'key'))
      continue
    }
    if (typeof image === 'string' && !isValidImage(stripInterpolation(image))) {
      errors.push(at(['services', name, 'image'], `must be a Docker image reference such as nginx:1.27, got ${JSON.stringify(image.length > 60 ? image.slice(0, 57) + '...' : image)}`))
    }
  }
  return errors
}

/** Replaces compose `${VAR}` / `${VAR:-default}` interpolations with a placeholder tag-safe word. */
function stripInterpolation(image: string): string {
  return image.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][A-Za-z0-9_.-]*)?\}/g, 'x')
}

/** Sets the tag of the first service's image to `version`; returns a problem sentence or undefined. */
export function overrideMainTag(compose: Record<string, unknown>, version: string): string | undefined {
  const services = compose.services as Record<string, Record<string, unknown>> | undefined
  const first = services ? Object.values(services)[0] : undefined
  if (!first || typeof first.image !== 'string') return 'catalog app has no main image to apply the version to; remove version'
  const noDigest = first.image.split('@')[0]
  const lastSlash = noDigest.lastIndexOf('/')
  const lastColon = noDigest.lastIndexOf(':')
  const repo = lastColon > lastSlash ? noDigest.slice(0, lastColon) : noDigest
  const image = `${repo}:${version}`
  if (!isValidImage(image)) return `version "${version}" is not a valid image tag; use letters, digits, ".", "_" and "-"`
  first.image = image
  return undefined
}
