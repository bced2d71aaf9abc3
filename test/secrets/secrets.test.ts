import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  defaultKeyPath,
  generateSecretKey,
  generateSecretValue,
  keyedDigest,
  loadSecretKey,
  parseSecretKey,
  redact,
  resolveSecretRef,
  sealValue,
  SecretError,
  unsealValue,
  type SecretKey,
} from '../../src/manifest/secrets.js'

let dir: string
let key: SecretKey
let otherKey: SecretKey
let keyPath: string

async function writeKey(name: string, mode = 0o600): Promise<{ path: string; pub: string }> {
  const { keyText, publicKeyText } = await generateSecretKey()
  const path = join(dir, name)
  await writeFile(path, keyText, { mode })
  await chmod(path, mode)
  await writeFile(`${path}.pub`, publicKeyText)
  return { path, pub: `${path}.pub` }
}

/** Asserts the error is a SecretError that leaks neither the value nor any part of the ciphertext. */
async function expectSafeError(p: Promise<unknown>, reason: string, forbidden: string[]): Promise<SecretError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  )
  expect(e).toBeInstanceOf(SecretError)
  const se = e as SecretError
  expect(se.reason).toBe(reason)
  for (const f of forbidden) {
    for (const part of f.split('.').filter((x) => x.length >= 8)) expect(se.message).not.toContain(part)
    expect(String(se.stack)).not.toContain(f)
  }
  return se
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-secrets-'))
  keyPath = (await writeKey('secret.key')).path
  key = await loadSecretKey(keyPath)
  otherKey = await loadSecretKey((await writeKey('other.key')).path)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('seal and unseal', () => {
  it('round-trips unicode, empty-ish and long values', async () => {
    for (const v of ['hunter2', 'pässwörd ✓ "quoted" \'single\' $VAR', ' ', 'x'.repeat(10_000)]) {
      const jwe = await sealValue(v, key)
      expect(jwe.split('.')).toHaveLength(5)
      expect(jwe).not.toContain(v.trim() === '' ? '\u0000' : v)
      expect(await unsealValue(jwe, key)).toBe(v)
    }
  })

  it('is non-deterministic and carries the key id', async () => {
    const a = await sealValue('same', key)
    const b = await sealValue('same', key)
    expect(a).not.toBe(b)
    const header = JSON.parse(Buffer.from(a.split('.')[0], 'base64url').toString('utf8'))
    expect(header).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.kid })
  })

  it('seals with the public key file alone, which cannot unseal', async () => {
    const { path, pub } = await writeKey('pair.key')
    const pubKey = await loadSecretKey(pub)
    const priv = await loadSecretKey(path)
    expect(pubKey.canUnseal).toBe(false)
    expect(pubKey.kid).toBe(priv.kid)
    const jwe = await sealValue('from-ci', pubKey)
    expect(await unsealValue(jwe, priv)).toBe('from-ci')
    await expectSafeError(unsealValue(jwe, pubKey), 'PublicKeyOnly', ['from-ci', jwe])
  })

  it('refuses a value sealed for another key without leaking it', async () => {
    const jwe = await sealValue('top-secret-value', otherKey)
    const e = await expectSafeError(unsealValue(jwe, key), 'WrongKey', ['top-secret-value', jwe])
    expect(e.message).toMatch(/different key/)
  })

  it('refuses a value whose kid was stripped and is then undecryptable', async () => {
    const jwe = await sealValue('top-secret-value', otherKey)
    const [, ...rest] = jwe.split('.')
    const header = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: JSON.parse(Buffer.from(jwe.split('.')[0], 'base64url').toString()).epk }
    const forged = [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.')
    await expectSafeError(unsealValue(forged, key), 'UnsealFailed', ['top-secret-value', forged])
  })

  const tamperCases = [
    { name: 'ciphertext byte flipped', reason: 'GCM must authenticate the ciphertext', part: 3 },
    { name: 'tag altered', reason: 'a forged tag must never decrypt', part: 4 },
    { name: 'iv altered', reason: 'a changed IV changes the keystream; the tag must catch it', part: 2 },
    { name: 'wrapped key altered', reason: 'a wrong content key must fail, not yield garbage', part: 1 },
  ]
  for (const c of tamperCases) {
    it(`detects tampering: ${c.name} (${c.reason})`, async () => {
      const jwe = await sealValue('tamper-me-please', key)
      const parts = jwe.split('.')
      const bytes = Buffer.from(parts[c.part], 'base64url')
      bytes[0] ^= 0x01
      parts[c.part] = bytes.toString('base64url')
      const bad = parts.join('.')
      await expectSafeError(unsealValue(bad, key), 'UnsealFailed', ['tamper-me-please', bad])
    })
  }

  const malformed = [
    { name: 'not a JWE', reason: 'plaintext pasted by mistake must not be echoed', given: 'hunter2hunter2' },
    { name: 'four parts', reason: 'a truncated copy-paste', given: 'aaaaaaaaaa.bbbbbbbbbb.cccccccccc.dddddddddd' },
    { name: 'garbage header', reason: 'header must decode as JSON', given: 'aaaaaaaaaa.bbbbbbbbbb.cccccccccc.dddddddddd.eeeeeeeeee' },
  ]
  for (const c of malformed) {
    it(`rejects malformed sealed values: ${c.name} (${c.reason})`, async () => {
      await expectSafeError(unsealValue(c.given, key), 'SealedMalformed', [c.given])
    })
  }

  it('rejects an unexpected algorithm', async () => {
    const h = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM' })).toString('base64url')
    const given = `${h}..aaaaaaaaaaaa.bbbbbbbbbbbb.cccccccccccc`.replace('..', '.xxxxxxxx.')
    await expectSafeError(unsealValue(given, key), 'SealedMalformed', ['bbbbbbbbbbbb'])
  })
})

