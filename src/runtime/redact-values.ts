/**
 * Redaction of an object's own secret values from text that comes back from a guest or from
 * Proxmox (issue 7, DESIGN §9): compose errors, `pct exec` output, task logs and error messages
 * are passed through the redactor of the object being reconciled before they reach output,
 * status, conditions, events, the audit log or an error. (store/redact.ts is the last-line
 * pattern-based defence; this one knows the actual values.)
 *
 * Rules, per secret value:
 * - a value of 4 characters or more is replaced wherever it appears, and so are its common
 *   encodings when they are 4 characters or more: JSON/Go string escaping, URL encoding
 *   (`%20` and `+` forms) and base64 (standard and URL-safe, with or without padding). Longer
 *   values are replaced first, so a secret containing another is hidden whole;
 * - a shorter value (1–3 characters) would wipe ordinary text (`1`, `on`, `abc`), so it is only
 *   replaced where it is given as the secret's own variable: `NAME=value`, `NAME: value`,
 *   `"NAME":"value"` (optionally quoted), up to a delimiter. Such a secret is weak anyway;
 * - an empty value is nothing to hide.
 * Every replacement is the marker `(sensitive)`. Pure and idempotent.
 */
import type { SecretResolver } from './controller.js'

/** What replaces a secret value. */
export const SENSITIVE_TEXT = '(sensitive)'
/** Values at least this long are replaced wherever they appear. */
export const MIN_ANYWHERE_LENGTH = 4

/** One secret: its variable name (for short values) and its plaintext, in memory only. */
export interface SecretValue {
  name: string
  value: string
}

/** Replaces the given secret values (and their encodings) in text. */
export type ValueRedactor = (text: string) => string

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The forms of `v` searched for anywhere (only those of MIN_ANYWHERE_LENGTH or more). */
function encodings(v: string): string[] {
  const b64 = Buffer.from(v, 'utf8').toString('base64')
  const forms = [
    v,
    JSON.stringify(v).slice(1, -1),
    encodeURIComponent(v),
    encodeURIComponent(v).replace(/%20/g, '+'),
    b64,
    b64.replace(/=+$/, ''),
    Buffer.from(v, 'utf8').toString('base64url'),
  ]
  return [...new Set(forms)].filter((f) => f.length >= MIN_ANYWHERE_LENGTH)
}

/** Builds the redactor for one object's secrets. */
export function createValueRedactor(secrets: readonly SecretValue[]): ValueRedactor {
  const anywhere = new Set<string>()
  const anchored: RegExp[] = []
  for (const { name, value } of secrets) {
    if (typeof value !== 'string' || value === '') continue
    if (value.length >= MIN_ANYWHERE_LENGTH) for (const f of encodings(value)) anywhere.add(f)
    else anchored.push(new RegExp(`(${escapeRe(name)}["']?\\s*[=:]\\s*["']?)${escapeRe(value)}(?=$|[\\s"',;&)\\]}])`, 'g'))
  }
  const sorted = [...anywhere].sort((a, b) => b.length - a.length)
  const one = sorted.length > 0 ? new RegExp(sorted.map(escapeRe).join('|'), 'g') : undefined
  if (!one && anchored.length === 0) return (t) => t
  const part = (text: string): string => {
    let out = one ? text.replace(one, SENSITIVE_TEXT) : text
    for (const re of anchored) out = out.replace(re, `$1${SENSITIVE_TEXT}`)
    return out
  }
  // Markers already in the text are left alone, so redacting twice changes nothing.
  return (text) => (typeof text !== 'string' || text === '' ? text : text.split(SENSITIVE_TEXT).map(part).join(SENSITIVE_TEXT))
}

/**
 * Redacts the secrets of object `key` (as far as `secrets.known` can tell them without creating
 * anything) from `text`. Text is returned unchanged when the resolver cannot list secrets.
 */
export async function redactObjectSecrets(secrets: Pick<SecretResolver, 'known'> | undefined, key: string, text: string): Promise<string> {
  if (!text || !secrets?.known) return text
  const values = await secrets.known(key).catch(() => [] as SecretValue[])
  return values.length === 0 ? text : createValueRedactor(values)(text)
}

/**
 * A copy of `err` whose message and stack went through `redact` (same class and fields, so
 * typed errors keep their kind and `cause` for branching). Returns `err` itself when nothing
 * changed. WARNING: `cause` is kept as is; show only the message and stack of the copy.
 */
export function redactErrorText<E>(err: E, redact: ValueRedactor): E {
  if (!(err instanceof Error)) return err
  const message = redact(err.message)
  const stack = err.stack === undefined ? undefined : redact(err.stack)
  if (message === err.message && stack === err.stack) return err
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error
  Object.defineProperties(copy, Object.getOwnPropertyDescriptors(err))
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true, enumerable: false })
  if (stack !== undefined) Object.defineProperty(copy, 'stack', { value: stack, writable: true, configurable: true, enumerable: false })
  return copy as E
}
