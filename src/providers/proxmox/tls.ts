/**
 * TLS trust for the Proxmox API: pin the server certificate by SHA-256 fingerprint, trust a CA
 * PEM, or (only when asked) skip verification. Builds the undici Agent the engine sends through.
 */
import { createHash, X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import { Agent, buildConnector } from 'undici'

/** How to trust the server. Exactly one of the three; none means the system CA store. */
export interface PveTlsOptions {
  /** SHA-256 of the server certificate (`AA:BB:…`, case and colons optional). */
  fingerprint?: string
  /** PEM of the CA (or the self-signed certificate) to trust; hostname is still verified. */
  ca?: string
  /** Accept any certificate. Only for throwaway setups; never the default. */
  insecureSkipVerify?: boolean
}

/** Raised by the connector when the certificate does not match the pin (before any request data). */
export class TlsPinMismatchError extends Error {
  override readonly name = 'TlsPinMismatchError'
  readonly code = 'PVE_TLS_PIN_MISMATCH'
  constructor(readonly expected: string, readonly actual: string) {
    super(`server certificate fingerprint ${actual || '(none)'} does not match the pinned ${expected}; check tls.fingerprint`)
  }
}

/**
 * SHA-256 fingerprint of a certificate given as PEM text or DER bytes, as colon-separated
 * upper-case hex (the form PVE shows and `openssl x509 -fingerprint -sha256` prints). Throws on
 * input that is not a certificate.
 */
export function fingerprintOf(pemOrDer: string | Uint8Array): string {
  const cert = new X509Certificate(typeof pemOrDer === 'string' ? pemOrDer : Buffer.from(pemOrDer))
  return formatFingerprint(createHash('sha256').update(cert.raw).digest('hex'))
}

/**
 * Canonical form of a user-given SHA-256 fingerprint (`aabb…` or `AA:BB:…`, an optional
 * `sha256:` prefix). Throws a short error when it is not 32 hex bytes.
 */
export function normalizeFingerprint(input: string): string {
  const hex = input.trim().replace(/^sha256:/i, '').replace(/[:\s]/g, '')
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error('tls.fingerprint must be a sha-256 fingerprint: 32 hex bytes, e.g. AB:CD:…')
  }
  return formatFingerprint(hex)
}

const formatFingerprint = (hex: string): string => hex.toUpperCase().match(/../g)!.join(':')

export interface PveAgentOptions {
  tls?: PveTlsOptions
  /** TCP+TLS connect timeout. @default 10_000 */
  connectTimeoutMs?: number
  /** Connections kept to the origin; further requests queue (pveproxy runs only a few workers). @default 8 */
  maxConnections?: number
}

/**
 * An undici Agent that enforces `tls`. With a fingerprint, verification by CA is off and the
 * connector compares the peer certificate's SHA-256 right after the handshake and destroys the
 * socket on mismatch, so not a byte of the request (nor the Authorization header) is sent.
 * WARNING: the caller owns the Agent; close it when done.
 */
export function createPveAgent(opts: PveAgentOptions = {}): Agent {
  const tls = opts.tls ?? {}
  const timeout = opts.connectTimeoutMs ?? 10_000
  const connections = opts.maxConnections ?? 8
  const chosen = [tls.fingerprint, tls.ca, tls.insecureSkipVerify ? true : undefined].filter((v) => v !== undefined && v !== '')
  if (chosen.length > 1) throw new Error('tls: set only one of fingerprint, ca or insecureSkipVerify')
  if (tls.fingerprint) {
    const pinned = normalizeFingerprint(tls.fingerprint)
    // No TLS session cache: every connection shows its certificate again.
    const base = buildConnector({ rejectUnauthorized: false, timeout, maxCachedSessions: 0 })
    return new Agent({
      connections,
      connect: (options, callback) => {
        base(options, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('tls connect failed'), null)
          const cert = (socket as TLSSocket).getPeerCertificate?.()
          const actual = cert && cert.fingerprint256 ? cert.fingerprint256.toUpperCase() : ''
          if (actual !== pinned) {
            socket.destroy()
            return callback(new TlsPinMismatchError(pinned, actual), null)
          }
          callback(null, socket)
        })
      },
    })
  }
  if (tls.ca) return new Agent({ connections, connect: { ca: tls.ca, timeout } })
  if (tls.insecureSkipVerify) return new Agent({ connections, connect: { rejectUnauthorized: false, timeout } })
  return new Agent({ connections, connect: { timeout } })
}
