/**
 * A checker for response data against the `returns` schema of a pve-apidata method, in the
 * schema dialect PVE uses (pve-common JSONSchema.pm): `type` string | integer | number | boolean |
 * object | array | null | any, `properties`, `items`, `optional`, `enum`, `pattern`, `minimum`,
 * `maximum`, `maxLength`, `format` (named formats and property-string formats) and explicit
 * `additionalProperties: 0`.
 *
 * Choices where the dialect leaves room (each one what real PVE puts on the wire):
 * - booleans are the JSON numbers 0/1 (Perl has no booleans); JSON true/false are accepted too;
 * - a property that is null or absent is only an error when it is not `optional`;
 * - undeclared object keys are accepted unless the schema says `additionalProperties: 0`
 *   (PVE returns undeclared keys such as `type` on backup jobs or `digest` on HA resources);
 * - a property named `net[n]` covers `net0`, `net1`, … (indexed config keys).
 */
import { checkPropertyString } from './params.js'
import { checkFormat } from './formats.js'
import { lookupParam, schemaRegex, type ParamSchema } from './schema.js'

/** One node of a `returns` schema. */
export interface ReturnSchema extends Omit<ParamSchema, 'items' | 'optional'> {
  optional?: number | string
  properties?: Record<string, ReturnSchema>
  items?: ReturnSchema
  additionalProperties?: number | ReturnSchema
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v))

/**
 * Checks `value` against `schema`. Pure. Returns every violation as `path: message` (PVE's
 * wording where it has one); an empty list means the value conforms. `path` names the root
 * (`data` by default).
 */
export function checkShape(schema: ReturnSchema | undefined, value: unknown, path = 'data'): string[] {
  const errors: string[] = []
  if (schema) visit(schema, value, path, errors)
  return errors
}

function visit(s: ReturnSchema, v: unknown, path: string, errors: string[]): void {
  const type = s.type ?? (s.properties ? 'object' : s.items ? 'array' : undefined)
  if (v === null || v === undefined) {
    if (type === 'null' || type === undefined || type === 'any') return
    errors.push(`${path}: type check ('${type}') failed - got null`)
    return
  }
  switch (type) {
    case undefined:
    case 'any':
      return
    case 'null':
      errors.push(`${path}: type check ('null') failed - got ${show(v)}`)
      return
    case 'boolean':
      if (v !== 0 && v !== 1 && v !== true && v !== false) errors.push(`${path}: type check ('boolean') failed - got '${show(v)}'`)
      return
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v) || (type === 'integer' && !Number.isInteger(v))) {
        errors.push(`${path}: type check ('${type}') failed - got '${show(v)}'`)
        return
      }
      if (s.minimum !== undefined && v < Number(s.minimum)) errors.push(`${path}: value must have a minimum value of ${s.minimum}`)
      if (s.maximum !== undefined && v > Number(s.maximum)) errors.push(`${path}: value must have a maximum value of ${s.maximum}`)
      if (s.enum && !s.enum.map(String).includes(String(v))) errors.push(`${path}: value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'`)
      return
    case 'string':
      if (typeof v !== 'string') {
        errors.push(`${path}: type check ('string') failed - got ${typeof v === 'object' ? (Array.isArray(v) ? 'an array' : 'an object') : show(v)}`)
        return
      }
      checkString(s, v, path, errors)
      return
    case 'array':
      if (!Array.isArray(v)) {
        errors.push(`${path}: type check ('array') failed - got ${typeof v === 'object' ? 'an object' : `'${show(v)}'`}`)
        return
      }
      if (s.items) v.forEach((item, i) => visit(s.items as ReturnSchema, item, `${path}[${i}]`, errors))
      return
    case 'object':
      if (typeof v !== 'object' || Array.isArray(v)) {
        errors.push(`${path}: type check ('object') failed - got ${Array.isArray(v) ? 'an array' : `'${show(v)}'`}`)
        return
      }
      checkObject(s, v as Record<string, unknown>, path, errors)
      return
    default:
      errors.push(`${path}: unknown schema type '${type}'`)
  }
}

