/**
 * Maps a field path inside a parsed YAML document back to a `line:column`, so every manifest
 * error points at the offending value (or key) in the user's file. Pure; never throws.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml'

/** A path into a document value: object keys and array indexes. */
export type FieldPath = (string | number)[]

/** A 1-based position. */
export interface Position {
  line: number
  column: number
}

/** Parses an ajv `instancePath` JSON pointer into path segments. */
export function pointerToPath(pointer: string): FieldPath {
  if (!pointer) return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s))
}

/** Formats a path for people: `spec.volumes[0].path`. */
export function formatPath(path: FieldPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) out += out ? `.${seg}` : seg
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

const keyText = (key: unknown): string | undefined => {
  if (isScalar(key)) return String(key.value)
  if (key === null || key === undefined) return undefined
  return String(key)
}

/**
 * Finds the position of `path` in `doc`. With `target: 'key'` the position of the mapping key is
 * returned when the last segment is a key (for unknown-field errors). When the path leaves the
 * document (a missing field), the deepest existing node is used.
 */
export function locate(doc: Document, lc: LineCounter, path: FieldPath, target: 'value' | 'key' = 'value'): Position {
  let node: unknown = doc.contents
  let keyNode: unknown
  let fallback: number = rangeStart(doc.contents) ?? 0
  let depth = 0
  for (const seg of path) {
    if (depth++ > 1000) break
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg))
      if (!pair) return pos(lc, fallback)
      keyNode = pair.key
      fallback = rangeStart(pair.key) ?? fallback
      node = pair.value
      if (node === null || node === undefined) {
        node = undefined
        continue
      }
      fallback = rangeStart(node) ?? fallback
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg]
      if (item === undefined) return pos(lc, fallback)
      keyNode = undefined
      node = item
      fallback = rangeStart(item) ?? fallback
    } else {
      return pos(lc, fallback)
    }
  }
  if (target === 'key' && keyNode !== undefined) return pos(lc, rangeStart(keyNode) ?? fallback)
  return pos(lc, fallback)
}

/**
 * The source text of the scalar at `path` in `doc` (aliases followed), or undefined when the
 * path does not end on a scalar. Used to tell `022` from `22`, which parse to the same number.
 */
export function scalarSourceAt(doc: Document, text: string, path: FieldPath): string | undefined {
  let node: unknown = doc.contents
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) node = mapValue(doc, node, String(seg), 0)
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg]
    else return undefined
  }
  if (isAlias(node)) node = node.resolve(doc)
  if (!isScalar(node) || !Array.isArray(node.range)) return undefined
  return text.slice(node.range[0], node.range[1])
}

/** The value of `key` in a mapping node, looking into `<<` merge sources as YAML merges them. */
function mapValue(doc: Document, map: unknown, key: string, depth: number): unknown {
  if (isAlias(map)) map = map.resolve(doc)
  if (!isMap(map) || depth > 16) return undefined
  const own = map.items.find((p) => isPair(p) && typeof (p.key as { value?: unknown })?.value !== 'symbol' && keyText(p.key) === key)
  if (own) return own.value
  for (const p of map.items) {
    if (!isPair(p) || typeof (p.key as { value?: unknown })?.value !== 'symbol') continue
    for (const src of isSeq(p.value) ? p.value.items : [p.value]) {
      const v = mapValue(doc, src, key, depth + 1)
      if (v !== undefined) return v
    }
  }
  return undefined
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as Node | null | undefined)?.range
  return Array.isArray(r) ? r[0] : undefined
}

function pos(lc: LineCounter, offset: number): Position {
  const p = lc.linePos(offset)
  return { line: p.line, column: p.col }
}
