/**
 * Compiling the manifest and Compose schemas with ajv costs several hundred milliseconds, which
 * would dominate `proximity validate` start-up. This module compiles them once into standalone
 * validator code (ajv `standaloneCode`) and caches it under
 * `node_modules/.cache/proximity/`, keyed by a hash of the schema files and the ajv version.
 * Later runs `require` the cached code. Any cache problem (read-only tree, corrupt file) falls
 * back to compiling in memory, so the cache can only make things faster, never different.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Ajv, ValidateFunction } from 'ajv'
import { packageRoot } from '../model/paths.js'

type StandaloneCode = (ajv: Ajv, refsOrFunc?: Record<string, string>) => string
const require = createRequire(import.meta.url)

/** What to build: export name → schema `$id`, plus the inputs that define the result. */
export interface ValidatorBundle {
  /** Cache file stem, e.g. `manifest-validators`. */
  name: string
  /** Texts that determine the compiled code (schema files, options). */
  inputs: string[]
  /** Builds the ajv instance with every schema added and `code.source` on (imports ajv lazily). */
  build: () => Promise<Ajv>
  /** Export name → schema id. */
  exports: Record<string, string>
}

/**
 * Returns the bundle's validators by export name, from the cache when possible.
 * Never throws for cache problems; compile errors (a bad schema) do throw: that is a bug.
 */
export async function loadValidators(bundle: ValidatorBundle): Promise<Record<string, ValidateFunction>> {
  const file = cacheFile(bundle)
  const cached = tryRequire(file)
  if (cached) return cached
  const ajv = await bundle.build()
  const standaloneModule = await import('ajv/dist/standalone/index.js').catch(() => undefined)
  return compiledAndCached(ajv, bundle, file, standaloneModule)
}

/**
 * The synchronous form of `loadValidators`, for modules whose API is synchronous (the catalog).
 * `build` must be synchronous too (require ajv inside it, so a cache hit never loads ajv).
 */
export function loadValidatorsSync(bundle: Omit<ValidatorBundle, 'build'> & { build: () => Ajv }): Record<string, ValidateFunction> {
  const file = cacheFile(bundle)
  const cached = tryRequire(file)
  if (cached) return cached
  let standaloneModule: unknown
  try {
    standaloneModule = require('ajv/dist/standalone/index.js')
  } catch {
    standaloneModule = undefined
  }
  return compiledAndCached(bundle.build(), bundle, file, standaloneModule)
}

function cacheFile(bundle: Pick<ValidatorBundle, 'name' | 'inputs'>): string {
  const hash = createHash('sha256')
  hash.update(String((require('ajv/package.json') as { version: string }).version))
  for (const i of bundle.inputs) hash.update(i)
  const dir = join(packageRoot(), 'node_modules', '.cache', 'proximity')
  return join(dir, `${bundle.name}-${hash.digest('hex').slice(0, 16)}.cjs`)
}

function tryRequire(file: string): Record<string, ValidateFunction> | undefined {
  try {
    return require(file) as Record<string, ValidateFunction>
  } catch {
    return undefined // not cached yet (or unreadable): the caller compiles
  }
}

function compiledAndCached(ajv: Ajv, bundle: Pick<ValidatorBundle, 'exports'>, file: string, standaloneModule: unknown): Record<string, ValidateFunction> {
  const out: Record<string, ValidateFunction> = {}
  for (const [k, id] of Object.entries(bundle.exports)) out[k] = ajv.getSchema(id) as ValidateFunction
  if (!standaloneModule) return out
  try {
    const standaloneCode = ((standaloneModule as { default?: StandaloneCode }).default ?? standaloneModule) as StandaloneCode
    const code = standaloneCode(ajv, bundle.exports)
    mkdirSync(dirname(file), { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, code)
    renameSync(tmp, file)
  } catch {
    // a read-only install just stays uncached
  }
  return out
}

/** Reads a file as text for use in `inputs`. */
export const fileText = (path: string): string => readFileSync(path, 'utf8')
