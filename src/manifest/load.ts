/**
 * Loads manifests: read files → parse YAML documents → validate each against its kind's schema
 * and the field rules of field-checks.ts → resolve App compose sources → normalise → cross-object checks → secret checks. All-or-nothing:
 * any error gives `{ ok: false, errors }` with every error found, sorted by file and line.
 * Reads files only; never throws for bad input.
 */
import { realpath } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { AppManifest, ApplianceManifest, BackupPolicyManifest, ClusterManifest, Kind, LoadResult, Manifest, ManifestError, ManifestSet, RestoreManifest } from '../model/types.js'
import { API_VERSION } from '../model/types.js'
import { parseDiskGiB, parseMemoryMiB } from '../model/units.js'
import { suggest, translateErrors } from './ajv-messages.js'
import type { CatalogPort } from './catalog-port.js'
import { prepareComposeValidator, resolveAppCompose } from './compose-source.js'
import { crossCheck, type CheckedDoc } from './cross-checks.js'
import { resolveClusterCa } from './cluster-ca.js'
import { checkFields } from './field-checks.js'
import { errorAt } from './located.js'
import { normalizeManifest } from './normalize.js'
import { readManifestFiles } from './read-files.js'
import { KINDS, kindValidator, prepareKindValidators } from './schemas.js'
import { checkSecrets } from './secret-checks.js'
import { parseManifestText, type ParsedDoc } from './yaml-docs.js'

/** Options of {@link loadManifests}. */
export interface LoadOptions {
  /** Base for relative paths and for file names in messages. @default process.cwd() */
  cwd?: string
  /** Secret key file used to check sealed values. */
  keyFile?: string
  /** Key file to try when `keyFile` is not given (the CLI passes defaultKeyPath(env, cwd)). */
  defaultKeyFile?: string
  /** Treat a missing key, env variable or secret file as an error (apply). @default false */
  requireKey?: boolean
  /** Environment for `{env}` secret refs (checked only with requireKey and when given). @default undefined */
  env?: Record<string, string | undefined>
  /** Catalog to expand `source.catalog` with. @default the built-in catalog (src/catalog) */
  catalog?: CatalogPort
  /** Largest manifest file accepted, in bytes. @default 5 MiB */
  maxFileBytes?: number
}

/** The result of loading, with non-fatal warnings (e.g. sealed values not checked: no key). */
export type LoadResultWithWarnings = LoadResult & { warnings: ManifestError[] }

/**
 * Loads, validates and normalises every manifest under `paths` (files or folders).
 * Never throws for bad input: every problem is a located error in the result.
 */
