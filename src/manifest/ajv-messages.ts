/**
 * Turns ajv errors into sentences a person can act on, each with the field path and whether it
 * should point at the key or the value. Pure. Values that may be secrets are never echoed.
 */
import type { ErrorObject } from 'ajv'
import { closest, distance } from 'fastest-levenshtein'
import { formatPath, pointerToPath, type FieldPath } from './locate.js'
import { checkHostname, checkName, HOSTNAME_PATTERN, NAME_PATTERN } from '../model/names.js'

/** One translated schema problem. */
export interface SchemaProblem {
  path: FieldPath
  target: 'value' | 'key'
  message: string
  /** Where to point when it differs from `path` (a missing field points at its parent's key). */
  at?: FieldPath
}

/** Suggests the closest of `options` to `word`, or undefined when nothing is close. */
export function suggest(word: string, options: readonly string[]): string | undefined {
  if (options.length === 0) return undefined
  const best = closest(word, options as string[])
  const d = distance(word.toLowerCase(), best.toLowerCase())
  return d <= Math.max(2, Math.floor(best.length / 3)) && d < word.length ? best : undefined
}

const SECRET_SEGMENTS = new Set(['secrets', 'tokenSecret', 'password', 'privateKey', 'sealed'])

/** Describes a value for a message, without echoing secrets or long text. */
export function describeValue(data: unknown, path: FieldPath): string {
  if (data === null || data === undefined) return 'nothing'
  if (Array.isArray(data)) return 'a list'
  if (typeof data === 'object') return 'a mapping'
  if (typeof data === 'number' && !Number.isFinite(data)) return Number.isNaN(data) ? '.nan (not a number)' : data > 0 ? '.inf (infinity)' : '-.inf (minus infinity)'
  if (typeof data === 'string') {
    if (path.some((s) => typeof s === 'string' && SECRET_SEGMENTS.has(s))) return 'a string'
    const shown = data.length > 40 ? `${data.slice(0, 37)}...` : data
    return JSON.stringify(shown)
  }
  return String(data)
}

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
}

