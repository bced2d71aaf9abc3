/**
 * API tokens (DESIGN §6): signed JWTs for the read-only status API. The signing key and the token
 * registry live in the user's config directory (`$XDG_CONFIG_HOME/proximity/`, 0600 files in a
 * 0700 folder), apart from the state they give access to.
 *
 * - Algorithm pinned to EdDSA (Ed25519): `alg: none`, HS256 with the public key as secret and
 *   RS/ES tokens are refused before any claim is read.
 * - `exp`, `iat`, `jti`, `iss` and `aud` are required; a small clock skew is tolerated.
 * - A token is valid only while its `jti` is in the registry and not revoked. The registry file is
 *   re-read when it changes on disk, so `proximity token revoke` takes effect at once, also for a
 *   running `serve`.
 * - A token whose signature and claims passed is remembered by its exact text until it expires
 *   (signature checks cost ~0.1-0.3 ms a request); the registry is still consulted on every
 *   request, so revocation stays immediate, and a new signing key forgets every remembered token.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, openSync, writeSync, closeSync, fsyncSync, chmodSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK } from 'jose'

/** What a token lets its bearer read. `viewer`: everything the API shows; `metrics`: `/metrics` only. */
export type TokenRole = 'viewer' | 'metrics'
export const TOKEN_ROLES: readonly TokenRole[] = ['viewer', 'metrics']

/** One issued token as the registry keeps it; never the token itself. */
export interface TokenRecord {
  /** The token's `jti`. */
  id: string
  name?: string
  role: TokenRole
  issuedAt: string
  expiresAt: string
  revokedAt?: string
}

/** The verified identity of a request. */
export interface TokenClaims {
  id: string
  role: TokenRole
  name?: string
  expiresAt: string
}

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string }

export interface TokenAuthorityOptions {
  /** Folder holding `api-signing-key.jwk` and `api-tokens.json`. */
  configDir: string
  /** Current time in ms. @default Date.now */
  now?: () => number
  /** Accepted clock difference, seconds. @default 30 */
  clockToleranceSec?: number
  /** Verified tokens remembered at once (oldest forgotten first). @default 1024 */
  verifiedCacheSize?: number
}

export interface TokenAuthority {
  /** Creates a token; the signing key is created on first use. */
  issue(opts: { role: TokenRole; ttlMs: number; name?: string }): Promise<{ record: TokenRecord; token: string }>
  list(): TokenRecord[]
  /** Marks a token revoked (idempotent). Throws TokenError for an unknown id. */
  revoke(id: string): TokenRecord
  /** Checks a bearer token; never throws. */
  verify(token: string): Promise<VerifyResult>
}

/** A user-facing token error (unknown id, bad role); the message says what to do. */
export class TokenError extends Error {
  override readonly name = 'TokenError'
}

export const TOKEN_ISSUER = 'proximity'
export const TOKEN_AUDIENCE = 'proximity-api'
const ALG = 'EdDSA'
const KEY_FILE = 'api-signing-key.jwk'
const REGISTRY_FILE = 'api-tokens.json'
/** Anything longer is not one of our tokens; refused before parsing. */
const MAX_TOKEN_LENGTH = 4096

/** `$XDG_CONFIG_HOME/proximity`, else `~/.config/proximity` (`PROXIMITY_CONFIG_DIR` overrides). */
export function resolveConfigDir(env: NodeJS.ProcessEnv): string {
  if (env.PROXIMITY_CONFIG_DIR) return env.PROXIMITY_CONFIG_DIR
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config')
  return join(base, 'proximity')
}

interface Registry {
  tokens: TokenRecord[]
}

