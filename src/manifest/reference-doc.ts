/**
 * Renders the manifest reference (README.md's generated block) from the manifest schemas, so the reference can never
 * disagree with what the loader accepts. Pure apart from reading the schema files.
 */
import { KINDS, KIND_FILES, readSchema } from './schemas.js'

type S = {
  $ref?: string
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  description?: string
  title?: string
  properties?: Record<string, S>
  items?: S
  additionalProperties?: S | boolean
  required?: string[]
  oneOf?: { required?: string[] }[]
  examples?: unknown[]
  minimum?: number
  maximum?: number
  maxLength?: number
  'x-hint'?: string
}

const esc = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ')
const code = (v: unknown): string => `\`${esc(typeof v === 'string' ? v : JSON.stringify(v))}\``

function typeOf(s: S, deref: (x: S) => S): string {
  const d = deref(s)
  if (d.const !== undefined) return code(d.const)
  if (d.enum) return d.enum.map(code).join(' \\| ')
  if (d.type === 'array') return `list of ${d.items ? typeOf(d.items, deref) : 'values'}`
  if (d.type === 'object' && d.additionalProperties && typeof d.additionalProperties === 'object') {
    const v = deref(d.additionalProperties)
    return `map of ${v.title ? v.title.toLowerCase() : typeOf(v, deref)}`
  }
  if (d.title === 'Secret reference') return 'secret reference'
  if (Array.isArray(d.type)) return d.type.join(' or ')
  return d.type === 'object' ? 'mapping' : (d.type ?? 'any')
}

function describe(s: S, deref: (x: S) => S): string {
  const d = deref(s)
  const parts: string[] = []
  const text = s.description ?? d.description
  if (text) parts.push(text)
  if (d['x-hint']) parts.push(`Must be ${d['x-hint'].replace(/^must be /, '')}.`)
  if (d.minimum !== undefined || d.maximum !== undefined) parts.push(`Range ${d.minimum ?? '…'}–${d.maximum ?? '…'}.`)
  if (d.maxLength !== undefined && !d['x-hint']) parts.push(`At most ${d.maxLength} characters.`)
  if (d.oneOf?.every((o) => o.required)) parts.push(`Exactly one of: ${d.oneOf.map((o) => o.required!.join(' + ')).join('; ')}.`)
  const ex = s.examples ?? d.examples
  if (ex?.length) parts.push(`Example: ${code(ex[0])}.`)
  return esc(parts.join(' '))
}

function rows(s: S, prefix: string, deref: (x: S) => S, out: string[]): void {
  const d = deref(s)
  const required = new Set(d.required ?? [])
  for (const [name, raw] of Object.entries(d.properties ?? {})) {
    const child = deref(raw)
    const path = `${prefix}${name}`
    const def = raw.default !== undefined ? raw.default : child.default
    out.push(`| \`${path}\` | ${typeOf(raw, deref)} | ${required.has(name) ? 'yes' : ''} | ${def !== undefined ? code(def) : ''} | ${describe(raw, deref)} |`)
    if (child.type === 'object' && child.properties && child.title !== 'Secret reference') rows(child, `${path}.`, deref, out)
    if (child.type === 'array' && child.items && deref(child.items).properties) rows(deref(child.items), `${path}[].`, deref, out)
  }
}

/** The whole reference document as markdown. */
export function renderManifestReference(): string {
  const out: string[] = [
    '# Manifest reference',
    '',
    'Every manifest has `apiVersion: proximity/v1alpha1`, a `kind`, `metadata` (`name`, optional `labels` and',
    '`annotations`) and a `spec`. Names are RFC 1123 labels: lower-case letters, digits and `-`, at most 40',
    'characters, so they are valid hostnames and Proxmox tags.',
    '',
    '**Units.** Memory and swap accept `512Mi`, `2Gi` or a plain number of MiB. Disk sizes accept `8Gi`, `500Mi`,',
    '`1Ti` or a plain number of GiB. Durations accept `30s`, `5m`, `1h`, `1h30m`, `250ms` or a plain number of',
    'seconds. Decimal units such as `512MB` are refused on purpose.',
    '',
    '**Secret references** are exactly one of `{sealed: <JWE from proximity secret seal>}`, `{env: NAME}`,',
    '`{file: PATH}` (relative to the manifest, inside the manifest folder) or `{generate: {length: N}}`.',
    '',
    'Editors: add `# yaml-language-server: $schema=<path to>/schemas/manifest.schema.json` to a manifest.',
    '',
  ]
  for (const kind of KINDS) {
    const schema = readSchema(KIND_FILES[kind]) as S & { $defs: Record<string, S> }
    const deref = (x: S): S => (x.$ref ? { ...schema.$defs[x.$ref.replace('#/$defs/', '')], ...(x.description ? { description: x.description } : {}) } : x)
    out.push(`## ${kind}`, '', schema.description ?? '', '', '| Field | Type | Required | Default | Description |', '|---|---|---|---|---|')
    rows(schema.properties!.spec, 'spec.', deref, out)
    out.push('')
  }
  return out.join('\n')
}
