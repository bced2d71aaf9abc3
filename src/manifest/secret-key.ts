/**
 * The Proximity secret key: an X25519 key pair used to seal manifest secrets as JWE
 * (`ECDH-ES+A256KW` + `A256GCM`). Asymmetric on purpose: the public half may be shared (or
 * committed) so anyone can seal, while only the holder of the private half can unseal.
 *
 * Key file format (JSON, mode 0600):
 * ```json
 * { "kind": "ProximitySecretKey", "version": 1, "kid": "<RFC 7638 thumbprint>",
 *   "alg": "ECDH-ES+A256KW", "enc": "A256GCM", "createdAt": "<ISO time>",
 *   "publicKey":  { "kty": "OKP", "crv": "X25519", "x": "…" },
 *   "privateKey": { "kty": "OKP", "crv": "X25519", "x": "…", "d": "…" } }
 * ```
 * A public key file has the same shape without `privateKey` (it can seal, not unseal).
 */
import { hkdfSync } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'
import { SecretError } from './secret-error.js'

/** JWE key management algorithm used for every sealed value. */
export const SEAL_ALG = 'ECDH-ES+A256KW'
/** JWE content encryption algorithm used for every sealed value. */
export const SEAL_ENC = 'A256GCM'
/** Key object as jose imports it. */
type JoseKey = Awaited<ReturnType<typeof importJWK>>
const FILE_KIND = 'ProximitySecretKey'
const DIGEST_INFO = 'proximity/keyed-digest/v1'

/**
 * A loaded secret key. Opaque: the key material is held privately and never serialised, logged
 * or exposed; only the key id, whether it can unseal, and load warnings are visible.
 */
export interface SecretKey {
  /** RFC 7638 thumbprint of the public key; written as `kid` into every sealed value. */
  readonly kid: string
  /** True when the private half is present (unseal and keyed digests work). */
  readonly canUnseal: boolean
  /** Non-fatal findings from loading, e.g. a key file readable by group or others. */
  readonly warnings: readonly string[]
}

interface KeyMaterial {
  publicKey: JoseKey
  privateKey?: JoseKey
  digestKey?: Buffer
}

const material = new WeakMap<SecretKey, KeyMaterial>()

/** Internal: the key material behind an opaque SecretKey (throws if it was not made here). */
export function keyMaterial(key: SecretKey): KeyMaterial {
  const m = material.get(key)
  if (!m) throw new SecretError('InvalidArgument', 'not a secret key loaded by proximity; use loadSecretKey')
  return m
}

/**
 * Generates a new X25519 key pair. Pure apart from randomness: writes nothing; the caller decides
 * where `keyText` (private, keep out of git, mode 0600) and `publicKeyText` (shareable) go.
 */
export async function generateSecretKey(): Promise<{ keyText: string; publicKeyText: string; kid: string }> {
  const pair = await generateKeyPair(SEAL_ALG, { crv: 'X25519', extractable: true })
  const priv = await exportJWK(pair.privateKey)
  const pub = await exportJWK(pair.publicKey)
  const publicKey = { kty: pub.kty, crv: pub.crv, x: pub.x }
  const privateKey = { kty: priv.kty, crv: priv.crv, x: priv.x, d: priv.d }
  const kid = await calculateJwkThumbprint(publicKey)
  const head = { kind: FILE_KIND, version: 1, kid, alg: SEAL_ALG, enc: SEAL_ENC, createdAt: new Date().toISOString() }
  return {
    kid,
    keyText: `${JSON.stringify({ ...head, publicKey, privateKey }, null, 2)}\n`,
    publicKeyText: `${JSON.stringify({ ...head, publicKey }, null, 2)}\n`,
  }
}

/**
 * Reads and checks a key file. Errors (typed SecretError, message without key material):
 * missing file (`KeyNotFound`), unreadable file (`KeyUnreadable`), malformed content
 * (`KeyMalformed`). A private key file readable by group or others loads with a warning in
 * `warnings` (also passed to `options.onWarning`). Reads only; changes nothing.
 */
