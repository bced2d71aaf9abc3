import { paramError, PveError } from './errors.js'
import { checkFormat, HASH_FORMATS, validateHashFormat } from './formats.js'
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
const NUM_RE = /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/

/**
 * Checks one scalar against its schema in the order of pve-common `check_prop`: type, format,
 * pattern, maxLength, minLength, maximum, minimum, enum. Returns the error text or the typed value.
 */
function checkValue(s: ParamSchema, v: string, path: string): { error: string } | { value: string | number } {
  const type = s.type ?? 'string'
  let value: string | number = v
  if (type === 'boolean') {
    if (v !== '1' && v !== '0') return { error: `type check ('boolean') failed - got '${v}'` }
    value = Number(v)
  } else if (type === 'integer' || type === 'number') {
    if (!(type === 'integer' ? INT_RE : NUM_RE).test(v)) return { error: `type check ('${type}') failed - got '${v}'` }
    value = Number(v)
  }
  const fe = checkAnyFormat(s.format, v, path)
  if (fe) return { error: `invalid format - ${fe}` }
  if (s.pattern) {
    const re = schemaRegex(s.pattern)
    if (re && !re.test(v)) return { error: 'value does not match the regex pattern' }
  }
  if (s.maxLength !== undefined && v.length > s.maxLength) return { error: `value may only be ${s.maxLength} characters long` }
  if (s.minLength !== undefined && v.length < s.minLength) return { error: `value must be at least ${s.minLength} characters long` }
  if (NUM_RE.test(v)) {
    if (s.maximum !== undefined && Number(v) > Number(s.maximum)) return { error: `value must have a maximum value of ${s.maximum}` }
    if (s.minimum !== undefined && Number(v) < Number(s.minimum)) return { error: `value must have a minimum value of ${s.minimum}` }
  }
  if (s.enum && !s.enum.includes(v)) return { error: `value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'` }
  return { value }
}

/**
 * Checks a value against a `format` (a named code format, a named hash format, or an inline
 * property-string format). Returns the text after `invalid format - ` (newline-terminated, as
 * PVE's `die` leaves it) or undefined.
 */
function checkAnyFormat(format: ParamSchema['format'], v: string, path: string): string | undefined {
  if (format === undefined) return undefined
  if (typeof format === 'string') {
    const hash = HASH_FORMATS[format]
    if (!hash) {
      const e = checkFormat(format, v)
      return e === undefined ? undefined : `${e}\n`
    }
    const e = checkPropertyString(hash, v, path)
    if (e) return e
    const extra = validateHashFormat(format, parsePropertyString(v, defaultKeyOf(hash)) ?? {})
    return extra === undefined ? undefined : `${extra}\n`
  }
  return checkPropertyString(format, v, path)
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

const BOOL_WORDS: Record<string, string> = { '1': '1', on: '1', yes: '1', true: '1', '0': '0', off: '0', no: '0', false: '0' }

/**
 * Validates a property string against its format description (pve-common
 * `parse_property_string`). `path` is the parameter name, prefixed to each key in the error.
 * Returns PVE's message (newline-terminated) or undefined: a syntax error is one line, key errors
 * are `format error` followed by one `path.key: message` line each.
 */
export function checkPropertyString(format: Record<string, ParamSchema>, v: string, path = ''): string | undefined {
  const defaultKey = defaultKeyOf(format)
  const parsed: Record<string, string> = {}
  for (const part of v.split(',')) {
    if (/^\s*$/.test(part)) continue
    const i = part.indexOf('=')
    if (i === 0 || i === part.length - 1) return 'missing key in comma-separated list property\n'
    let [k, val] = i < 0 ? [defaultKey, part] : [part.slice(0, i), part.slice(i + 1)]
    if (k === undefined || k === '') return 'value without key, but schema does not define a default key\n'
    if (parsed[k] !== undefined) return `duplicate key in comma-separated list property: ${k}\n`
    const sub = format[k]
    if (sub?.alias) k = sub.alias
    const schema = format[k]
    if (!schema) return `invalid key in comma-separated list property: ${k}\n`
    if (schema.type === 'boolean') val = BOOL_WORDS[val.toLowerCase()] ?? val
    parsed[k] = val
  }
  const lines: string[] = []
  const at = (k: string): string => (path ? `${path}.${k}` : k)
  for (const [k, sub] of Object.entries(format)) {
    if (sub.alias) continue
    const val = parsed[k]
    if (val === undefined) {
      if (!sub.optional) lines.push(`${at(k)}: property is missing and it is not optional`)
      continue
    }
    const r = checkValue(sub, val, at(k))
    if ('error' in r) lines.push(`${at(k)}: ${r.error}`)
  }
  return lines.length === 0 ? undefined : `format error\n${lines.map((l) => `${l}\n`).join('')}`
}

/** Default key of a property-string format ('' when none), per (immutable) schema object. */
const defaultKeys = new WeakMap<Record<string, ParamSchema>, string>()

function defaultKeyOf(format: Record<string, ParamSchema>): string | undefined {
  let key = defaultKeys.get(format)
  if (key === undefined) {
    key = Object.keys(format).find((k) => format[k]?.default_key) ?? ''
    defaultKeys.set(format, key)
  }
  return key || undefined
}
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
      const bad = list.map((x) => checkValue(item, x, k)).find((r) => 'error' in r)
      if (bad && 'error' in bad) errors[k] = bad.error
      else out[k] = list
      continue
    }
    if (Array.isArray(v)) {
      errors[k] = 'duplicate parameter'
      continue
    }
    const r = checkValue(s, v, k)
    if ('error' in r) errors[k] = r.error
    else out[k] = r.value
  }
  // check_object: a present parameter may require another one (`requires`).
  for (const k of Object.keys(raw)) {
    const needs = lookupParam(props, k)?.requires
    if (typeof needs === 'string' && raw[needs] === undefined && errors[needs] === undefined) errors[needs] = `missing property required by '${k}'`
  }
  for (const k of required(schema, props)) {
    if (raw[k] === undefined && errors[k] === undefined) errors[k] = 'property is missing and it is not optional'
  }
  if (Object.keys(errors).length > 0) throw paramError(errors)
  return out
}
