/**
 * Binds the API app to an address (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:8080`, `:8080`),
 * over HTTPS when a certificate and key are given. Binding a non-loopback address without TLS
 * is allowed but reported through `warn` so `serve` can say it loudly.
 */
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { serve, type ServerType } from '@hono/node-server'
import type { Hono } from 'hono'

export interface ListenAddress {
  host: string
  port: number
}

/** A bad `--listen` value; the message says the expected form. */
export class ListenError extends Error {
  override readonly name = 'ListenError'
}

/** Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || !Number.isInteger(port) || port > 65535) throw new ListenError(`--listen "${text}": use HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free one)`)
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!)
  return { host, port }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

export interface RunningServer {
  /** `http://127.0.0.1:8080` */
  url: string
  address: ListenAddress
  close(): Promise<void>
}

export interface StartServerOptions {
  app: Hono
  listen: ListenAddress
  tls?: { certFile: string; keyFile: string }
  warn?: (message: string) => void
  /** Ask V8 to keep the process's heap compact (see `compactHeap`). @default true */
  compactHeap?: boolean
}

/**
 * Makes V8 favour a small heap over a fast-growing one (`--optimize-for-size`: a smaller young
 * generation, slower heap growth, earlier full collections). `serve` is the long-running process
 * the API lives in; its live heap with 1,000 apps is ~50 MiB, but with V8's defaults the heap it
 * keeps grows to ~2.5× that under load (garbage of each resync and of requests held open by slow
 * clients is promoted before it dies), which alone breaks the 200 MB budget. Measured with
 * `bench/serve-rss.ts`: RSS ~120 MiB steady and ~135 MiB after list load, against ~160 and ~200.
 *
 * WARNING: process-wide and not undone: every later allocation in the process follows it.
 * Idempotent.
 */
export function compactHeap(): void {
  setFlagsFromString('--optimize-for-size')
}

/** Starts listening; resolves once the socket is bound (errors such as EADDRINUSE reject). */
export function startApiServer(opts: StartServerOptions): Promise<RunningServer> {
  if (opts.compactHeap !== false) compactHeap()
  if (!opts.tls && !isLoopback(opts.listen.host)) {
    opts.warn?.(`the API listens on ${opts.listen.host}:${opts.listen.port} without TLS: tokens travel in clear text; pass --tls-cert and --tls-key, or bind 127.0.0.1`)
  }
  return new Promise((resolveStart, rejectStart) => {
    let server: ServerType
    const onListening = (info: AddressInfo) => {
      server.off('error', rejectStart)
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address
      const url = `${opts.tls ? 'https' : 'http'}://${host}:${info.port}`
      resolveStart({
        url,
        address: { host: info.address, port: info.port },
        close: () =>
          new Promise<void>((r) => {
            const s = server as unknown as { closeAllConnections?: () => void; close(cb: () => void): void }
            s.close(() => r())
            s.closeAllConnections?.()
          }),
      })
    }
    server = serve(
      {
        fetch: opts.app.fetch,
        hostname: opts.listen.host,
        port: opts.listen.port,
        ...(opts.tls
          ? { createServer: createHttpsServer, serverOptions: { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) } }
          : {}),
      },
      onListening,
    )
    server.once('error', rejectStart)
  })
}
