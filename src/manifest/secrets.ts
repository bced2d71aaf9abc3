/**
 * Sealed secrets (DESIGN §2 "Secrets"): seal a value into a JWE compact string that is safe to
 * commit, unseal it in memory when applying, resolve every manifest SecretRef form, compare
 * secrets through keyed digests, and redact secret values from text.
 *
 * Choice: JWE `ECDH-ES+A256KW` + `A256GCM` over an X25519 key pair (see secret-key.ts). Anyone
 * with the public key can seal; only the private key unseals. AES-GCM authenticates, so a
 * tampered value fails to unseal instead of yielding garbage.
 *
 * Nothing here logs. Every error is a SecretError whose message never holds a secret value, a
 * sealed value or key material.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import type { SecretRef } from '../model/types.js'
import { SecretError } from './secret-error.js'
import { keyMaterial, SEAL_ALG, SEAL_ENC, type SecretKey } from './secret-key.js'

export { SecretError } from './secret-error.js'
export { generateSecretKey, loadSecretKey, parseSecretKey, SEAL_ALG, SEAL_ENC, type SecretKey } from './secret-key.js'

/** The text that replaces secret values in anything shown to a person. */
export const SENSITIVE = '(sensitive)'

/**
 * The secret key path when nothing else is known: `env.PROXIMITY_KEY_FILE` (relative values
 * resolved against `cwd`), else `$XDG_CONFIG_HOME/proximity/secret.key` (XDG_CONFIG_HOME must be
 * absolute; default `$HOME/.config`). Pure. The CLI resolves keys with resolveKeyLocation
 * (src/engine/key-location.ts), which also finds keys left in older locations.
 */
export function defaultKeyPath(env: NodeJS.ProcessEnv, cwd: string): string {
  const fromEnv = env.PROXIMITY_KEY_FILE
  if (fromEnv && fromEnv.trim() !== '') return resolve(cwd, fromEnv)
  const xdg = env.XDG_CONFIG_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), '.config')
  return join(base, 'proximity', 'secret.key')
}

/**
 * Seals `plain` for `key` (its public half suffices) into a JWE compact string carrying the key
 * id. Non-deterministic: sealing the same value twice gives different strings, so compare
 * secrets with keyedDigest, never by sealed text.
 */
export async function sealValue(plain: string, key: SecretKey): Promise<string> {
  if (typeof plain !== 'string') throw new SecretError('InvalidArgument', 'only strings can be sealed')
  const { publicKey } = keyMaterial(key)
  return new CompactEncrypt(new TextEncoder().encode(plain))
    .setProtectedHeader({ alg: SEAL_ALG, enc: SEAL_ENC, kid: key.kid, cty: 'proximity-secret' })
    .encrypt(publicKey)
}

const JWE_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const KID = /^[A-Za-z0-9_-]{43}$/

/**
 * Unseals a value made by sealValue, in memory only. Needs the private key. Throws SecretError:
 * `PublicKeyOnly`, `SealedMalformed` (not a JWE of ours), `WrongKey` (sealed for another key id),
 * `UnsealFailed` (tampered, truncated or not decryptable with this key).
 */
export async function unsealValue(jwe: string, key: SecretKey): Promise<string> {
  const { privateKey } = keyMaterial(key)
  if (!privateKey) {
    throw new SecretError('PublicKeyOnly', 'cannot unseal with a public key file; use the private secret key')
  }
  const text = typeof jwe === 'string' ? jwe.trim() : ''
  if (!JWE_COMPACT.test(text)) {
    throw new SecretError('SealedMalformed', 'sealed value is not a JWE compact string; re-seal it with "proximity secret seal"')
  }
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(text)
  } catch {
    throw new SecretError('SealedMalformed', 'sealed value has an unreadable header; re-seal it with "proximity secret seal"')
  }
  if (header.alg !== SEAL_ALG || header.enc !== SEAL_ENC) {
    throw new SecretError('SealedMalformed', `sealed value does not use ${SEAL_ALG} + ${SEAL_ENC}; re-seal it with "proximity secret seal"`)
  }
  if (typeof header.kid === 'string' && header.kid !== key.kid) {
    const which = KID.test(header.kid) ? ` (key id ${header.kid.slice(0, 8)}…, this key ${key.kid.slice(0, 8)}…)` : ''
    throw new SecretError('WrongKey', `sealed value was sealed for a different key${which}; use the matching key or re-seal it`)
  }
  try {
    const { plaintext } = await compactDecrypt(text, privateKey, {
      keyManagementAlgorithms: [SEAL_ALG],
      contentEncryptionAlgorithms: [SEAL_ENC],
    })
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext)
  } catch {
    throw new SecretError('UnsealFailed', 'cannot unseal: the sealed value was altered or sealed with another key; re-seal it')
  }
}