describe('key files', () => {
  it('reports a missing key with the fix', async () => {
    const e = await expectSafeError(loadSecretKey(join(dir, 'nope.key')), 'KeyNotFound', [])
    expect(e.message).toMatch(/proximity secret keygen/)
  })

  it('warns about a group/other-readable private key but loads it', async () => {
    const { path } = await writeKey('loose.key', 0o644)
    const seen: string[] = []
    const k = await loadSecretKey(path, { onWarning: (w) => seen.push(w) })
    expect(k.canUnseal).toBe(true)
    expect(k.warnings).toHaveLength(1)
    expect(seen[0]).toMatch(/chmod 600/)
  })

  it('does not warn for mode 0600', async () => {
    expect(key.warnings).toEqual([])
  })

  it('reports an unreadable key file', async () => {
    if (process.getuid?.() === 0) {
      // root reads any file; a directory in place of the file exercises the same branch.
      const e = await expectSafeError(loadSecretKey(dir), 'KeyUnreadable', [])
      expect(e.message).toMatch(/not a file/)
      return
    }
    const { path } = await writeKey('locked.key', 0o000)
    await expectSafeError(loadSecretKey(path), 'KeyUnreadable', [])
  })

  const badFiles = [
    { name: 'not JSON', reason: 'the parse error must not quote the file', given: 'd=SECRETMATERIAL123' },
    { name: 'wrong kind', reason: 'some other JSON file passed as key', given: '{"kind":"Other","version":1}' },
    { name: 'bad curve', reason: 'only X25519 keys are ours', given: '{"kind":"ProximitySecretKey","version":1,"publicKey":{"kty":"EC","crv":"P-256","x":"a"}}' },
  ]
  for (const c of badFiles) {
    it(`rejects a malformed key file: ${c.name} (${c.reason})`, async () => {
      const p = join(dir, `bad-${c.name.replace(/\W/g, '')}.key`)
      await writeFile(p, c.given, { mode: 0o600 })
      const e = await expectSafeError(loadSecretKey(p), 'KeyMalformed', ['SECRETMATERIAL123'])
      expect(e.message).toMatch(/keygen --force/)
    })
  }

  it('rejects a private key that does not match its public key', async () => {
    const a = JSON.parse((await generateSecretKey()).keyText)
    const b = JSON.parse((await generateSecretKey()).keyText)
    a.privateKey = b.privateKey
    delete a.kid
    const e = await expectSafeError(parseSecretKey(JSON.stringify(a)), 'KeyMalformed', [b.privateKey.d])
    expect(e.message).toMatch(/does not belong/)
  })

  it('writes the public key without private material', async () => {
    const { publicKeyText, keyText } = await generateSecretKey()
    const d = JSON.parse(keyText).privateKey.d as string
    expect(publicKeyText).not.toContain(d)
  })

  it('resolves the default key path', () => {
    expect(defaultKeyPath({ HOME: '/home/ada' }, '/repo')).toBe('/home/ada/.config/proximity/secret.key')
    expect(defaultKeyPath({ HOME: '/home/ada', XDG_CONFIG_HOME: '/cfg' }, '/repo')).toBe('/cfg/proximity/secret.key')
    expect(defaultKeyPath({ HOME: '/home/ada', XDG_CONFIG_HOME: 'rel' }, '/repo')).toBe('/home/ada/.config/proximity/secret.key')
    expect(defaultKeyPath({ PROXIMITY_KEY_FILE: '/etc/p.key' }, '/repo')).toBe('/etc/p.key')
    expect(defaultKeyPath({ PROXIMITY_KEY_FILE: 'keys/p.key' }, '/repo')).toBe('/repo/keys/p.key')
  })
})

