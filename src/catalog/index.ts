/**
 * The one-click app catalog (DESIGN §1 `catalog/`): data files under `src/catalog/apps/*.yaml`,
 * read at run time from the package root (tsc does not copy YAML into dist), validated once and
 * cached. An App with `spec.source.catalog: NAME` is expanded from the entry by the manifest loader.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Ajv as AjvType, ValidateFunction } from 'ajv'
import jsYaml from 'js-yaml'
import { packageRoot } from '../model/paths.js'
import { loadValidatorsSync } from '../manifest/validator-cache.js'
import { catalogEntrySchema } from './entry-schema.js'

const require = createRequire(import.meta.url)

/** One catalog app: everything needed to expand `source.catalog: NAME` into a full App. */
export interface CatalogEntry {
  name: string
  description: string
  version: string
  compose: Record<string, unknown>
  health?: {
    http?: { port: number; path: string; expectStatus: number }
    tcp?: { port: number }
    compose?: boolean
    timeout?: string
  }
  /** cores; memory and swap in MiB; disk in GiB. */
  resources: { cores: number; memory: number; swap: number; disk: number }
  /** LXC mount points: absolute path inside the CT, size in GiB. */
  volumes: { name: string; path: string; size: number; backup?: boolean }[]
  /** Generated secrets, written to the app's `.env` and referenced from compose as `${NAME}`. */
  secrets: Record<string, { generate: { length: number } }>
  /** Defaults for `.env`, overridable by `spec.env`; referenced from compose as `${NAME}`. */
  env: Record<string, string>
  expose: { port: number }[]
  website?: string
}

/** A catalog data file is malformed: a programming error in Proximity, not a user error. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError'
}

let cache: { list: CatalogEntry[]; byName: Map<string, CatalogEntry> } | undefined

/** The folder the catalog data files are read from. */
export function catalogDir(): string {
  return join(packageRoot(), 'src', 'catalog', 'apps')
}

/**
 * Every catalog entry, sorted by name. Reads and validates the data files on first call and
 * caches the result; throws CatalogError naming the file and field if one is malformed.
 * WARNING: the returned objects are shared and frozen; copy before changing.
 */
export function listCatalog(): CatalogEntry[] {
  return [...load().list]
}

/** The entry called `name`, or undefined. Same caching and errors as listCatalog. */
export function getCatalogEntry(name: string): CatalogEntry | undefined {
  return load().byName.get(name)
}

function load(): NonNullable<typeof cache> {
  if (cache) return cache
  const dir = catalogDir()
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
  const list = files.map((f) => deepFreeze(parseCatalogEntry(readFileSync(join(dir, f), 'utf8'), f)))
  list.sort((a, b) => a.name.localeCompare(b.name))
  cache = { list, byName: new Map(list.map((e) => [e.name, e])) }
  return cache
}

let entryValidator: ValidateFunction | undefined

/** The compiled entry schema, from the standalone-code cache when possible (ajv compiles slowly). */
function validate(doc: unknown): doc is CatalogEntry {
  entryValidator ??= loadValidatorsSync({
    name: 'catalog-entry',
    inputs: [JSON.stringify(catalogEntrySchema)],
    build: () => {
      const { Ajv } = require('ajv') as { Ajv: new (o: object) => AjvType }
      const ajv = new Ajv({ allErrors: true, strict: true, code: { source: true } })
      ajv.addSchema(catalogEntrySchema, 'catalog-entry')
      return ajv
    },
    exports: { entry: 'catalog-entry' },
  }).entry
  return entryValidator(doc)
}

/**
 * Parses and checks one catalog data file. `file` is its base name (`whoami.yaml`): the entry's
 * `name` must match it. Beyond the schema, every `${VAR}` used in compose must be declared in
 * `env` or `secrets`, and env and secret names must not overlap. Pure; throws CatalogError.
 */
export function parseCatalogEntry(text: string, file: string): CatalogEntry {
  const where = `catalog file src/catalog/apps/${file}`
  let doc: unknown
  try {
    // Our own data files: js-yaml with the YAML 1.2 core schema (fast; duplicate keys throw).
    doc = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, json: false })
  } catch (e) {
    throw new CatalogError(`${where}: invalid YAML: ${(e as Error).message}`)
  }
  if (!validate(doc)) {
    const detail = (entryValidator?.errors ?? [])
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
      .join('; ')
    throw new CatalogError(`${where}: ${detail}`)
  }
  const entry = doc
  if (`${entry.name}.yaml` !== file) throw new CatalogError(`${where}: name "${entry.name}" must match the file name`)
  for (const k of Object.keys(entry.secrets)) {
    if (k in entry.env) throw new CatalogError(`${where}: "${k}" is both an env default and a generated secret`)
  }
  const declared = new Set([...Object.keys(entry.env), ...Object.keys(entry.secrets)])
  for (const v of interpolatedNames(entry.compose)) {
    if (!declared.has(v)) throw new CatalogError(`${where}: compose uses \${${v}} but it is not declared in env or secrets`)
  }
  return entry
}

/**
 * Names of the `${VAR}` (and `${VAR:-x}`, `${VAR?err}` …) interpolations in every string of a
 * compose document, ignoring `$$` escapes. Pure.
 */
export function interpolatedNames(value: unknown): Set<string> {
  const names = new Set<string>()
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1])
    } else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(value)
  return names
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x)
    Object.freeze(v)
  }
  return v
}