export async function loadSecretKey(
  path: string,
  options: { onWarning?: (message: string) => void } = {},
): Promise<SecretKey> {
  let text: string
  let mode: number
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new SecretError('KeyUnreadable', `secret key ${path} is not a file`)
    mode = st.mode
    text = await readFile(path, 'utf8')
  } catch (e) {
    if (e instanceof SecretError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SecretError(
        'KeyNotFound',
        `secret key not found at ${path}; run "proximity secret keygen" or set PROXIMITY_KEY_FILE`,
      )
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new SecretError('KeyUnreadable', `cannot read secret key ${path}: permission denied; check its owner and mode (want 0600)`)
    }
    throw new SecretError('KeyUnreadable', `cannot read secret key ${path} (${code ?? 'unknown error'})`)
  }
  const key = await parseSecretKey(text, path)
  const warnings: string[] = []
  if (key.canUnseal && process.platform !== 'win32' && (mode & 0o077) !== 0) {
    warnings.push(`secret key ${path} is readable by group or others; run: chmod 600 ${path}`)
  }
  for (const w of warnings) options.onWarning?.(w)
  return brand(key.kid, keyMaterial(key), warnings)
}

/**
 * Parses key file text (see the module comment). `origin` names the source in error messages.
 * Throws SecretError `KeyMalformed` with a message that never quotes the text.
 */
export async function parseSecretKey(text: string, origin = 'secret key'): Promise<SecretKey> {
  const bad = (what: string): SecretError =>
    new SecretError('KeyMalformed', `secret key ${origin} is malformed: ${what}; regenerate it with "proximity secret keygen --force"`)
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    // The JSON.parse message may quote the content: do not forward it.
    throw bad('not JSON')
  }
  if (!isRecord(doc) || doc.kind !== FILE_KIND) throw bad(`not a ${FILE_KIND} file`)
  if (doc.version !== 1) throw bad('unsupported version (want 1)')
  const pub = x25519Jwk(doc.publicKey, false)
  if (!pub) throw bad('publicKey is not an X25519 JWK')
  const kid = await calculateJwkThumbprint(pub)
  if (doc.kid !== undefined && doc.kid !== kid) throw bad('kid does not match the public key')
  let publicKey: JoseKey
  try {
    publicKey = (await importJWK(pub, SEAL_ALG))
  } catch {
    throw bad('publicKey cannot be imported')
  }
  const m: KeyMaterial = { publicKey }
  if (doc.privateKey !== undefined) {
    const priv = x25519Jwk(doc.privateKey, true)
    if (!priv) throw bad('privateKey is not an X25519 JWK')
    if (priv.x !== pub.x) throw bad('privateKey does not belong to publicKey')
    try {
      m.privateKey = (await importJWK(priv, SEAL_ALG))
    } catch {
      throw bad('privateKey cannot be imported')
    }
    const d = Buffer.from(priv.d as string, 'base64url')
    m.digestKey = Buffer.from(hkdfSync('sha256', d, Buffer.alloc(0), DIGEST_INFO, 32))
  }
  return brand(kid, m, [])
}

function brand(kid: string, m: KeyMaterial, warnings: string[]): SecretKey {
  const key: SecretKey = Object.freeze({ kid, canUnseal: m.privateKey !== undefined, warnings: Object.freeze([...warnings]) })
  material.set(key, m)
  return key
}

const B64_32 = /^[A-Za-z0-9_-]{43}$/

function x25519Jwk(v: unknown, withPrivate: boolean): JWK | undefined {
  if (!isRecord(v) || v.kty !== 'OKP' || v.crv !== 'X25519') return undefined
  if (typeof v.x !== 'string' || !B64_32.test(v.x)) return undefined
  if (!withPrivate) return { kty: 'OKP', crv: 'X25519', x: v.x }
  if (typeof v.d !== 'string' || !B64_32.test(v.d)) return undefined
  return { kty: 'OKP', crv: 'X25519', x: v.x, d: v.d }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