export async function loadManifests(paths: string[], opts: LoadOptions = {}): Promise<LoadResultWithWarnings> {
  const cwd = opts.cwd ?? process.cwd()
  const errors: ManifestError[] = []
  const { files, errors: readErrors } = await readManifestFiles(paths, { cwd, maxFileBytes: opts.maxFileBytes })
  errors.push(...readErrors)

  // A file is a manifest file or a compose file, never both. A loaded file named by an App's
  // composeFile is a compose file only when none of its documents looks like a manifest; then it
  // is left to compose-source.ts, which validates it in the context of its App. A file holding
  // manifests stays in the set whoever names it (the App naming it gets a located error), so no
  // manifest can vanish because some composeFile points at it.
  const parsedFiles = files.map((f) => ({ f, parsed: parseManifestText(f) }))
  const loadedByReal = new Map(files.map((f) => [f.real ?? f.file, f]))
  const named = new Set<string>()
  for (const { parsed } of parsedFiles) {
    for (const d of parsed.docs) {
      const cf = sourceOf(d)?.composeFile
      if (typeof cf !== 'string' || d.value.kind !== 'App' || cf.includes('\0')) continue
      const real = await realpath(resolve(dirname(d.file), cf)).catch(() => undefined)
      if (real && loadedByReal.has(real)) named.add(real)
    }
  }
  const docs: ParsedDoc[] = []
  const manifestFiles = new Set<string>()
  for (const { f, parsed } of parsedFiles) {
    const real = f.real ?? f.file
    if (named.has(real) && !parsed.docs.some(looksLikeManifest)) continue
    manifestFiles.add(real)
    errors.push(...parsed.errors)
    docs.push(...parsed.docs)
  }

  let catalog = opts.catalog
  if (!catalog && docs.some((d) => typeof sourceOf(d)?.catalog === 'string')) {
    const { defaultCatalog } = await import('./catalog-port.js')
    try {
      catalog = await defaultCatalog()
    } catch (e) {
      // A broken catalog data file is Proximity's bug, but say so once instead of crashing.
      const first = docs.find((d) => typeof sourceOf(d)?.catalog === 'string')!
      errors.push(errorAt(first, ['spec', 'source', 'catalog'], `the app catalog cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : 'unknown error'}); use source.compose meanwhile`))
      catalog = { get: () => undefined, names: () => [] }
    }
  }

  await Promise.all([prepareKindValidators(), prepareComposeValidator()])
  // Schema validation (ajv fills defaults into d.value in place; `raw` keeps what the user wrote).
  const valid: { d: ParsedDoc; raw: Record<string, unknown>; kind: Kind }[] = []
  for (const d of docs) {
    const kind = checkHeader(d, errors)
    if (!kind) continue
    // Which spec fields the user wrote (ajv adds defaults in place); a shallow copy is enough.
    const raw = { ...d.value, spec: d.value.spec && typeof d.value.spec === 'object' ? { ...(d.value.spec as object) } : d.value.spec }
    const validate = kindValidator(kind)
    const fieldErrors = validate(d.value) ? [...checkFields(d, kind), ...(kind === 'Cluster' ? await resolveClusterCa(d) : [])] : undefined
    if (fieldErrors?.length === 0) valid.push({ d, raw, kind })
    else if (fieldErrors) {
      errors.push(...fieldErrors)
      if (kind === 'App') errors.push(...(await resolveAppCompose(d, catalog, manifestFiles)).errors)
    } else {
      for (const p of translateErrors(validate.errors ?? [])) errors.push(errorAt(d, p.path, p.message, p.target, p.at))
      // Report compose problems of an otherwise invalid App too, so one run shows everything.
      if (kind === 'App' && hasUsableSource(d)) errors.push(...(await resolveAppCompose(d, catalog, manifestFiles)).errors)
    }
  }

  const clusterDoc = valid.find((v) => v.kind === 'Cluster')
  const cr = clusterDoc ? ((clusterDoc.d.value.spec as Record<string, Record<string, Record<string, unknown>>>).defaults?.resources ?? undefined) : undefined
  const clusterResources = cr ? { cores: cr.cores as number, memory: parseMemoryMiB(cr.memory), swap: parseMemoryMiB(cr.swap), disk: parseDiskGiB(cr.disk) } : undefined

  const checked: CheckedDoc[] = docs.map((d) => ({ d }))
  const byDoc = new Map(checked.map((c) => [c.d, c]))
  for (const v of valid) {
    let compose: Record<string, unknown> | undefined
    let catalogEntry
    if (v.kind === 'App') {
      const r = await resolveAppCompose(v.d, catalog, manifestFiles)
      errors.push(...r.errors)
      if (r.errors.length > 0) continue
      compose = r.compose
      catalogEntry = r.catalogEntry
    }
    try {
      const manifest = normalizeManifest(v.d.value, { raw: v.raw, source: { file: v.d.file, line: v.d.line, column: v.d.column }, clusterResources, catalogEntry, compose })
      byDoc.get(v.d)!.manifest = manifest
    } catch (e) {
      errors.push(errorAt(v.d, ['spec'], e instanceof Error ? e.message : 'cannot be normalised'))
    }
  }
  errors.push(...crossCheck(checked, cwd))

  const ready = checked.filter((c): c is { d: ParsedDoc; manifest: Manifest } => c.manifest !== undefined)
  const sec = await checkSecrets(ready, { keyFile: opts.keyFile ? resolve(cwd, opts.keyFile) : undefined, defaultKeyFile: opts.defaultKeyFile, requireKey: opts.requireKey, env: opts.env, cwd })
  errors.push(...sec.errors)
  const warnings = sortErrors(sec.warnings)

  if (errors.length > 0) return { ok: false, errors: sortErrors(errors), warnings }
  const set: ManifestSet = { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [...new Set(files.map((f) => f.root))] }
  for (const { manifest: m } of ready) {
    if (m.kind === 'Cluster') set.cluster = m as ClusterManifest
    else if (m.kind === 'App') set.apps.push(m as AppManifest)
    else if (m.kind === 'Appliance') set.appliances.push(m as ApplianceManifest)
    else if (m.kind === 'BackupPolicy') set.backupPolicies.push(m as BackupPolicyManifest)
    else set.restores.push(m as RestoreManifest)
  }
  return { ok: true, set, warnings }
}

function sourceOf(d: ParsedDoc): Record<string, unknown> | undefined {
  const spec = d.value.spec
  const src = spec && typeof spec === 'object' ? (spec as Record<string, unknown>).source : undefined
  return src && typeof src === 'object' && !Array.isArray(src) ? (src as Record<string, unknown>) : undefined
}

/** True when a document has the header of a Proximity manifest (compose files never do). */
function looksLikeManifest(d: ParsedDoc): boolean {
  return Object.prototype.hasOwnProperty.call(d.value, 'apiVersion') || Object.prototype.hasOwnProperty.call(d.value, 'kind')
}

function hasUsableSource(d: ParsedDoc): boolean {
  const src = sourceOf(d)
  if (!src) return false
  const set = [typeof src.catalog === 'string', !!src.compose && typeof src.compose === 'object' && !Array.isArray(src.compose), typeof src.composeFile === 'string']
  const present = ['catalog', 'compose', 'composeFile'].filter((k) => k in src).length
  return present === 1 && set.filter(Boolean).length === 1
}

/** Checks apiVersion and kind; returns the kind when the document can be schema-validated. */
function checkHeader(d: ParsedDoc, errors: ManifestError[]): Kind | undefined {
  const { apiVersion, kind } = d.value
  let ok = true
  if (apiVersion === undefined) {
    errors.push(errorAt(d, [], `missing apiVersion; add "apiVersion: ${API_VERSION}"`))
    ok = false
  } else if (apiVersion !== API_VERSION) {
    errors.push(errorAt(d, ['apiVersion'], `unsupported apiVersion ${JSON.stringify(String(apiVersion).slice(0, 60))}; use "${API_VERSION}"`))
    ok = false
  }
  if (kind === undefined) {
    errors.push(errorAt(d, [], `missing kind; set kind to one of ${KINDS.join(', ')}`))
    return undefined
  }
  if (typeof kind !== 'string' || !(KINDS as string[]).includes(kind)) {
    const s = typeof kind === 'string' ? suggest(kind, KINDS) : undefined
    errors.push(errorAt(d, ['kind'], `unknown kind ${JSON.stringify(String(kind).slice(0, 60))}${s ? `; did you mean "${s}"?` : `; use one of ${KINDS.join(', ')}`}`))
    return undefined
  }
  return ok ? (kind as Kind) : undefined
}

/** Sorts errors by file, line, column; stable for equal positions. */
export function sortErrors(errors: ManifestError[]): ManifestError[] {
  return [...errors].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column))
}
