/**
 * The `.env` parser of the simulated `docker compose`, following compose-go's dotenv parser
 * (`dotenv/parser.go` and `template/template.go`, docker compose v2) rule by rule, so a test
 * against the sandbox catches an escaping mistake in whatever wrote the file:
 *
 * - a UTF-8 BOM at the start is skipped; blank lines and lines starting with `#` are skipped;
 * - `export ` before a key is ignored; a key is letters, digits, `_ . - [ ]` (spaces around it
 *   are trimmed, a space inside is an error) and ends at `=` or `:`; a key alone on its line
 *   takes its value from the lookup (the process environment), if set;
 * - an unquoted value runs to the end of the line, loses an inline comment starting at ` #` and
 *   trailing white space, and is interpolated;
 * - a single-quoted value is literal (it may span lines): only `\'` is unescaped to `'`;
 * - a double-quoted value may span lines; `\"` is a quote, then `\\ \n \r \t \a \b \f \v \0NNN`
 *   are interpreted, `\$` is a literal `$`, and `$VAR`, `${VAR}` and `${VAR:-d}`, `${VAR-d}`,
 *   `${VAR:+a}`, `${VAR+a}`, `${VAR:?m}`, `${VAR?m}` are expanded (`$$` is a `$`); other
 *   backslashes stay as they are; whatever follows the closing quote starts the next statement;
 * - variables resolve from the lookup first, then from values defined earlier in the file; an
 *   unset one becomes empty; `${` without a valid name is an "Invalid template" error.
 */

/** compose-go refused the file; the message is what `docker compose` prints after the path. */
export class DotenvError extends Error {}

/** The environment of the compose process: undefined when a variable is unset. */
export type DotenvLookup = (name: string) => string | undefined

/** Parses `.env` text like compose-go's `dotenv.ParseWithLookup`. Throws DotenvError. */
export function parseDotEnv(text: string, lookup: DotenvLookup = () => undefined): Record<string, string> {
  const out: Record<string, string> = {}
  const p = { line: 1 }
  let cutset = text.startsWith('\uFEFF') ? text.slice(1) : text
  for (;;) {
    cutset = statementStart(cutset, p)
    if (cutset === '') break
    const { key, left, inherited } = locateKeyName(cutset, p)
    if (key.includes(' ')) throw new DotenvError(`line ${p.line}: key cannot contain a space`)
    if (inherited) {
      const v = lookup(key)
      if (v !== undefined) out[key] = v
      cutset = left
      continue
    }
    const [value, rest] = extractValue(left, out, lookup, p)
    out[key] = value
    cutset = rest
  }
  return out
}

/** Go's `isSpace` of the parser: blanks that are not a line break. */
const isSpace = (c: string): boolean => c === '\t' || c === '\v' || c === '\f' || c === '\r' || c === ' ' || c === '\u0085' || c === '\u00a0'
/** Go's `unicode.IsSpace` (the Unicode White_Space property). */
const isUnicodeSpace = (c: string): boolean => /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(c)
const trimLeft = (s: string, f: (c: string) => boolean): string => {
  let i = 0
  for (const c of s) {
    if (!f(c)) break
    i += c.length
  }
  return s.slice(i)
}
const trimRight = (s: string, f: (c: string) => boolean): string => {
  const chars = [...s]
  while (chars.length > 0 && f(chars[chars.length - 1])) chars.pop()
  return chars.join('')
}

function statementStart(src: string, p: { line: number }): string {
  for (;;) {
    let pos = -1
    let i = 0
    for (const c of src) {
      if (c === '\n') p.line++
      if (!isUnicodeSpace(c)) {
        pos = i
        break
      }
      i += c.length
    }
    if (pos === -1) return ''
    src = src.slice(pos)
    if (src[0] !== '#') return src
    const nl = src.indexOf('\n')
    if (nl === -1) return ''
    src = src.slice(nl)
  }
}

function locateKeyName(src: string, p: { line: number }): { key: string; left: string; inherited: boolean } {
  if (/^export[\t\n\f\r ]+/.test(src)) src = trimLeft(src.slice('export'.length), isSpace)
  let key = ''
  let offset = 0
  let inherited = false
  let i = 0
  for (const c of src) {
    const at = i
    i += c.length
    if (isSpace(c)) continue
    if (c === '=' || c === ':' || c === '\n') {
      key = src.slice(0, at)
      offset = at + 1
      inherited = c === '\n'
      break
    }
    if (c === '_' || c === '.' || c === '-' || c === '[' || c === ']' || /^[\p{L}\p{N}]$/u.test(c)) continue
    throw new DotenvError(`line ${p.line}: unexpected character ${JSON.stringify(c)} in variable name ${JSON.stringify(src.split('\n')[0])}`)
  }
  if (src === '') throw new DotenvError('zero length string')
  if (inherited && !key.includes(' ')) p.line++
  return { key: trimRight(key, isUnicodeSpace), left: trimLeft(src.slice(offset), isSpace), inherited }
}

