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

function baseHeaders(): Record<string, string> {
  return {
    Server: 'pve-api-daemon/3.0',
    'Cache-Control': 'max-age=0',
    Pragma: 'no-cache',
    Expires: new Date().toUTCString(),
  }
}

/** Writes a 200 `{data[, total][, changes]}` response. */
export function sendData(res: ServerResponse, result: unknown): void {
  const body =
    result instanceof Envelope
      ? { data: result.data ?? null, ...result.extra }
      : { data: result === undefined ? null : result }
  const text = JSON.stringify(body)
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
