import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { authenticate, login, type AuthConfig } from './auth.js'
import type { SimCore, UploadedFile } from './core.js'
import { Envelope, JSON_CONTENT_TYPE, RawJson, sendData, sendError } from './envelope.js'
import { PveError, paramError } from './errors.js'
import type { FaultStore } from './faults.js'
import { decodeForm, decodeJson, validateParams } from './params.js'
import type { MemoryRequestLog } from './request-log.js'
import type { Router } from './router.js'
import { responseDrift } from './shape-check.js'
import type { FaultRule } from './types.js'

/** What the HTTP front needs. */
export interface ServerDeps {
  core: SimCore
  router: Router
  faults: FaultStore
  log: MemoryRequestLog
  auth: AuthConfig
  authFailureDelayMs: number
  faultsEndpoint: boolean
  /** Check each 200 body against the route's returns schema (see SimulatorOptions). */
  verifyResponses?: boolean
  tls?: { cert: string; key: string }
}

const API = '/api2/json'
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** True for loopback peers. */
function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1'
}

/** Request bodies above this are refused (413), except uploads. */
const MAX_BODY = 4 * 1024 * 1024
/** Upload bodies (multipart) are held in memory to be parsed: a cap keeps that bounded. */
const MAX_UPLOAD = 256 * 1024 * 1024

async function readBytes(req: IncomingMessage, max: number): Promise<Buffer> {
  // No Content-Length and no Transfer-Encoding: HTTP/1.1 says there is no body (skip the stream).
  const cl = req.headers['content-length']
  if ((cl === undefined || cl === '0') && req.headers['transfer-encoding'] === undefined) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req) {
    size += (c as Buffer).length
    if (size > max) throw new PveError(413, 'request entity too large')
    chunks.push(c as Buffer)
  }
  return Buffer.concat(chunks)
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req, MAX_BODY)).toString('utf8')
}

/**
 * A `multipart/form-data` body (what pveproxy accepts for uploads): text fields become
 * parameters; a file field becomes a parameter holding the file's name (as pveproxy passes it)
 * and the file itself is returned beside them.
 */
async function decodeMultipart(body: Buffer, contentType: string): Promise<{ raw: Record<string, string | string[]>; upload?: UploadedFile }> {
  let form: FormData
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData()
  } catch {
    throw new PveError(400, 'malformed multipart body')
  }
  const raw: Record<string, string | string[]> = {}
  let upload: UploadedFile | undefined
  for (const [k, v] of form) {
    if (typeof v === 'string') raw[k] = v
    else {
      raw[k] = v.name
      upload = { name: v.name, data: new Uint8Array(await v.arrayBuffer()) }
    }
  }
  return upload ? { raw, upload } : { raw }
}

/**
 * Creates the HTTP(S) server of the simulated pveproxy: routing, auth, parameter validation,
 * faults and the request log. The caller listens and closes.
 */