/** Options of resolveSecretRef. */
export interface ResolveSecretOptions {
  /** Needed for `{sealed}` refs only. */
  key?: SecretKey
  /** Environment read by `{env}` refs (the CLI passes its context env). */
  env: NodeJS.ProcessEnv
  /** Folder relative `{file}` paths resolve against (the manifest's folder). */
  baseDir: string
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Resolves a manifest secret reference to its plaintext, in memory:
 * `{sealed}` → unsealValue with `opts.key`; `{env: NAME}` → `opts.env[NAME]` (must be set);
 * `{file: PATH}` → file content (PATH relative to `opts.baseDir`), one trailing newline removed.
 * `{generate}` is not resolvable here (the state store creates and keeps generated values) and
 * throws `NotResolvable`. Reads only. Errors are SecretError without the value.
 */
export async function resolveSecretRef(ref: SecretRef, opts: ResolveSecretOptions): Promise<string> {
  if (typeof ref !== 'object' || ref === null) {
    throw new SecretError('InvalidArgument', 'secret reference must be one of {sealed}, {env}, {file}, {generate}')
  }
  if ('sealed' in ref) {
    if (!opts.key) {
      throw new SecretError(
        'KeyRequired',
        'a sealed secret needs the secret key; set PROXIMITY_KEY_FILE or create one with "proximity secret keygen"',
      )
    }
    return unsealValue(ref.sealed, opts.key)
  }
  if ('env' in ref) {
    if (typeof ref.env !== 'string' || !ENV_NAME.test(ref.env)) {
      throw new SecretError('InvalidArgument', 'secret env reference must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)')
    }
    const v = opts.env[ref.env]
    if (v === undefined) throw new SecretError('EnvNotSet', `environment variable ${ref.env} is not set; export it before running`)
    return v
  }
  if ('file' in ref) {
    if (typeof ref.file !== 'string' || ref.file === '') {
      throw new SecretError('InvalidArgument', 'secret file reference must be a non-empty path')
    }
    const path = isAbsolute(ref.file) ? ref.file : resolve(opts.baseDir, ref.file)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new SecretError('FileNotFound', `secret file ${path} not found; create it or fix the path (relative to the manifest)`)
      }
      if (code === 'EISDIR') throw new SecretError('FileUnreadable', `secret file ${path} is a directory`)
      throw new SecretError('FileUnreadable', `cannot read secret file ${path} (${code ?? 'unknown error'})`)
    }
    return stripOneNewline(text)
  }
  if ('generate' in ref) {
    throw new SecretError('NotResolvable', 'generated secrets are created and kept by the state store, not resolved from the manifest')
  }
  throw new SecretError('InvalidArgument', 'secret reference must be one of {sealed}, {env}, {file}, {generate}')
}

/** Removes exactly one trailing `\n` or `\r\n`. Pure. */
export function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2)
  if (text.endsWith('\n')) return text.slice(0, -1)
  return text
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

/**
 * A new random secret of `length` characters from `[A-Za-z0-9_-]` (6 bits of entropy each, from
 * crypto random bytes, unbiased since the alphabet has 64 symbols). Safe inside single-quoted
 * `.env` values and URLs. `length` must be an integer in 1..4096.
 */
export function generateSecretValue(length: number): string {
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new SecretError('InvalidArgument', 'generated secret length must be an integer between 1 and 4096')
  }
  const bytes = randomBytes(length)
  let s = ''
  for (let i = 0; i < length; i++) s += ALPHABET[bytes[i] & 63]
  return s
}

/**
 * Keyed digest of a secret value: lower-case hex HMAC-SHA256 of the UTF-8 value.
 *
 * Contract: deterministic for the same (value, key); different values give different digests
 * (collision-resistant); without the key a digest reveals nothing and cannot be brute-forced
 * offline, so it may appear in spec hashes, plans, status and the store to detect a changed
 * secret. With a SecretKey the HMAC key is derived (HKDF-SHA256) from its private half, so the
 * private key is required (`PublicKeyOnly` otherwise); with a Buffer the buffer is the HMAC key
 * (e.g. a per-installation random key kept by the store). Digests from different keys are not
 * comparable.
 */
export function keyedDigest(value: string, key: SecretKey | Buffer): string {
  let hmacKey: Buffer
  if (Buffer.isBuffer(key)) {
    if (key.length === 0) throw new SecretError('InvalidArgument', 'keyed digest needs a non-empty key')
    hmacKey = key
  } else {
    const { digestKey } = keyMaterial(key)
    if (!digestKey) throw new SecretError('PublicKeyOnly', 'keyed digests need the private secret key, not a public key file')
    hmacKey = digestKey
  }
  return createHmac('sha256', hmacKey).update(value, 'utf8').digest('hex')
}

/**
 * Replaces every occurrence of each non-empty secret value in `text` with `(sensitive)`. Longer
 * values win at the same position so a secret containing another is fully hidden. Pure.
 * WARNING: it only finds values verbatim; encoded forms (base64, URL-escaped) are not caught.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const values = [...new Set(secrets.filter((s) => typeof s === 'string' && s.length > 0))].sort((a, b) => b.length - a.length)
  if (values.length === 0) return text
  // One pass with an alternation, so the marker itself is never rewritten by a later value.
  const pattern = new RegExp(values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
  return text.replace(pattern, SENSITIVE)
}
