import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../model/paths.js'

/** One parameter (or property-string key) as pve-apidata describes it. */
export interface ParamSchema {
  type?: string
  optional?: number
  default?: unknown
  minimum?: number
  maximum?: number
  maxLength?: number
  minLength?: number
  pattern?: string
  enum?: string[]
  format?: string | Record<string, ParamSchema>
  default_key?: number
  alias?: string
  /** Another parameter that must be present when this one is. */
  requires?: string | ParamSchema
  items?: ParamSchema
}

/** One method of one path in pve-apidata. */
export interface MethodSchema {
  name: string
  parameters?: { additionalProperties?: number; properties?: Record<string, ParamSchema> }
  allowtoken?: number
  /** What `data` holds on success (see shape-check.ts for the dialect). */
  returns?: import('./shape-check.js').ReturnSchema
}

interface PathNode {
  path: string
  info?: Record<string, MethodSchema>
  children?: PathNode[]
}

let cache: Map<string, Record<string, MethodSchema>> | undefined

/**
 * The PVE 9.1 API schema as a map from path template (`/nodes/{node}/lxc`) to its methods.
 * Read once from `<packageRoot>/schemas/pve-apidata-9.1.json` and cached for the process.
 */
export function apiSchema(): Map<string, Record<string, MethodSchema>> {
  if (cache) return cache
  const raw = JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'pve-apidata-9.1.json'), 'utf8')) as PathNode[]
  const map = new Map<string, Record<string, MethodSchema>>()
  const walk = (nodes: PathNode[]): void => {
    for (const n of nodes) {
      if (n.info) map.set(n.path, n.info)
      if (n.children) walk(n.children)
    }
  }
  walk(raw)
  cache = map
  return map
}

/** The schema of one method, or undefined when PVE has no such method. */
export function methodSchema(method: string, template: string): MethodSchema | undefined {
  return apiSchema().get(template)?.[method]
}

/**
 * Finds the schema entry for a parameter name: exact, or the indexed form (`net0` → `net[n]`).
 */
export function lookupParam(props: Record<string, ParamSchema>, key: string): ParamSchema | undefined {
  if (Object.prototype.hasOwnProperty.call(props, key)) return props[key]
  const m = /^([a-z_-]+?)(\d+)$/i.exec(key)
  if (m) return props[`${m[1]}[n]`]
  return undefined
}

const regexCache = new Map<string, RegExp | null>()

/** Compiles a Perl pattern from the schema into an anchored JS RegExp (null when untranslatable). */
export function schemaRegex(pattern: string): RegExp | null {
  let re = regexCache.get(pattern)
  if (re !== undefined) return re
  try {
    re = new RegExp(`^(?:${pattern.replace(/\(\?\^[a-z]*:/g, '(?:').replace(/\\z/g, '$').replace(/\\A/g, '^')})$`, 'u')
  } catch {
    try {
      re = new RegExp(`^(?:${pattern.replace(/\(\?\^[a-z]*:/g, '(?:')})$`)
    } catch {
      re = null
    }
  }
  regexCache.set(pattern, re)
  return re
}
