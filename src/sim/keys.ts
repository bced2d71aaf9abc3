import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto'
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import ssh2 from 'ssh2'

/** The simulator's persisted credentials and key material. Never logged. */
export interface SimKeys {
  tlsCert: string
  tlsKey: string
  sshHostKey: string
  sshClientPrivate: string
  sshClientPublic: string
  tokenId: string
  tokenSecret: string
  password: string
  /** HMAC key for tickets and CSRF tokens. */
  ticketKey: string
}

/** File names of the key material inside the key folder. */
export const KEY_FILES = { json: 'sim-keys.json', clientKey: 'sim-client-key' } as const

async function newKeys(): Promise<SimKeys> {
  const tls = await generate([{ name: 'commonName', value: 'pve.proximity.sandbox' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  })
  const host = generateEd25519()
  const client = generateEd25519('proximity-sandbox')
  return {
    tlsCert: tls.cert,
    tlsKey: tls.private,
    sshHostKey: host.private,
    sshClientPrivate: client.private,
    sshClientPublic: client.public,
    tokenId: 'root@pam!proximity',
    tokenSecret: randomUUID().toLowerCase(),
    password: randomBytes(18).toString('base64url'),
    ticketKey: randomBytes(32).toString('hex'),
  }
}

/**
 * An ed25519 key pair in OpenSSH format that ssh2 can read back.
 * WARNING: ssh2 1.17's generateKeyPairSync drops a leading zero byte of the public key (about 1
 * key in 256), writing a 31-byte key that its own parseKey then rejects as malformed; such
 * pairs are discarded and generated again.
 */
export function generateEd25519(comment?: string): { private: string; public: string } {
  for (let i = 0; i < 64; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : undefined)
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair
  }
  throw new Error('cannot generate a readable ed25519 key pair')
}

/**
 * Loads the key material from `dir`, generating and persisting it on first use (mode 0600).
 * Also (re)writes the client private key file; returns its path.
 */
export async function loadOrCreateKeys(dir: string): Promise<{ keys: SimKeys; clientKeyFile: string }> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, KEY_FILES.json)
  let keys: SimKeys
  try {
    keys = JSON.parse(await readFile(file, 'utf8')) as SimKeys
    if (!keys.tokenSecret || !keys.tlsCert) throw new Error('incomplete')
  } catch {
    keys = await newKeys()
    await writeFile(file, JSON.stringify(keys), { mode: 0o600 })
  }
  const clientKeyFile = join(dir, KEY_FILES.clientKey)
  await writeFile(clientKeyFile, keys.sshClientPrivate, { mode: 0o600 })
  await chmod(clientKeyFile, 0o600)
  return { keys, clientKeyFile }
}

/** SHA-256 fingerprint of a PEM certificate, colon-separated upper-case hex (as PVE shows it). */
export function certFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.toUpperCase()
}

/** OpenSSH-style fingerprint of a public key blob: `SHA256:<base64 without padding>`. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`
}