function extractValue(src: string, defined: Record<string, string>, lookup: DotenvLookup, p: { line: number }): [string, string] {
  const quote = src[0] === "'" || src[0] === '"' ? src[0] : undefined
  if (!quote) {
    const nl = src.indexOf('\n')
    let value = nl === -1 ? src : src.slice(0, nl)
    const rest = nl === -1 ? '' : src.slice(nl + 1)
    p.line++
    const comment = value.indexOf(' #')
    if (comment !== -1) value = value.slice(0, comment)
    return [expandVariables(trimRight(value, isUnicodeSpace), defined, lookup), rest]
  }
  let escaped = false
  let chars = ''
  for (let i = 1; i < src.length; i++) {
    const c = src[i]
    if (c === '\n') p.line++
    if (c !== quote) {
      if (!escaped && c === '\\') {
        escaped = true
        continue
      }
      if (escaped) {
        escaped = false
        chars += '\\'
      }
      chars += c
      continue
    }
    if (escaped) {
      escaped = false
      chars += c
      continue
    }
    const value = quote === '"' ? expandVariables(expandEscapes(chars), defined, lookup) : chars
    return [value, src.slice(i + 1)]
  }
  const nl = src.indexOf('\n')
  throw new DotenvError(`line ${p.line}: unterminated quoted value ${nl === -1 ? src : src.slice(0, nl)}`)
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\u0007', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' }

/** compose-go's `expandEscapes`: only the listed sequences; `\$` becomes `$$` for the expander. */
function expandEscapes(s: string): string {
  return s.replace(/\\(?:[abcfnrtv$"\\]|0\d{0,3})/g, (m) => {
    if (m === '\\$') return '$$'
    if (m.startsWith('\\0')) {
      // `\0NNN` is Go's octal `\NNN`: exactly three octal digits, at most 255; else kept as is.
      const digits = m.slice(2)
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) return m
      return String.fromCharCode(parseInt(digits, 8))
    }
    return SIMPLE_ESCAPES[m[1]] ?? m
  })
}

const PATTERN = '\\$(?:(\\$)|([_a-z][_a-z0-9]*)|\\{(?:([_a-z][_a-z0-9]*(?::?[-+?](.*))?)\\}|()))'

type Mapping = (name: string) => string | undefined

function expandVariables(value: string, defined: Record<string, string>, lookup: DotenvLookup): string {
  return substitute(value, (k) => lookup(k) ?? (Object.prototype.hasOwnProperty.call(defined, k) ? defined[k] : undefined))
}

/** compose-go's `template.Substitute` with the default pattern. Throws DotenvError. */
function substitute(template: string, mapping: Mapping): string {
  return template.replace(new RegExp(PATTERN, 'gi'), (whole) => replacement(whole, mapping))
}

function replacement(matched: string, mapping: Mapping): string {
  const op = operatorOf(matched)
  let substring = matched
  let rest = ''
  const close = firstBraceClosingIndex(substring)
  if (close > -1) {
    rest = substring.slice(close + 1)
    substring = substring.slice(0, close + 1)
  }
  const m = new RegExp(PATTERN, 'i').exec(substring)
  if (!m) throw new DotenvError(`Invalid template: ${JSON.stringify(matched)}`)
  if (m[1]) return '$'
  let name = m[2] ?? ''
  let braced = false
  if (name === '') {
    name = m[3] ?? ''
    braced = true
  }
  if (name === '') throw new DotenvError(`Invalid template: ${JSON.stringify(matched)}`)
  if (braced && op) {
    const r = applyOperator(op, name, mapping)
    if (r !== undefined) return r + substitute(rest, mapping)
  }
  return mapping(name) ?? ''
}

/** The operator appearing first in the template (compose-go sorts by index), if any. */
function operatorOf(template: string): string | undefined {
  let best: { op: string; at: number } | undefined
  for (const op of [':?', '?', ':-', '-', ':+', '+']) {
    const at = template.indexOf(op)
    if (at >= 0 && (!best || at < best.at)) best = { op, at }
  }
  return best?.op
}

function partition(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep)
  return i === -1 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)]
}

/** Applies `${NAME<op>ARG}`; undefined when `op` is not in `sub` (then it is a plain lookup). */
function applyOperator(op: string, sub: string, mapping: Mapping): string | undefined {
  if (!sub.includes(op)) return undefined
  const [name, arg] = partition(sub, op)
  const value = mapping(name)
  switch (op) {
    case ':-':
      return value === undefined || value === '' ? substitute(arg, mapping) : value
    case '-':
      return value === undefined ? substitute(arg, mapping) : value
    case ':+':
      return value !== undefined && value !== '' ? substitute(arg, mapping) : (value ?? '')
    case '+':
      return value !== undefined ? substitute(arg, mapping) : ''
    default: {
      const ok = value !== undefined && (op === '?' || value !== '')
      if (ok) return value
      const reason = substitute(arg, mapping)
      throw new DotenvError(reason ? `required variable ${name} is missing a value: ${reason}` : `required variable ${name} is missing a value`)
    }
  }
}

/** compose-go's `getFirstBraceClosingIndex` (including its skip of the character after `{`). */
function firstBraceClosingIndex(s: string): number {
  let open = 0
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '}') {
      open--
      if (open === 0) return i
    }
    if (s[i] === '{') {
      open++
      i++
    }
  }
  return -1
}
