/**
 * A tiny HTTPS server speaking the PVE wire format (REFERENCE §2.3), for engine-level tests:
 * content types, envelopes, TLS pinning, retries, dropped connections. Routes are plain
 * functions; every request that reached the HTTP layer is recorded.
 */
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generate } from 'selfsigned'
import { fingerprintOf } from '../../src/providers/proxmox/tls.js'

export interface RecordedRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  body: string
}

export type FakeHandler = (req: RecordedRequest, res: ServerResponse) => unknown

export interface FakePve {
  endpoint: string
  port: number
  fingerprint: string
  certPem: string
  requests: RecordedRequest[]
  /** Most TLS connections open at the same time since the last `resetPeak()`. */
  peakConnections: () => number
  resetPeak: () => void
  route(method: string, path: string, handler: FakeHandler): void
  close(): Promise<void>
}

export const CT = 'application/json;charset=UTF-8'

/** Sends `{data, ...extra}` with PVE's exact content type. */
export function ok(res: ServerResponse, data: unknown, extra: Record<string, unknown> = {}): void {
  res.writeHead(200, 'OK', { 'content-type': CT })
  res.end(JSON.stringify({ data, ...extra }))
}

/** Sends a PVE error: reason phrase = first message line, body `{data:null, message}`. */
export function fail(res: ServerResponse, status: number, message: string, errors?: Record<string, string>): void {
  res.writeHead(status, message.split('\n')[0], { 'content-type': CT, connection: 'close' })
  res.end(JSON.stringify({ data: null, message: `${message}\n`, ...(errors ? { errors } : {}) }))
}

let certCache: Promise<{ key: string; cert: string }> | undefined

/** One self-signed certificate for 127.0.0.1 per test process (RSA generation is slow). */
export function testCert(): Promise<{ key: string; cert: string }> {
  certCache ??= generate([{ name: 'commonName', value: 'pve.test' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  }).then((p) => ({ key: p.private, cert: p.cert }))
  return certCache
}

/** Starts the server on 127.0.0.1, free port. Unknown routes answer 501 like pveproxy. */
export async function startFakePve(): Promise<FakePve> {
  const { key, cert } = await testCert()
  const routes = new Map<string, FakeHandler>()
  const requests: RecordedRequest[] = []
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://x')
      const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString() }
      requests.push(rec)
      const handler = routes.get(`${rec.method} ${rec.path}`)
      if (!handler) return fail(res, 501, `Method '${rec.method} ${rec.path}' not implemented`)
      Promise.resolve(handler(rec, res)).catch(() => res.destroy())
    })
  })
  let open = 0
  let peak = 0
  server.on('secureConnection', (socket) => {
    open++
    peak = Math.max(peak, open)
    socket.on('close', () => open--)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `https://127.0.0.1:${port}`,
    port,
    fingerprint: fingerprintOf(cert),
    certPem: cert,
    requests,
    peakConnections: () => peak,
    resetPeak: () => {
      peak = open
    },
    route: (method, path, handler) => routes.set(`${method} /api2/json${path}`, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
