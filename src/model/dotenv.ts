/**
 * Writing `.env` values so docker compose reads back exactly the value given (issue 7 point 6).
 * The reader is compose-go's dotenv parser (`dotenv/parser.go`, docker compose v2), whose rules
 * this module relies on:
 *
 * - a single-quoted value is literal: no escapes, no `$` expansion, except that `\'` stands for
 *   `'` and a backslash right before the closing quote escapes it. So `'…'` is used when the
 *   value has no `'`, no line break and does not end with `\`;
 * - otherwise the value is double-quoted, where compose-go first turns `\"` into `"`, then
 *   interprets `\\ \n \r \t \$ \a \b \f \v \0NNN`, then expands `$VAR`/`${VAR}` (`$$` is a
 *   literal `$`). Every `\`, `"` and `$` is therefore escaped (`\\`, `\"`, `\$`) and line breaks
 *   are written `\n`/`\r`; tabs, `#`, `=`, spaces and any other Unicode stay as they are.
 *
 * Pure. The simulator's parser (src/sim/ct-dotenv.ts) follows compose-go independently, so a
 * test against the sandbox catches a mistake here.
 */

/** Variable names compose-go and a POSIX shell both accept (a leading digit is ignored by compose). */
export const DOTENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Why a value cannot be written (only NUL: an environment variable cannot hold it). */
export class DotenvValueError extends Error {
  override readonly name = 'DotenvValueError'
}

/** The quoted form of `value` for one `KEY=<here>` line. Throws DotenvValueError for a NUL. */
export function quoteDotenvValue(value: string): string {
  if (value.includes('\u0000')) throw new DotenvValueError('a value cannot hold a NUL character')
  if (!/['\r\n]/.test(value) && !value.endsWith('\\')) return `'${value}'`
  let out = '"'
  for (const ch of value) {
    if (ch === '\\') out += '\\\\'
    else if (ch === '"') out += '\\"'
    else if (ch === '$') out += '\\$'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else out += ch
  }
  return `${out}"`
}

/** Reads one value written by quoteDotenvValue (or a plain unquoted value) back. Pure. */
export function unquoteDotenvValue(text: string): string {
  if (text.length >= 2 && text.startsWith("'") && text.endsWith("'")) return text.slice(1, -1)
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    const body = text.slice(1, -1)
    const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$' }
    return body.replace(/\\([\s\S])/g, (m, c: string) => map[c] ?? m)
  }
  return text
}