/** Creates the token authority of one config dir. Cheap; files are read lazily. */
export function createTokenAuthority(options: TokenAuthorityOptions): TokenAuthority {
  const dir = options.configDir
  const now = options.now ?? Date.now
  const tolerance = options.clockToleranceSec ?? 30
  const keyPath = join(dir, KEY_FILE)
  const registryPath = join(dir, REGISTRY_FILE)
  let cachedRegistry: { stamp: string; registry: Registry } | undefined
  let verifyKey: { stamp: string; key: Awaited<ReturnType<typeof importJWK>> } | undefined
  const cacheSize = options.verifiedCacheSize ?? 1024
  /**
   * Tokens whose signature and claims were checked, by their exact text: the payload, the key
   * file stamp it was checked against, and the instant (ms) past which `exp` refuses it.
   */
  const verified = new Map<string, { keyStamp: string; payload: Record<string, unknown>; until: number }>()

  function ensureDir(): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  function stampOf(path: string): string | undefined {
    try {
      const s = statSync(path)
      return `${s.mtimeMs}:${s.size}:${s.ino}`
    } catch {
      return undefined
    }
  }

  function readRegistry(): Registry {
    const stamp = stampOf(registryPath)
    if (!stamp) return { tokens: [] }
    if (cachedRegistry?.stamp === stamp) return cachedRegistry.registry
    let registry: Registry
    try {
      const parsed = JSON.parse(readFileSync(registryPath, 'utf8')) as Registry
      registry = { tokens: Array.isArray(parsed.tokens) ? parsed.tokens : [] }
    } catch {
      // A damaged registry accepts no token: failing closed is the safe side.
      registry = { tokens: [] }
    }
    cachedRegistry = { stamp, registry }
    return registry
  }

  function writeRegistry(registry: Registry): void {
    ensureDir()
    writeAtomic(registryPath, `${JSON.stringify(registry, null, 2)}\n`)
    cachedRegistry = undefined
  }

  async function signingJwk(): Promise<JWK> {
    const existing = readJwk(keyPath)
    if (existing) return existing
    ensureDir()
    const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true })
    const jwk = await exportJWK(privateKey)
    try {
      // Exclusive create: two processes racing on first use end up with one key.
      const fd = openSync(keyPath, 'wx', 0o600)
      writeSync(fd, `${JSON.stringify(jwk)}\n`)
      fsyncSync(fd)
      closeSync(fd)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const stored = readJwk(keyPath)
    if (!stored) throw new TokenError(`cannot read the API signing key ${keyPath}`)
    return stored
  }

  async function publicKey(): Promise<{ stamp: string; key: Awaited<ReturnType<typeof importJWK>> } | undefined> {
    const stamp = stampOf(keyPath)
    if (!stamp) return undefined
    if (verifyKey?.stamp === stamp) return verifyKey
    const jwk = readJwk(keyPath)
    if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return undefined
    const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, ALG)
    verifyKey = { stamp, key }
    // Tokens checked against another key are not trusted any more.
    verified.clear()
    return verifyKey
  }

  /** The payload of a token verified before against `keyStamp` and not expired since. */
  function remembered(token: string, keyStamp: string): Record<string, unknown> | undefined {
    const hit = verified.get(token)
    if (!hit) return undefined
    if (hit.keyStamp === keyStamp && now() < hit.until) return hit.payload
    verified.delete(token)
    return undefined
  }

  function remember(token: string, keyStamp: string, payload: Record<string, unknown>): void {
    // Only the claims we issue: a token with `nbf` (not ours) is checked every time.
    if (typeof payload.exp !== 'number' || payload.nbf !== undefined) return
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!)
    verified.set(token, { keyStamp, payload, until: (payload.exp + tolerance) * 1000 })
  }

  return {
    async issue({ role, ttlMs, name }) {
      if (!TOKEN_ROLES.includes(role)) throw new TokenError(`unknown role "${role}"; use viewer or metrics`)
      if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new TokenError('the token lifetime must be positive, e.g. --ttl 24h')
      const jwk = await signingJwk()
      const key = await importJWK(jwk, ALG)
      const id = randomUUID()
      const iat = Math.floor(now() / 1000)
      const exp = iat + Math.max(1, Math.floor(ttlMs / 1000))
      const builder = new SignJWT({ role })
        .setProtectedHeader({ alg: ALG, typ: 'JWT' })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setJti(id)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
      if (name) builder.setSubject(name)
      const token = await builder.sign(key)
      const record: TokenRecord = {
        id,
        ...(name ? { name } : {}),
        role,
        issuedAt: new Date(iat * 1000).toISOString(),
        expiresAt: new Date(exp * 1000).toISOString(),
      }
      const registry = readRegistry()
      // Expired tokens older than a week are dropped so the registry stays small.
      const keepAfter = now() - 7 * 24 * 3600_000
      writeRegistry({ tokens: [...registry.tokens.filter((t) => Date.parse(t.expiresAt) > keepAfter), record] })
      return { record, token }
    },

    list() {
      return [...readRegistry().tokens].sort((a, b) => a.issuedAt.localeCompare(b.issuedAt) || a.id.localeCompare(b.id))
    },

    revoke(id) {
      const registry = readRegistry()
      const found = registry.tokens.find((t) => t.id === id)
      if (!found) throw new TokenError(`no token with id "${id}"; see proximity token list`)
      if (found.revokedAt) return found
      const revoked = { ...found, revokedAt: new Date(now()).toISOString() }
      writeRegistry({ tokens: registry.tokens.map((t) => (t.id === id ? revoked : t)) })
      return revoked
    },

    async verify(token) {
      if (typeof token !== 'string' || token.length === 0) return { ok: false, reason: 'missing token' }
      if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
        return { ok: false, reason: 'malformed token' }
      }
      const key = await publicKey()
      if (!key) return { ok: false, reason: 'no signing key: issue a token first' }
      let checkedPayload = remembered(token, key.stamp)
      if (!checkedPayload) {
        try {
          const checked = await jwtVerify(token, key.key, {
            algorithms: [ALG],
            issuer: TOKEN_ISSUER,
            audience: TOKEN_AUDIENCE,
            requiredClaims: ['exp', 'iat', 'jti', 'iss', 'aud'],
            clockTolerance: tolerance,
            currentDate: new Date(now()),
          })
          checkedPayload = checked.payload as Record<string, unknown>
        } catch (e) {
          return { ok: false, reason: verifyFailure(e) }
        }
        remember(token, key.stamp, checkedPayload)
      }
      const payload = checkedPayload
      const role = payload.role
      if (role !== 'viewer' && role !== 'metrics') return { ok: false, reason: 'token has no valid role' }
      const record = readRegistry().tokens.find((t) => t.id === payload.jti)
      if (!record) return { ok: false, reason: 'unknown token' }
      if (record.revokedAt) return { ok: false, reason: 'token revoked' }
      if (record.role !== role) return { ok: false, reason: 'token role does not match its record' }
      return { ok: true, claims: { id: record.id, role, ...(record.name ? { name: record.name } : {}), expiresAt: record.expiresAt } }
    },
  }
}

function verifyFailure(e: unknown): string {
  const code = (e as { code?: string }).code
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `token claim "${(e as { claim?: string }).claim ?? '?'}" is not valid`
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'token algorithm not allowed'
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad token signature'
    default:
      return 'malformed token'
  }
}

function readJwk(path: string): JWK | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as JWK
  } catch {
    return undefined
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
  writeFileSync(tmp, text, { mode: 0o600 })
  const fd = openSync(tmp, 'r')
  fsyncSync(fd)
  closeSync(fd)
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}
