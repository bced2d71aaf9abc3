/**
 * An optional on-disk cache of parsed manifest files, keyed by a hash of the file content (and
 * the yaml library version), like `eslint --cache`. A hit skips YAML parsing, which dominates
 * validating large manifest sets; schema validation, cross-checks and secret checks still run
 * every time. Only files that parsed without any error and whose data survives a JSON round
 * trip are cached; the YAML tree for locating errors is rebuilt on demand from the text.
 * Every cache problem is ignored: the cache can make loading faster, never different.
 * WARNING: entries hold manifest data (never secret plaintext: manifests only carry sealed
 * values); the folder can be deleted at any time.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/** One cached document: its data and where it starts. */
export interface CachedDoc {
  index: number
  value: Record<string, unknown>
  line: number
  column: number
}

/** Get/put by file text. */
export interface ParseCache {
  get(text: string): CachedDoc[] | undefined
  put(text: string, docs: CachedDoc[]): void
}

const FORMAT = 'proximity-parse-cache-v1'
const yamlVersion = (): string => {
  try {
    return String((createRequire(import.meta.url)('yaml/package.json') as { version: string }).version)
  } catch {
    return 'unknown'
  }
}

/** A cache storing one JSON file per content hash under `dir` (created on first write). */
export function createParseCache(dir: string): ParseCache {
  const salt = `${FORMAT}\0${yamlVersion()}\0`
  const path = (text: string): string => join(dir, `${createHash('sha256').update(salt).update(text).digest('hex')}.json`)
  let dirReady = false
  return {
    get(text) {
      try {
        const parsed = JSON.parse(readFileSync(path(text), 'utf8')) as { docs?: CachedDoc[] }
        return Array.isArray(parsed.docs) ? parsed.docs : undefined
      } catch {
        return undefined
      }
    },
    put(text, docs) {
      if (!docs.every((d) => isJsonSafe(d.value, 0))) return
      try {
        if (!dirReady) mkdirSync(dir, { recursive: true })
        dirReady = true
        const file = path(text)
        const tmp = `${file}.${process.pid}.tmp`
        writeFileSync(tmp, JSON.stringify({ docs }))
        renameSync(tmp, file)
      } catch {
        // read-only or full disk: stay uncached
      }
    },
  }
}

/** True when `v` is plain JSON data (finite numbers, plain objects and arrays only). */
function isJsonSafe(v: unknown, depth: number): boolean {
  if (depth > 100) return false
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0)
  if (Array.isArray(v)) return v.every((x) => isJsonSafe(x, depth + 1))
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v).every((x) => isJsonSafe(x, depth + 1))
  return false
}
