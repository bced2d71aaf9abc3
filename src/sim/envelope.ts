import type { ServerResponse } from 'node:http'
import { PveError } from './errors.js'

/** The exact content type pveproxy sends (proxmox-api compares it verbatim). */
export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8'

/** A handler result carrying envelope extras (`total`, `changes`) besides `data`. */
export class Envelope {
  constructor(
    readonly data: unknown,
    readonly extra: { total?: number; changes?: string } = {},
  ) {}
}

/**
 * Already-serialised JSON for `data` (hot list routes build it from cached per-item fragments
 * instead of serialising thousands of objects per request). `text` must be valid JSON.
 */
export class RawJson {
  /** JSON text, UTF-8 bytes, or UTF-8 chunks that concatenate to the JSON. */
  constructor(readonly json: string | Buffer | Buffer[]) {}
}

const DATA_OPEN = Buffer.from('{"data":')
const DATA_CLOSE = Buffer.from('}')

/** `Expires` value, recomputed at most once per second (formatting a date per request is waste). */
let expiresSecond = -1
let expiresText = ''
function expires(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== expiresSecond) {
    expiresSecond = second
    expiresText = new Date(now).toUTCString()
  }
  return expiresText
}

function baseHeaders(): Record<string, string> {
  return {
    Server: 'pve-api-daemon/3.0',
    'Cache-Control': 'max-age=0',
    Pragma: 'no-cache',
    Expires: expires(),
  }
}

/** Serialises the `data` of a handler result (RawJson is spliced in verbatim). */
function dataJson(data: unknown): string {
  if (data instanceof RawJson) {
    const j = data.json
    return typeof j === 'string' ? j : Array.isArray(j) ? Buffer.concat(j).toString('utf8') : j.toString('utf8')
  }
  return JSON.stringify(data === undefined ? null : data) ?? 'null'
}

/** Writes a 200 `{data[, total][, changes]}` response. */
export function sendData(res: ServerResponse, result: unknown): void {
  if (result instanceof RawJson && typeof result.json !== 'string') {
    // A pre-built body: written as chunks (one writev), never copied into a string.
    const chunks = Array.isArray(result.json) ? result.json : [result.json]
    let length = DATA_OPEN.length + DATA_CLOSE.length
    for (const c of chunks) length += c.length
    res.writeHead(200, 'OK', { ...baseHeaders(), 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': length })
    res.cork()
    res.write(DATA_OPEN)
    for (const c of chunks) res.write(c)
    res.end(DATA_CLOSE) // end() fully uncorks the socket
    return
  }
  let text: string
  if (result instanceof Envelope) {
    const extra = JSON.stringify(result.extra)
    text = `{"data":${dataJson(result.data ?? null)}${extra === '{}' ? '' : `,${extra.slice(1, -1)}`}}`
  } else text = `{"data":${dataJson(result)}}`
  res.writeHead(200, 'OK', {
    ...baseHeaders(),
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}

/** Reason phrase: first line of the message, without CR/LF; a multi-line one becomes `Bad Request`. */
export function reasonPhrase(message: string): string {
  const first = message.replace(/\n+$/, '').split('\n')[0] ?? ''
  return /[\r\n]/.test(first) || first === '' ? 'Bad Request' : first.replace(/[^\t\x20-\x7e]/g, '?')
}

/** Writes an error response in pveproxy's shape. */
export function sendError(res: ServerResponse, e: PveError): void {
  const reason = reasonPhrase(e.message)
  if (e.bare) {
    res.writeHead(e.status, reason, { ...baseHeaders(), Connection: 'close', 'Content-Length': 0 })
    res.end()
    return
  }
  const message = e.message.endsWith('\n') ? e.message : `${e.message}\n`
  const body: Record<string, unknown> = { data: null, message }
  if (e.errors) body.errors = e.errors
  const text = JSON.stringify(body)
  res.writeHead(e.status, reason, {
    ...baseHeaders(),
    Connection: 'close',
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}