export function createSimServer(deps: ServerDeps): { server: Server; closeAll(): void } {
  const sockets = new Set<Socket>()
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(deps, req, res).catch(() => {
      if (!res.headersSent) sendError(res, new PveError(500, 'internal simulator error'))
      else res.destroy()
    })
  }
  const server = deps.tls ? createHttps({ cert: deps.tls.cert, key: deps.tls.key }, handler) : createHttp(handler)
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return {
    server,
    closeAll: () => {
      for (const s of sockets) s.destroy()
    },
  }
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now()
  const method = (req.method ?? 'GET').toUpperCase()
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const rawPath = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? '' : url.slice(q + 1)
  if (rawPath.startsWith('/_sim/') && deps.faultsEndpoint && isLoopback(req.socket.remoteAddress)) {
    await control(deps, method, rawPath, req, res)
    return
  }
  const apiPath = rawPath.startsWith(`${API}/`) ? rawPath.slice(API.length) : rawPath
  let template = apiPath
  let user: string | undefined
  const finish = (status: number): void => {
    // Anything but a read may have changed state (even where a handler forgot markDirty).
    if (method !== 'GET') deps.core.touch()
    deps.log.add({ time: deps.core.now(), method, route: template, path: apiPath, status, durationMs: performance.now() - started, ...(user ? { user } : {}) })
  }
  const respondError = (e: PveError): void => {
    sendError(res, e)
    finish(e.status)
  }
  try {
    const segments = rawPath.startsWith(`${API}/`)
      ? apiPath.split('/').slice(1).map((s) => {
          try {
            return decodeURIComponent(s)
          } catch {
            return s
          }
        })
      : undefined
    const match = segments ? deps.router.match(method, segments) : undefined
    if (!match) throw new PveError(501, `Method '${method} ${apiPath}' not implemented`)
    template = match.route.path
    const contentType = req.headers['content-type'] ?? ''
    const multipart = /^multipart\/form-data\b/i.test(contentType)
    const bytes = await readBytes(req, multipart ? MAX_UPLOAD : MAX_BODY)
    if ((method === 'GET' || method === 'DELETE') && bytes.length > 0) throw new PveError(501, `Unexpected content for method '${method}'`)
    let auth: { user: string; ticket: boolean } | undefined
    if (!match.route.noAuth) {
      try {
        auth = authenticate(deps.auth, req)
        user = auth.user
      } catch (e) {
        if (deps.authFailureDelayMs > 0) await sleep(deps.authFailureDelayMs)
        throw e
      }
    }
    const before = deps.faults.match(method, template, apiPath, false)
    if (await applyFaults(before, res, match.pathParams)) {
      finish(0)
      return
    }
    const node = match.pathParams.node
    if (node !== undefined && deps.core.offline.has(node)) throw new PveError(595, 'Errors during connection establishment, proxy handshake: Connection refused')
    let upload: UploadedFile | undefined
    let raw: Record<string, string | string[]>
    if (multipart) ({ raw, upload } = await decodeMultipart(bytes, contentType))
    else {
      const body = bytes.toString('utf8')
      raw = /^application\/json\b/i.test(contentType) ? decodeJson(body || '{}') : decodeForm(body)
    }
    Object.assign(raw, decodeForm(query))
    for (const [k, v] of Object.entries(match.pathParams)) {
      if (raw[k] !== undefined && raw[k] !== v) throw paramError({ [k]: 'duplicate parameter (already defined in URI) with conflicting values!' })
      raw[k] = v
    }
    const params = validateParams(match.route.schema, raw)
    let result: unknown
    if (template === '/access/ticket') {
      try {
        result = login(deps.auth, params)
      } catch (e) {
        if (deps.authFailureDelayMs > 0) await sleep(deps.authFailureDelayMs)
        throw e
      }
      user = String(params.username)
    } else {
      if (typeof params.node === 'string') deps.core.requireNode(params.node)
      result = await match.route.handler({ core: deps.core, params, user: user ?? '', method, template, ...(upload ? { upload } : {}) })
      if (method !== 'GET') deps.core.touch()
    }
    if (deps.verifyResponses) {
      const drift = responseDrift(`${method} ${template}`, match.route.schema.returns, responseData(result))
      if (drift.length > 0) throw new PveError(500, `simulator response drift: ${method} ${template} ${drift.join('; ')}`)
    }
    const after = deps.faults.match(method, template, apiPath, true)
    if (await applyFaults(after, res, match.pathParams)) {
      finish(0)
      return
    }
    sendData(res, result)
    finish(200)
  } catch (e) {
    if (e instanceof PveError) respondError(e)
    else respondError(new PveError(500, (e as Error).message || 'internal simulator error'))
  }
}

/** The `data` a handler result puts on the wire (envelopes unwrapped, raw JSON parsed). */
function responseData(result: unknown): unknown {
  if (result instanceof Envelope) return result.data
  if (result instanceof RawJson) {
    const j = result.json
    return JSON.parse(typeof j === 'string' ? j : Array.isArray(j) ? Buffer.concat(j).toString('utf8') : j.toString('utf8'))
  }
  return result ?? null
}

/** Applies fault actions; returns true when the connection was dropped. Errors are thrown. */
async function applyFaults(rules: FaultRule[], res: ServerResponse, pathParams: Record<string, string>): Promise<boolean> {
  for (const r of rules) {
    const a = r.action
    if (a.type === 'latency') await sleep(a.ms)
    else if (a.type === 'drop') {
      res.socket?.destroy()
      return true
    } else if (a.type === 'error') throw new PveError(a.status, a.message)
    else if (a.type === 'lockTimeout') throw new PveError(500, `can't lock file '/run/lock/lxc/pve-config-${pathParams.vmid ?? '0'}.lock' - got timeout`)
  }
  return false
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

/** The `/_sim/faults` and `/_sim/log` control endpoint (loopback only, when enabled). */
async function control(deps: ServerDeps, method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (path === '/_sim/faults') {
      if (method === 'GET') return sendJson(res, 200, { data: deps.faults.list() })
      if (method === 'DELETE') {
        deps.faults.clear()
        return sendJson(res, 200, { data: null })
      }
      if (method === 'POST') {
        const rule = JSON.parse((await readBody(req)) || 'null') as FaultRule
        return sendJson(res, 200, { data: deps.faults.add(rule) })
      }
    }
    if (path === '/_sim/log') {
      if (method === 'GET') return sendJson(res, 200, { data: deps.log.entries() })
      if (method === 'DELETE') {
        deps.log.clear()
        return sendJson(res, 200, { data: null })
      }
    }
    sendJson(res, 404, { data: null, message: `no such control endpoint ${method} ${path}\n` })
  } catch (e) {
    sendJson(res, 400, { data: null, message: `${(e as Error).message}\n` })
  }
}