const list = (xs: readonly unknown[]): string => {
  const q = xs.map((x) => JSON.stringify(x))
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`
}

const hintOf = (schema: unknown): string | undefined => (schema as { 'x-hint'?: string } | undefined)?.['x-hint']

/**
 * Translates ajv errors (compiled with `allErrors` and `verbose`) into located problems,
 * dropping the noise of failed `oneOf` branches and duplicate reports.
 */
export function translateErrors(errors: readonly ErrorObject[]): SchemaProblem[] {
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.schemaPath + '/')
  const out: SchemaProblem[] = []
  const seen = new Set<string>()
  const tooLong = new Set(errors.filter((e) => e.keyword === 'maxLength').map((e) => e.instancePath))
  for (const e of errors) {
    if (oneOfPaths.some((p) => e.schemaPath.startsWith(p))) continue
    if (e.keyword === 'pattern' && tooLong.has(e.instancePath)) continue // the length is the problem
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue // reported by propertyNames
    const p = translate(e)
    if (!p) continue
    const k = `${formatPath(p.path)}|${p.message}`
    if (seen.has(k)) continue
    seen.add(k)
    out.push(p)
  }
  return out
}

function translate(e: ErrorObject): SchemaProblem | undefined {
  const path = pointerToPath(e.instancePath)
  const params = e.params as Record<string, unknown>
  const parent = e.parentSchema as Record<string, unknown> | undefined
  const hint = hintOf(parent)
  const got = describeValue(e.data, path)
  switch (e.keyword) {
    case 'required': {
      const missing = String(params.missingProperty)
      return { path: [...path, missing], at: path, target: 'key', message: `missing required field "${missing}"${path.length === 0 ? '' : `; add it under ${formatPath(path)}`}` }
    }
    case 'dependentRequired':
      return { path: [...path, String(params.property)], target: 'key', message: `"${String(params.property)}" needs "${String(params.missingProperty)}" to be set; add it or remove "${String(params.property)}"` }
    case 'additionalProperties': {
      const field = String(params.additionalProperty)
      const known = Object.keys((parent?.properties as object | undefined) ?? {})
      const s = suggest(field, known)
      const tail = s ? `; did you mean "${s}"?` : known.length > 0 && known.length <= 12 ? `; known fields: ${known.join(', ')}` : '; remove it'
      return { path: [...path, field], target: 'key', message: `unknown field "${field}"${tail}` }
    }
    case 'type': {
      if (hint && typeof e.data !== 'object') return { path, target: 'value', message: `${hint}, got ${got}` }
      const types = Array.isArray(params.type) ? params.type : String(params.type).split(',')
      const want = list(types.map((t) => TYPE_NAMES[t as string] ?? t)).replaceAll('"', '')
      return { path, target: 'value', message: `must be ${want}, got ${got}` }
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? []
      const s = typeof e.data === 'string' ? suggest(e.data, allowed.map(String)) : undefined
      return { path, target: 'value', message: `must be one of ${list(allowed)}, got ${got}${s ? `; did you mean "${s}"?` : ''}` }
    }
    case 'const':
      return { path, target: 'value', message: `must be ${JSON.stringify(params.allowedValue)}, got ${got}` }
    case 'pattern':
      if (parent?.pattern === NAME_PATTERN.source && typeof e.data === 'string') return { path, target: 'value', message: `${checkName(e.data) ?? 'invalid name'}, got ${got}` }
      if (parent?.pattern === HOSTNAME_PATTERN.source && hint?.includes('DNS name') && typeof e.data === 'string') return { path, target: 'value', message: `${checkHostname(e.data) ?? 'invalid hostname'}, got ${got}` }
      return { path, target: 'value', message: hint ? `${hint}, got ${got}` : `has an invalid format, got ${got}` }
    case 'format':
      return { path, target: 'value', message: hint ? `${hint}, got ${got}` : e.keyword === 'format' ? `must be a valid ${String(params.format)}, got ${got}` : `has an invalid format, got ${got}` }
    case 'propertyNames': {
      const name = String(params.propertyName)
      const h = hintOf((parent?.propertyNames as object | undefined) ?? undefined)
      return { path: [...path, name], target: 'key', message: `"${name}" ${h ?? 'is not an allowed key'}` }
    }
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const words: Record<string, string> = { minimum: 'at least', exclusiveMinimum: 'greater than', maximum: 'at most', exclusiveMaximum: 'less than' }
      return { path, target: 'value', message: `must be ${words[e.keyword]} ${String(params.limit)}, got ${got}` }
    }
    case 'minLength':
      return { path, target: 'value', message: `must not be empty${Number(params.limit) > 1 ? ` (at least ${String(params.limit)} characters)` : ''}` }
    case 'maxLength':
      return { path, target: 'value', message: `is ${typeof e.data === 'string' ? e.data.length : '?'} characters; use at most ${String(params.limit)}` }
    case 'minItems':
      return { path, target: 'value', message: `must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` }
    case 'maxItems':
      return { path, target: 'value', message: `must list at most ${String(params.limit)} items` }
    case 'uniqueItems': {
      const j = Number(params.j)
      const item = Array.isArray(e.data) ? e.data[j] : undefined
      return { path: [...path, Number(params.i)], target: 'value', message: `lists ${describeValue(item, path)} twice; remove the duplicate` }
    }
    case 'minProperties':
    case 'maxProperties':
      return { path, target: 'value', message: hint ?? (e.keyword === 'minProperties' ? `must set at least ${String(params.limit)} field(s)` : `must set at most ${String(params.limit)} field(s)`) }
    case 'oneOf': {
      const branches = ((e.schema as { required?: string[] }[]) ?? []).map((b) => b.required?.join(' + ') ?? '?')
      const data = (e.data ?? {}) as Record<string, unknown>
      const present = typeof data === 'object' ? branches.filter((b) => b.split(' + ').some((k) => k in data)) : []
      const msg = params.passingSchemas
        ? `set only one of ${list(branches).replaceAll('"', '')}; found ${present.join(' and ')}`
        : present.length > 0
          ? `${present[0]} go together; add ${present[0].split(' + ').filter((k) => !(k in data)).map((k) => `"${k}"`).join(' and ')}`
          : `set exactly one of ${list(branches).replaceAll('"', '')}`
      return { path, target: path.length ? 'key' : 'value', message: msg }
    }
    default:
      return { path, target: 'value', message: (e.message ?? 'is invalid').toLowerCase() }
  }
}
