/**
 * Last-line defence against secrets in logs, events, conditions and the audit log (DESIGN §9).
 * Callers pass no secrets; this still masks anything that looks like one.
 */

const PAIR = /\b(password|passwd|pass|secret|token[_-]?secret|tokenSecret|api[_-]?key|private[_-]?key|privateKey)(["']?\s*[=:]\s*["']?)([^\s"',;&]+)/gi
const PVE_TOKEN = /(PVEAPIToken=[^=\s]+=)[^\s"',;]+/g
const PVE_TICKET = /(PVEAuthCookie=)[^\s"',;]+/g
const BEARER = /(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g

/** Replaces secret-looking values in `text` with `(redacted)`. Pure; idempotent. */
export function redactSecrets(text: string): string {
  return text
    .replace(PAIR, (_m, k: string, sep: string) => `${k}${sep}(redacted)`)
    .replace(PVE_TOKEN, '$1(redacted)')
    .replace(PVE_TICKET, '$1(redacted)')
    .replace(BEARER, '$1(redacted)')
}

/** Returns a copy of `obj` with every string field passed through `redactSecrets`. */
export function redactFields<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue
    out[k] = typeof v === 'string' ? redactSecrets(v) : v
  }
  return out as T
}
