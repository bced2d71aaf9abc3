import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { authError, PveError } from './errors.js'

const TICKET_LIFETIME_S = 7200

/** The credentials a simulator accepts. */
export interface AuthConfig {
  tokenId: string
  tokenSecret: string
  password: string
  ticketKey: string
  now: () => number
}

/** Who a request runs as. */
export interface AuthResult {
  user: string
  ticket: boolean
}

const hexTime = (now: number): string => Math.floor(now / 1000).toString(16).toUpperCase().padStart(8, '0')
const sign = (key: string, text: string): string => createHmac('sha256', key).update(text).digest('base64')

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Issues a ticket `PVE:<user>:<hex time>::<signature>`. */
export function issueTicket(cfg: AuthConfig, user: string): string {
  const plain = `PVE:${user}:${hexTime(cfg.now())}`
  return `${plain}::${sign(cfg.ticketKey, plain)}`
}

/** Issues the CSRF prevention token bound to a user. */
export function issueCsrf(cfg: AuthConfig, user: string): string {
  const t = hexTime(cfg.now())
  return `${t}:${sign(cfg.ticketKey, `${t}:${user}`)}`
}

/** Verifies a ticket; returns the user or undefined. */
export function verifyTicket(cfg: AuthConfig, ticket: string): string | undefined {
  const m = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket)
  if (!m) return undefined
  if (!safeEqual(sign(cfg.ticketKey, m[1] as string), m[4] as string)) return undefined
  const age = Math.floor(cfg.now() / 1000) - parseInt(m[3] as string, 16)
  if (age < -300 || age > TICKET_LIFETIME_S) return undefined
  return m[2]
}

function verifyCsrf(cfg: AuthConfig, token: string | undefined, user: string): boolean {
  if (!token) return false
  const m = /^([0-9A-F]{8}):(.+)$/.exec(token)
  if (!m) return false
  const age = Math.floor(cfg.now() / 1000) - parseInt(m[1] as string, 16)
  return age <= TICKET_LIFETIME_S && age >= -300 && safeEqual(sign(cfg.ticketKey, `${m[1]}:${user}`), m[2] as string)
}

/**
 * Authenticates a request like pveproxy: API token (no CSRF) or ticket cookie / header (CSRF
 * token required on non-GET). Throws bare 401s (`No ticket`, `Authentication failed!`,
 * `Permission denied - invalid csrf token`).
 */
export function authenticate(cfg: AuthConfig, req: IncomingMessage): AuthResult {
  const header = req.headers.authorization
  if (header && /^PVEAPIToken[= ]/.test(header)) {
    const value = header.slice('PVEAPIToken='.length).trim()
    const i = value.lastIndexOf('=')
    const id = i < 0 ? value : value.slice(0, i)
    const secret = i < 0 ? '' : value.slice(i + 1)
    if (id === cfg.tokenId && safeEqual(secret, cfg.tokenSecret)) return { user: id, ticket: false }
    throw authError('Authentication failed!')
  }
  let ticket: string | undefined
  if (header && header.startsWith('PVEAuthCookie=')) ticket = decodeURIComponent(header.slice('PVEAuthCookie='.length).trim())
  const cookie = req.headers.cookie
  if (!ticket && cookie) {
    for (const part of cookie.split(/;\s*/)) {
      if (part.startsWith('PVEAuthCookie=')) ticket = decodeURIComponent(part.slice('PVEAuthCookie='.length))
    }
  }
  if (!ticket) throw authError('No ticket')
  const user = verifyTicket(cfg, ticket)
  if (!user) throw authError('Authentication failed!')
  if (req.method !== 'GET') {
    const csrf = req.headers.csrfpreventiontoken
    if (!verifyCsrf(cfg, Array.isArray(csrf) ? csrf[0] : csrf, user)) throw authError('Permission denied - invalid csrf token')
  }
  return { user, ticket: true }
}

/** `POST /access/ticket`: password (or a valid ticket) for root@pam → ticket + CSRF token. */
export function login(cfg: AuthConfig, params: Record<string, unknown>): Record<string, unknown> {
  let username = String(params.username ?? '')
  if (params.realm !== undefined && !username.includes('@')) username = `${username}@${String(params.realm)}`
  const password = String(params.password ?? '')
  const ok = username === 'root@pam' && (safeEqual(password, cfg.password) || verifyTicket(cfg, password) === 'root@pam')
  if (!ok) throw new PveError(401, 'authentication failure')
  return {
    username,
    ticket: issueTicket(cfg, username),
    CSRFPreventionToken: issueCsrf(cfg, username),
    cap: {
      vms: { 'VM.Allocate': 1, 'VM.Config.Options': 1, 'VM.PowerMgmt': 1, 'VM.Audit': 1, 'VM.Backup': 1 },
      storage: { 'Datastore.Allocate': 1, 'Datastore.AllocateSpace': 1, 'Datastore.Audit': 1 },
      nodes: { 'Sys.Audit': 1, 'Sys.Modify': 1 },
      access: { 'User.Modify': 1 },
      dc: { 'Sys.Audit': 1 },
      sdn: { 'SDN.Audit': 1 },
      mapping: { 'Mapping.Audit': 1 },
    },
  }
}