function checkString(s: ReturnSchema, v: string, path: string, errors: string[]): void {
  if (s.maxLength !== undefined && v.length > s.maxLength) errors.push(`${path}: value may only be ${s.maxLength} characters long`)
  if (s.enum && !s.enum.includes(v)) errors.push(`${path}: value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'`)
  if (s.pattern) {
    const re = schemaRegex(s.pattern)
    if (re && !re.test(v)) errors.push(`${path}: value does not match the regex pattern`)
  }
  if (typeof s.format === 'string') {
    const e = checkFormat(s.format, v)
    if (e) errors.push(`${path}: invalid format - ${e}`)
  } else if (s.format && typeof s.format === 'object') {
    const e = checkPropertyString(s.format, v)
    if (e) errors.push(`${path}: invalid format - ${e.trimEnd()}`)
  }
}

function checkObject(s: ReturnSchema, v: Record<string, unknown>, path: string, errors: string[]): void {
  const props = s.properties ?? {}
  for (const [k, sub] of Object.entries(props)) {
    if (k.endsWith('[n]')) continue
    const optional = sub.optional !== undefined && Number(sub.optional) === 1
    if ((v[k] === undefined || v[k] === null) && !optional && sub.type !== 'null') errors.push(`${path}.${k}: property is missing and it is not optional`)
  }
  for (const [k, value] of Object.entries(v)) {
    if (value === undefined || value === null) continue
    const sub = lookupParam(props as Record<string, ParamSchema>, k) as ReturnSchema | undefined
    if (sub) visit(sub, value, `${path}.${k}`, errors)
    else if (s.additionalProperties !== undefined && typeof s.additionalProperties === 'object') visit(s.additionalProperties, value, `${path}.${k}`, errors)
    else if (s.additionalProperties !== undefined && Number(s.additionalProperties) === 0) {
      errors.push(`${path}.${k}: property is not defined in schema and the schema does not allow additional properties`)
    }
  }
}

/**
 * Where real PVE itself answers outside its schema, the simulator does the same; these are
 * excused by responseDrift (route key `METHOD /template`, with the reason).
 */
export const WIRE_DEVIATIONS: { route: string; reason: string; whole?: (data: unknown) => boolean; field?: RegExp }[] = [
  {
    route: 'GET /cluster/nextid',
    reason: 'REFERENCE trap 5: the schema says integer, PVE sends a JSON string',
    whole: (d) => typeof d === 'string' && /^\d+$/.test(d),
  },
  {
    route: 'GET /nodes/{node}/lxc/{vmid}/pending',
    reason: "pve-container LXC/Config.pm check_type reads integer and boolean options as Perl numbers, so value/pending are JSON numbers for them although the schema says string",
    field: /\.(value|pending): type check \('string'\) failed - got -?\d+$/,
  },
  {
    route: 'GET /nodes/{node}/network',
    reason: 'pve-common Network/Interfaces.pm splits `address a.b.c.d/24` into netmask "24" (prefix bits), not the dotted mask the format names',
    field: /\.netmask: invalid format - value does not look like a valid IP netmask$/,
  },
  {
    route: 'GET /nodes/{node}/network/{iface}',
    reason: 'as for the list: netmask is prefix bits',
    field: /\.netmask: invalid format - value does not look like a valid IP netmask$/,
  },
]

/**
 * The drift of one response: checkShape against the route's `returns`, less the WIRE_DEVIATIONS
 * of that route. `route` is `METHOD /template`. Pure.
 */
export function responseDrift(route: string, schema: ReturnSchema | undefined, data: unknown): string[] {
  const deviations = WIRE_DEVIATIONS.filter((d) => d.route === route)
  const whole = deviations.find((d) => d.whole)
  if (whole?.whole) return whole.whole(data) ? [] : [`data: not what PVE sends (${whole.reason})`]
  return checkShape(schema, data).filter((e) => !deviations.some((d) => d.field?.test(e)))
}
