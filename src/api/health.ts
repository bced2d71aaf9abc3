/**
 * The daemon's minimal HTTP surface until the API arrives (DESIGN §6): `GET /healthz` (the
 * process answers) and `GET /readyz` (the engine is reconciling: started, lease held, not
 * shutting down). Plain node:http; anything else is 404. Bodies are fixed words, never state.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HealthServer {
  /** `http://host:port` actually bound (port 0 resolves to the chosen port). */
  url: string
  close(): Promise<void>
}

/** Splits `HOST:PORT` (`[::1]:8080` for IPv6); throws a located message on bad input. */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(addr.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) throw new Error(`--listen must be HOST:PORT such as 127.0.0.1:8080, got "${addr}"`)
  return { host: m[1] ?? m[2], port }
}

/** Binds the health endpoints on `host:port`; `ready()` decides /readyz. */
export async function startHealthServer(opts: { host: string; port: number; ready: () => boolean }): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      res.end(`${body}\n`)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed')
    if (path === '/healthz') return send(200, 'ok')
    if (path === '/readyz') return opts.ready() ? send(200, 'ready') : send(503, 'not ready')
    send(404, 'not found')
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(opts.port, opts.host, () => done())
  })
  const a = server.address() as AddressInfo
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
  return {
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      }),
  }
}
