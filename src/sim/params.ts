import { paramError, PveError } from './errors.js'
import { checkFormat } from './formats.js'
import { lookupParam, schemaRegex, type MethodSchema, type ParamSchema } from './schema.js'

/** Validated request parameters: integers, numbers and booleans as numbers, the rest strings. */
export type Params = Record<string, string | number | string[]>

/**
 * Decodes an urlencoded body or query the way pveproxy does: pairs split on `&` AND `;`, each
 * pair cut at `=` (value ends at the next raw `=`), repeated keys become arrays.
 */
export function decodeForm(text: string, into: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  for (const pair of text.split(/[&;]/)) {
    if (pair === '') continue
    const parts = pair.split('=')
    const k = decode(parts[0] ?? '')
    const v = decode(parts[1] ?? '')
    const prev = into[k]
    if (prev === undefined) into[k] = v
    else into[k] = Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  return into
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

/** Converts a JSON body to raw string parameters (`true` → `1`). */
export function decodeJson(text: string): Record<string, string | string[]> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new PveError(400, 'malformed JSON body')
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PveError(400, 'malformed JSON body')
  const out: Record<string, string | string[]> = {}
  const str = (v: unknown): string => (v === true ? '1' : v === false ? '0' : typeof v === 'string' ? v : JSON.stringify(v))
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (v === null || v === undefined) continue
    out[k] = Array.isArray(v) ? v.map(str) : str(v)
  }
  return out
}

const INT_RE = /^[+-]?\d+$/
const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** Checks one scalar against its schema; returns the error text or the typed value. */
function checkValue(s: ParamSchema, v: string): { error: string } | { value: string | number } {
  const type = s.type ?? 'string'
  if (type === 'boolean') {
    if (v === '1' || v === '0') return { value: Number(v) }
    return { error: `type check ('boolean') failed - got '${v}'` }
  }
  if (type === 'integer' || type === 'number') {
    if (!(type === 'integer' ? INT_RE : NUM_RE).test(v)) return { error: `type check ('${type}') failed - got '${v}'` }
    const n = Number(v)
    if (s.minimum !== undefined && n < s.minimum) return { error: `value must have a minimum value of ${s.minimum}` }
    if (s.maximum !== undefined && n > s.maximum) return { error: `value must have a maximum value of ${s.maximum}` }
    if (typeof s.format === 'string') {
      const fe = checkFormat(s.format, v)
      if (fe) return { error: `invalid format - ${fe}\n` }
    }
    return { value: n }
  }
  if (s.maxLength !== undefined && v.length > s.maxLength) return { error: `value may only be ${s.maxLength} characters long` }
  if (s.minLength !== undefined && v.length < s.minLength) return { error: `value must be at least ${s.minLength} characters long` }
  if (s.enum && !s.enum.includes(v)) return { error: `value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'` }
  if (s.pattern) {
    const re = schemaRegex(s.pattern)
    if (re && !re.test(v)) return { error: 'value does not match the regex pattern' }
  }
  if (typeof s.format === 'string') {
    const fe = checkFormat(s.format, v)
    if (fe) return { error: `invalid format - ${fe}\n` }
  } else if (s.format && typeof s.format === 'object') {
    const fe = checkPropertyString(s.format, v)
    if (fe) return { error: `invalid format - format error\n${fe}\n` }
  }
  return { value: v }
}

/** Parses `k=v,k=v` with the default key; returns undefined for syntax errors. */
export function parsePropertyString(v: string, defaultKey?: string): Record<string, string> | undefined {
  const out: Record<string, string> = {}
  for (const part of v.split(',')) {
    if (part === '') continue
    const i = part.indexOf('=')
    if (i < 0) {
      if (!defaultKey || out[defaultKey] !== undefined) return undefined
      out[defaultKey] = part
    } else out[part.slice(0, i)] = part.slice(i + 1)
  }
  return out
}

/** Validates a property string against its format description; returns `key: message` or undefined. */
export function checkPropertyString(format: Record<string, ParamSchema>, v: string): string | undefined {
  let defaultKey = defaultKeys.get(format)
  if (defaultKey === undefined) {
    defaultKey = Object.keys(format).find((k) => format[k]?.default_key) ?? ''
    defaultKeys.set(format, defaultKey)
  }
  const parsed = parsePropertyString(v, defaultKey || undefined)
  if (!parsed) return `value without key, but schema does not define a default key`
  for (const [k, val] of Object.entries(parsed)) {
    const sub = format[k]
    if (!sub) return `${k}: property is not defined in schema and the schema does not allow additional properties`
    const r = checkValue(sub.alias ? (format[sub.alias] ?? sub) : sub, val)
    if ('error' in r) return `${k}: ${r.error.replace(/\n$/, '')}`
  }
  for (const [k, sub] of Object.entries(format)) {
    if (!sub.optional && !sub.alias && parsed[k] === undefined) return `${k}: property is missing and it is not optional`
  }
  return undefined
}

/** Default key of a property-string format ('' when none), per (immutable) schema object. */
const defaultKeys = new WeakMap<Record<string, ParamSchema>, string>()
/** Mandatory parameter names of a method schema, computed once per schema. */
const requiredParams = new WeakMap<MethodSchema, string[]>()

function required(schema: MethodSchema, props: Record<string, ParamSchema>): string[] {
  let list = requiredParams.get(schema)
  if (!list) {
    list = Object.entries(props)
      .filter(([k, s]) => !s.optional && !k.endsWith('[n]'))
      .map(([k]) => k)
    requiredParams.set(schema, list)
  }
  return list
}

/**
 * Validates raw parameters against a method schema (`additionalProperties: 0` everywhere).
 * Throws 400 `Parameter verification failed.` with the per-parameter map; returns typed values.
 */
export function validateParams(schema: MethodSchema, raw: Record<string, string | string[]>): Params {
  const props = schema.parameters?.properties ?? {}
  const errors: Record<string, string> = {}
  const out: Params = {}
  for (const [k, v] of Object.entries(raw)) {
    const s = lookupParam(props, k)
    if (!s) {
      errors[k] = 'property is not defined in schema and the schema does not allow additional properties'
      continue
    }
    if (s.type === 'array') {
      const list = Array.isArray(v) ? v : [v]
      const item = s.items ?? { type: 'string' }
      const bad = list.map((x) => checkValue(item, x)).find((r) => 'error' in r)
      if (bad && 'error' in bad) errors[k] = bad.error
      else out[k] = list
      continue
    }
    if (Array.isArray(v)) {
      errors[k] = 'duplicate parameter'
      continue
    }
    const r = checkValue(s, v)
    if ('error' in r) errors[k] = r.error
    else out[k] = r.value
  }
  for (const k of required(schema, props)) {
    if (raw[k] === undefined && errors[k] === undefined) errors[k] = 'property is missing and it is not optional'
  }
  if (Object.keys(errors).length > 0) throw paramError(errors)
  return out
}
