/**
 * Step 2 of loading: split a manifest file into YAML documents and turn each into plain data,
 * with the parse tree kept for locating errors. Duplicate keys, tabs, alias bombs, excessive
 * nesting and non-mapping documents become located errors; nothing here throws.
 */
import jsYaml from 'js-yaml'
import { isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document } from 'yaml'
import type { ManifestError } from '../model/types.js'
import type { ManifestText } from './read-files.js'

/** One parsed YAML document of a manifest file. */
export interface ParsedDoc {
  file: string
  root: string
  /** The whole text of the file (shared by its documents), to read a value as written. */
  text: string
  /** 0-based index of the document in its file. */
  index: number
  doc: Document
  lc: LineCounter
  /** The document as plain data: always a mapping. */
  value: Record<string, unknown>
  line: number
  column: number
}

/** Aliases allowed per document before it is treated as a resource-exhaustion attack. */
export const MAX_ALIAS_COUNT = 100
/** Deepest nesting accepted in a manifest value. */
export const MAX_DEPTH = 64

const FRIENDLY: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key; each field may appear only once in a mapping',
  TAB_AS_INDENT: 'tab used for indentation; YAML needs spaces',
  BAD_ALIAS: 'alias refers to an anchor that is not defined',
  MULTILINE_IMPLICIT_KEY: 'a key cannot span lines; quote the value or fix indentation',
}

/**
 * Every path reads YAML 1.2 with the core schema, plus `<<` merge keys (standard in compose
 * files, and resolved by docker compose). A `%YAML 1.1` directive is refused (see parseFully):
 * with `schema: 'core'` set here it could not change the meaning anyway, but a reader would
 * expect `yes` to be true.
 */
const PARSE_OPTIONS = { uniqueKeys: true, prettyErrors: true, strict: true, logLevel: 'error', schema: 'core', merge: true } as const

/** The YAML 1.2 core schema tags of the `yaml` package, rebuilt for js-yaml so both parsers agree. */
const CORE_SCALARS = [
  new jsYaml.Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string) => /^(?:~|[Nn]ull|NULL)?$/.test(s), construct: () => null }),
  new jsYaml.Type('tag:yaml.org,2002:bool', { kind: 'scalar', resolve: (s: string) => /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s), construct: (s: string) => s[0] === 't' || s[0] === 'T' }),
  new jsYaml.Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (s: string) => /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/.test(s),
    construct: (s: string) => (s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
  }),
  new jsYaml.Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (s: string) => /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/.test(s),
    construct: (s: string) => (/^[-+]?\.(?:inf|Inf|INF)$/.test(s) ? (s[0] === '-' ? -Infinity : Infinity) : /nan$/i.test(s) ? NaN : parseFloat(s)),
  }),
]
const JS_YAML_CORE = jsYaml.FAILSAFE_SCHEMA.extend({ implicit: CORE_SCALARS })

/** What a document needs besides its text to rebuild its YAML tree on demand. */
interface DocData {
  index: number
  value: Record<string, unknown>
  line: number
  column: number
}

/**
 * Parses one file. Documents with errors are reported and left out of `docs`; a document's
 * YAML tree is rebuilt from the text only if a later step must locate an error in it.
 */
export function parseManifestText(src: ManifestText): { docs: ParsedDoc[]; errors: ManifestError[] } {
  return parseFast(src) ?? parseFully(src)
}

/** A parsed document whose YAML tree is parsed again from the text only when first needed. */
function lazyDoc(src: ManifestText, c: DocData): ParsedDoc {
  let tree: { doc: Document; lc: LineCounter } | undefined
  const load = (): { doc: Document; lc: LineCounter } => {
    if (!tree) {
      const lc = new LineCounter()
      const all = parseAllDocuments(src.text, { lineCounter: lc, ...PARSE_OPTIONS }) as Document.Parsed[]
      tree = { doc: all[c.index], lc }
    }
    return tree
  }
  return {
    file: src.file,
    root: src.root,
    text: src.text,
    index: c.index,
    value: c.value,
    line: c.line,
    column: c.column,
    get doc() {
      return load().doc
    },
    get lc() {
      return load().lc
    },
  }
}

/**
 * Anything that needs the full YAML machinery: anchors, aliases and merge keys (alias-bomb
 * limits), tags, directives, document-end markers, tabs, a byte-order mark, explicit `?` keys,
 * collections used as keys, and empty or null keys (js-yaml names those "null", `yaml` "": both
 * are refused by parseFully, so the fast path must not accept them).
 */