describe('resolveSecretRef', () => {
  it('resolves sealed, env and file refs', async () => {
    await writeFile(join(dir, 'pw.txt'), 'from-file\n')
    await writeFile(join(dir, 'crlf.txt'), 'two-lines\n\r\n')
    const env = { DB_PW: 'from-env' }
    const sealed = await sealValue('from-seal', key)
    expect(await resolveSecretRef({ sealed }, { key, env, baseDir: dir })).toBe('from-seal')
    expect(await resolveSecretRef({ env: 'DB_PW' }, { env, baseDir: dir })).toBe('from-env')
    expect(await resolveSecretRef({ file: 'pw.txt' }, { env, baseDir: dir })).toBe('from-file')
    expect(await resolveSecretRef({ file: join(dir, 'pw.txt') }, { env, baseDir: '/' })).toBe('from-file')
    expect(await resolveSecretRef({ file: 'crlf.txt' }, { env, baseDir: dir })).toBe('two-lines\n')
  })

  const failures = [
    { name: 'sealed without key', reason: 'validate may run without the key; apply needs it', ref: { sealed: 'a.b.c.d.e' }, want: 'KeyRequired' },
    { name: 'unset env', reason: 'a typo in the variable name must be reported', ref: { env: 'NOPE_NOT_SET' }, want: 'EnvNotSet' },
    { name: 'bad env name', reason: 'names outside the env grammar are mistakes', ref: { env: 'a b' }, want: 'InvalidArgument' },
    { name: 'missing file', reason: 'relative to the manifest folder', ref: { file: 'missing.txt' }, want: 'FileNotFound' },
    { name: 'generate', reason: 'generated values belong to the state store', ref: { generate: { length: 32 } }, want: 'NotResolvable' },
  ]
  for (const c of failures) {
    it(`fails clearly: ${c.name} (${c.reason})`, async () => {
      await expectSafeError(resolveSecretRef(c.ref, { env: {}, baseDir: dir }), c.want, [])
    })
  }
})

describe('generated values, digests and redaction', () => {
  it('generates values of the requested length from the .env-safe alphabet', () => {
    const seen = new Set<string>()
    for (const n of [1, 16, 32, 64, 200]) {
      const v = generateSecretValue(n)
      expect(v).toHaveLength(n)
      expect(v).toMatch(/^[A-Za-z0-9_-]+$/)
      seen.add(v)
    }
    expect(seen.size).toBe(5)
    expect(() => generateSecretValue(0)).toThrow(SecretError)
    expect(() => generateSecretValue(1.5)).toThrow(SecretError)
  })

  it('uses the whole alphabet (no bias toward a subset)', () => {
    const chars = new Set(generateSecretValue(4096))
    expect(chars.size).toBe(64)
  })

  it('digests deterministically per key and differently across keys', () => {
    const a = keyedDigest('hunter2', key)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(keyedDigest('hunter2', key)).toBe(a)
    expect(keyedDigest('hunter3', key)).not.toBe(a)
    expect(keyedDigest('hunter2', otherKey)).not.toBe(a)
    const buf = Buffer.from('store-key')
    expect(keyedDigest('hunter2', buf)).toBe(keyedDigest('hunter2', Buffer.from('store-key')))
    expect(keyedDigest('hunter2', buf)).not.toBe(a)
  })

  it('keyed digest needs the private key', async () => {
    const pub = await loadSecretKey(`${keyPath}.pub`)
    expect(() => keyedDigest('x', pub)).toThrow(SecretError)
  })

  const redactions = [
    { name: 'simple', reason: 'the basic case', text: 'password=hunter2 ok', secrets: ['hunter2'], want: 'password=(sensitive) ok' },
    { name: 'repeated', reason: 'every occurrence, not the first', text: 'a1 a1 a1', secrets: ['a1'], want: '(sensitive) (sensitive) (sensitive)' },
    { name: 'nested', reason: 'a longer secret containing a shorter one is hidden whole', text: 'x abcdef y', secrets: ['bcd', 'abcdef'], want: 'x (sensitive) y' },
    { name: 'regex chars', reason: 'values are literals, not patterns', text: 'p=a.b*c(d)$', secrets: ['a.b*c(d)$'], want: 'p=(sensitive)' },
    { name: 'empty secret', reason: 'an empty value would match everywhere', text: 'keep me', secrets: [''], want: 'keep me' },
    { name: 'marker-safe', reason: 'a short secret must not rewrite the marker', text: 'zz e', secrets: ['zz', 'e'], want: '(sensitive) (sensitive)' },
  ]
  for (const c of redactions) {
    it(`redacts: ${c.name} (${c.reason})`, () => {
      expect(redact(c.text, c.secrets)).toBe(c.want)
    })
  }

  it('never writes key material into the sealed value', async () => {
    const text = await readFile(keyPath, 'utf8')
    const d = JSON.parse(text).privateKey.d as string
    expect(await sealValue('x', key)).not.toContain(d)
  })
})
