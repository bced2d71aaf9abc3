/**
 * Wire helpers for the PVE API (REFERENCE §1.4, §2): endpoint parsing, parameter encoding,
 * envelope parsing and secret redaction. Pure.
 */

/** Exactly what pveproxy sends; proxmox-api and this engine accept nothing else on success. */
export const PVE_CONTENT_TYPE = 'application/json;charset=UTF-8'

/** Parameter values the engine accepts. Arrays become repeated keys. */
export type PveParamValue = string | number | boolean | null | undefined | (string | number | boolean)[]
export type PveParams = Record<string, PveParamValue>

export interface ParsedEndpoint {
  /** `https://host:8006` (no trailing slash, no path). */
  origin: string
  protocol: 'https' | 'http'
  host: string
  port: number
}

/**
 * Parses `https://host[:port][/api2/json]`. The port defaults to 8006, also for `https`, so a
 * missing port never silently means 443 (REFERENCE trap 4). Throws a short error on anything
 * else (credentials, query, other paths, other schemes).
 */
export function parseEndpoint(endpoint: string): ParsedEndpoint {
  const m = /^(https?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\/api2\/json)?\/?$/.exec(endpoint.trim())
  if (!m) {
    throw new Error(`invalid proxmox endpoint "${endpoint.replace(/\/\/[^@/]*@/, '//***@')}"; use https://host:8006`)
  }
  const protocol = m[1] as 'https' | 'http'
  const host = m[2]!
  const port = m[3] === undefined ? 8006 : Number(m[3])
  if (port < 1 || port > 65535) throw new Error(`invalid proxmox endpoint port ${port}; use 1-65535 (proxmox listens on 8006)`)
  return { origin: `${protocol}://${host}:${port}`, protocol, host, port }
}

/**
 * Encodes params as PVE expects: null/undefined dropped, booleans `1`/`0`, arrays as repeated
 * keys, everything percent-encoded by URLSearchParams (so `;` `=` `,` survive PVE's splitting).
 * Throws on object values, which PVE cannot take.
 */
export function encodeParams(params: Record<string, unknown> | undefined): URLSearchParams {
  const out = new URLSearchParams()
  if (!params) return out
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) {
      if (v === null || v === undefined) continue
      if (typeof v === 'boolean') out.append(key, v ? '1' : '0')
      else if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new Error(`parameter "${key}" must be a finite number`)
        out.append(key, String(v))
      } else if (typeof v === 'string') out.append(key, v)
      else throw new Error(`parameter "${key}" must be a string, number or boolean`)
    }
  }
  return out
}

/** The successful envelope: `data` plus the attributes proxmox-api drops. */
export interface PveEnvelope<T = unknown> {
  data: T
  /** Set by list handlers (task log, task list). */
  total?: number
  /** Pending network changes as a diff (GET /nodes/{node}/network). */
  changes?: string
}

/** Parses an error body leniently: `{message?, errors?}` or nothing. */
export function parseErrorBody(text: string): { message?: string; errors?: Record<string, string> } {
  if (!text) return {}
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown }
    const out: { message?: string; errors?: Record<string, string> } = {}
    if (typeof body.message === 'string') out.message = body.message
    if (body.errors && typeof body.errors === 'object' && !Array.isArray(body.errors)) {
      out.errors = Object.fromEntries(Object.entries(body.errors as Record<string, unknown>).map(([k, v]) => [k, String(v).trim()]))
    }
    return out
  } catch {
    return {}
  }
}

/** Parameter names whose values are secrets: never logged, audited or echoed. */
export const SECRET_PARAM_RE = /pass(word)?|secret|token|ticket|key$|^value$/i

/** Replaces every occurrence of the given secrets in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***')
  return out
}

/** Per-parameter errors with messages of secret parameters replaced (they may echo the value). */
export function redactErrors(errors: Record<string, string>, secrets: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(errors).map(([k, v]) => [k, SECRET_PARAM_RE.test(k) ? 'invalid value' : redact(v, secrets)]),
  )
}

/** First line of a text, trimmed. */
export const firstLine = (s: string): string => (s.split('\n', 1)[0] ?? '').trim()