const NEEDS_FULL_PARSER = /[&*!%\t\uFEFF]|<<|^\.\.\.|(?:^|[\s[{,])\?(?:\s|$)|[[{,][ ]*[[{]|^[ -]*[[{].*[\]}][ ]*:(?:\s|$)|(?:^[ -]*|[{,][ ]*)(?:~|null|Null|NULL)?[ ]*:(?:\s|$)/m

/**
 * The fast path for plain manifests (most files): js-yaml with the YAML 1.2 core schema (the
 * `yaml` package's own tag rules, so `0b11`, `+0o7` or `-0x1` stay text on both paths) parses
 * about eight times faster than the `yaml` package, which keeps a concrete syntax tree for
 * error locations. It is taken only for files that use none of the features above, and only
 * when every document parses into a mapping within the depth limit; anything unusual returns
 * undefined and the file goes through `parseFully`, which produces the located errors. The
 * YAML tree is still rebuilt lazily if a later step must locate an error in a document.
 *
 * WARNING: document indexes must match `parseAllDocuments`, which `lazyDoc` uses to rebuild the
 * tree: documents are split on `---` lines, and a leading part holding only comments and blank
 * lines is not a document.
 */
function parseFast(src: ManifestText): { docs: ParsedDoc[]; errors: ManifestError[] } | undefined {
  if (NEEDS_FULL_PARSER.test(src.text)) return undefined
  let values: unknown[]
  try {
    values = jsYaml.loadAll(src.text, undefined, { schema: JS_YAML_CORE, json: false }) as unknown[]
  } catch {
    return undefined
  }
  const starts = documentStarts(src.text)
  if (starts.length !== values.length || values.length === 0) return undefined
  const docs: ParsedDoc[] = []
  for (let index = 0; index < values.length; index++) {
    const value = values[index]
    if (value === null || value === undefined) {
      if (starts[index].empty) continue
      return undefined
    }
    if (typeof value !== 'object' || Array.isArray(value) || depthOf(value, 0) > MAX_DEPTH) return undefined
    docs.push(lazyDoc(src, { index, value: value as Record<string, unknown>, line: starts[index].line, column: starts[index].column }))
  }
  return docs.length > 0 ? { docs, errors: [] } : undefined
}

/** Position of the first content line of each `---`-separated document (1-based). */
function documentStarts(text: string): { line: number; column: number; empty: boolean }[] {
  const lines = text.split('\n')
  const out: { line: number; column: number; empty: boolean }[] = []
  let current = { line: 1, column: 1, empty: true }
  let explicit = false
  lines.forEach((raw, i) => {
    const marker = /^---(\s|$)/.test(raw)
    if (marker) {
      if (!current.empty || explicit) out.push(current)
      explicit = true
      const rest = raw.slice(3).trim()
      current = rest && !rest.startsWith('#') ? { line: i + 1, column: 5, empty: false } : { line: i + 1, column: 1, empty: true }
      return
    }
    const body = raw.trimStart()
    if (current.empty && body !== '' && !body.startsWith('#')) current = { line: i + 1, column: raw.length - body.length + 1, empty: false }
  })
  if (current.empty === false || explicit) out.push(current)
  return out
}

function parseFully(src: ManifestText): { docs: ParsedDoc[]; errors: ManifestError[] } {
  const errors: ManifestError[] = []
  const docs: ParsedDoc[] = []
  const lc = new LineCounter()
  const err = (offset: number, message: string): void => {
    const p = lc.linePos(offset)
    errors.push({ file: src.file, line: p.line, column: p.col, path: '', message })
  }
  let all: Document.Parsed[]
  try {
    all = parseAllDocuments(src.text, { lineCounter: lc, ...PARSE_OPTIONS }) as Document.Parsed[]
    if (!Array.isArray(all)) all = [] // EmptyStream
  } catch (e) {
    err(0, e instanceof RangeError ? `YAML is nested too deeply (limit ${MAX_DEPTH} levels)` : 'YAML cannot be parsed')
    return { docs, errors }
  }
  let nonEmpty = 0
  all.forEach((doc, index) => {
    // Unknown tags (`!shell`, `!!python/object`) would silently become strings: refuse them.
    const badTags = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')
    if (doc.errors.length > 0 || badTags.length > 0) {
      for (const e of doc.errors) err(e.pos[0], friendly(e.code, e.message, src.text, e.pos[0]))
      for (const w of badTags) err(w.pos[0], `unsupported YAML tag ${tagAt(src.text, w.pos[0])}; remove it (manifests use plain YAML values)`)
      return
    }
    if (doc.directives?.yaml.explicit && doc.directives.yaml.version !== '1.2') {
      const at = /^%YAML/m.exec(src.text)?.index
      err(at ?? doc.range[0], `YAML ${doc.directives.yaml.version} is not supported; remove the %YAML directive (manifests are read as YAML 1.2, where yes/no/on/off are text)`)
      return
    }
    if (doc.contents === null || doc.contents === undefined) return
    if (isScalar(doc.contents) && doc.contents.value === null) return // `---` with nothing after it
    const start = doc.contents.range?.[0] ?? doc.range[0]
    const badKey = findBadKey(doc)
    if (badKey) {
      err(badKey.offset, badKey.message)
      return
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
    } catch (e) {
      const m = e instanceof Error ? e.message : ''
      err(
        start,
        /excessive alias/i.test(m)
          ? `too many aliases (limit ${MAX_ALIAS_COUNT}); expand the anchors by hand`
          : /unresolved alias/i.test(m)
            ? 'alias refers to an anchor that is not defined before it'
            : /merge sources/i.test(m)
              ? 'a merge key (<<) needs a mapping or an alias of one (or a list of them)'
              : e instanceof RangeError
                ? `document is nested too deeply (limit ${MAX_DEPTH} levels)`
                : 'document cannot be converted to data',
      )
      return
    }
    nonEmpty++
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const got = Array.isArray(value) ? 'a list' : value === null ? 'nothing' : `a ${typeof value}`
      err(start, `document must be a mapping with apiVersion, kind, metadata and spec; got ${got}`)
      return
    }
    if (depthOf(value, 0) > MAX_DEPTH) {
      err(start, `document is nested too deeply (more than ${MAX_DEPTH} levels)`)
      return
    }
    const p = lc.linePos(start)
    // Keep only the data: the YAML tree is rebuilt from the text if an error must be located.
    // Holding 1,000 trees alive would push them into the old generation and slow every GC.
    docs.push(lazyDoc(src, { index, value: value as Record<string, unknown>, line: p.line, column: p.col }))
  })
  if (nonEmpty === 0 && errors.length === 0) err(0, 'file contains no manifest; add one or delete the file')
  return { docs, errors }
}

/**
 * The first mapping key that is not plain text: empty or null (`~:`), or a collection
 * (`? [a, b]`). JavaScript objects would turn these into "", "null" or "[ a, b ]", and the two
 * parsers disagree on which; a manifest or compose file never needs them. Deep trees are cut
 * by the depth check of the caller; a stack overflow here is reported as too deep.
 */
function findBadKey(doc: Document.Parsed): { offset: number; message: string } | undefined {
  let found: { offset: number; message: string } | undefined
  try {
    visit(doc, {
      Map(_key, map) {
        // `true` and "true", or 1 and "1", are different YAML keys but one JavaScript key: the
        // second would silently replace the first.
        const seen = new Set<string>()
        for (const pair of map.items) {
          const k = pair.key
          if (!isScalar(k) || typeof k.value === 'symbol' || k.value === null) continue
          const text = String(k.value)
          if (seen.has(text)) {
            found = { offset: k.range?.[0] ?? doc.range[0], message: `duplicate key "${text.slice(0, 40)}" (written twice in different forms); each field may appear only once in a mapping` }
            return visit.BREAK
          }
          seen.add(text)
        }
        return undefined
      },
      Pair(_key, pair) {
        const k = pair.key
        const empty = k === null || k === undefined || (isScalar(k) && k.value === null)
        const offset = (k as { range?: number[] } | null)?.range?.[0] ?? (pair.value as { range?: number[] } | null)?.range?.[0] ?? doc.range[0]
        if (isScalar(k) && typeof k.value === 'symbol' && k.source === '<<' && !isMergeSource(doc, pair.value)) {
          found = { offset, message: 'a merge key (<<) needs a mapping or an alias of one (or a list of them)' }
          return visit.BREAK
        }
        if (!empty && !isCollection(k)) return undefined
        found = { offset, message: empty ? 'mapping key is empty or null; write the key as text' : 'mapping key is a list or mapping; keys must be plain text' }
        return visit.BREAK
      },
    })
  } catch (e) {
    if (e instanceof RangeError) return { offset: doc.range[0], message: `document is nested too deeply (limit ${MAX_DEPTH} levels)` }
    throw e
  }
  return found
}

/** True when `v` can follow a merge key: a mapping, an alias of one, or a list of those. */
function isMergeSource(doc: Document.Parsed, v: unknown): boolean {
  // An alias with no anchor is reported by toJS as such; only a resolved non-mapping is wrong here.
  const one = (n: unknown): boolean => (isAlias(n) ? (n.resolve(doc) === undefined ? true : isMap(n.resolve(doc))) : isMap(n))
  return isSeq(v) ? v.items.every(one) : one(v)
}

function friendly(code: string, message: string, text: string, offset: number): string {
  if (code === 'DUPLICATE_KEY') {
    const m = /^\s*["']?([^"':\n]+)/.exec(text.slice(offset, offset + 100))
    return m ? `duplicate key "${m[1].trim()}"; each field may appear only once in a mapping` : FRIENDLY[code]
  }
  if (FRIENDLY[code]) return FRIENDLY[code]
  if (/call stack|too much recursion/i.test(message)) return `YAML is nested too deeply (limit ${MAX_DEPTH} levels)`
  const first = message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim()
  const lower = first.charAt(0).toLowerCase() + first.slice(1)
  return `invalid YAML: ${lower}`
}

function tagAt(text: string, offset: number): string {
  const m = /^!\S*/.exec(text.slice(offset, offset + 60))
  return m ? JSON.stringify(m[0]) : ''
}

function depthOf(v: unknown, d: number): number {
  if (d > MAX_DEPTH) return d
  if (v === null || typeof v !== 'object') return d
  let max = d
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    max = Math.max(max, depthOf(x, d + 1))
    if (max > MAX_DEPTH) break
  }
  return max
}
