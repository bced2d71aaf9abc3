/**
 * Token issuing and verification: every forged, expired, revoked or mis-addressed token is
 * refused with 401 by a real server, and a metrics token reads only /metrics.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { readFileSync, rmSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, importJWK, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { get, startApiHarness, type ApiHarness } from './harness.js'
import { createTokenAuthority, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/api/tokens.js'

let h: ApiHarness
let viewer: string
let metricsToken: string
let metricsId: string

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

beforeAll(async () => {
  h = await startApiHarness()
  viewer = await h.viewer()
  const m = await h.tokens.issue({ role: 'metrics', ttlMs: 3600_000, name: 'prometheus' })
  metricsToken = m.token
  metricsId = m.record.id
})
afterAll(async () => h.close())

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
}

async function signedWithOurKey(claims: Record<string, unknown>, opts: { iss?: string; aud?: string; exp?: number } = {}): Promise<string> {
  const jwk = JSON.parse(readFileSync(join(h.dir, 'config', 'api-signing-key.jwk'), 'utf8'))
  const key = await importJWK(jwk, 'EdDSA')
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(opts.iss ?? TOKEN_ISSUER)
    .setAudience(opts.aud ?? TOKEN_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 600)
    .sign(key)
}

describe('token files', () => {
  it('keeps the signing key and registry 0600 in a 0700 config folder', () => {
    expect(statSync(join(h.dir, 'config')).mode & 0o777).toBe(0o700)
    expect(statSync(join(h.dir, 'config', 'api-signing-key.jwk')).mode & 0o777).toBe(0o600)
    expect(statSync(join(h.dir, 'config', 'api-tokens.json')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(h.dir, 'config', 'api-tokens.json'), 'utf8')).not.toContain(viewer)
  })
})

describe('refused tokens', () => {
  const cases: { name: string; reason: string; make: () => Promise<string> }[] = [
    { name: 'alg none', reason: 'an unsigned token must never pass', make: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payloadOf(viewer))}.` },
    {
      name: 'HS256 keyed with the public key',
      reason: 'the classic algorithm-confusion forgery',
      make: async () => {
        const jwk = JSON.parse(readFileSync(join(h.dir, 'config', 'api-signing-key.jwk'), 'utf8'))
        const head = b64({ alg: 'HS256', typ: 'JWT' })
        const body = b64(payloadOf(viewer))
        const sig = createHmac('sha256', Buffer.from(jwk.x, 'base64url')).update(`${head}.${body}`).digest('base64url')
        return `${head}.${body}.${sig}`
      },
    },
    {
      name: 'RS256 with another key',
      reason: 'another algorithm family is refused before its signature is looked at',
      make: async () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
        return new SignJWT(payloadOf(viewer)).setProtectedHeader({ alg: 'RS256' }).sign(privateKey)
      },
    },
    {
      name: 'EdDSA with another key',
      reason: 'a token from another installation',
      make: async () => {
        const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
        return new SignJWT(payloadOf(viewer)).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey)
      },
    },
    {
      name: 'tampered payload',
      reason: 'a metrics token promoted to viewer by editing the payload',
      make: async () => {
        const [head, , sig] = metricsToken.split('.')
        return `${head}.${b64({ ...payloadOf(metricsToken), role: 'viewer' })}.${sig}`
      },
    },
    { name: 'expired', reason: 'exp in the past beyond the skew', make: async () => signedWithOurKey({ role: 'viewer', jti: payloadOf(viewer).jti }, { exp: Math.floor(Date.now() / 1000) - 3600 }) },
    { name: 'wrong audience', reason: 'a token for another service', make: async () => signedWithOurKey({ role: 'viewer', jti: payloadOf(viewer).jti }, { aud: 'other-api' }) },
    { name: 'wrong issuer', reason: 'a token claiming another issuer', make: async () => signedWithOurKey({ role: 'viewer', jti: payloadOf(viewer).jti }, { iss: 'someone' }) },
    { name: 'unknown jti', reason: 'a validly signed token that was never issued (key leaked, registry not)', make: async () => signedWithOurKey({ role: 'viewer', jti: 'not-issued' }) },
    { name: 'no jti', reason: 'every token must be revocable', make: async () => signedWithOurKey({ role: 'viewer' }) },
    { name: 'malformed', reason: 'garbage in the header', make: async () => 'not-a-token' },
    { name: 'oversized', reason: 'bounded work per request', make: async () => `${'a'.repeat(5000)}.b.c` },
  ]
  for (const c of cases) {
    it(`refuses ${c.name} (${c.reason})`, async () => {
      const token = await c.make()
      const r = await get(`${h.url}/api/v1/apps`, token)
      expect(r.status).toBe(401)
      expect(r.body.error.code).toBe('Unauthorized')
      expect(r.text).not.toContain(token)
    })
  }

  it('refuses a missing token and a non-bearer header', async () => {
    expect((await get(`${h.url}/api/v1/apps`)).status).toBe(401)
    expect((await get(`${h.url}/api/v1/apps`, undefined, { Authorization: `Basic ${viewer}` })).status).toBe(401)
  })
})

describe('roles and revocation', () => {
  it('a metrics token reads /metrics but not apps', async () => {
    expect((await get(`${h.url}/api/v1/apps`, metricsToken)).status).toBe(403)
    const m = await get(`${h.url}/metrics`, metricsToken)
    expect(m.status).toBe(200)
    expect(m.text).toContain('controller_runtime_reconcile_total')
    expect((await get(`${h.url}/metrics`)).status).toBe(401)
  })

  it('revocation takes effect at once for a running server', async () => {
    const { token, record } = await h.tokens.issue({ role: 'viewer', ttlMs: 3600_000 })
    expect((await get(`${h.url}/api/v1/apps`, token)).status).toBe(200)
    // Revoked through a separate authority over the same folder, as `proximity token revoke` does.
    createTokenAuthority({ configDir: join(h.dir, 'config') }).revoke(record.id)
    expect((await get(`${h.url}/api/v1/apps`, token)).status).toBe(401)
    expect((await get(`${h.url}/api/v1/apps`, viewer)).status).toBe(200)
    expect(h.tokens.list().find((t) => t.id === metricsId)?.name).toBe('prometheus')
  })
})


describe('remembered tokens', () => {
  // A verified token is remembered by its exact text so requests skip the signature check; none
  // of that may let a token live longer or survive its key or its record.
  let dir: string
  let clock: number
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proximity-token-cache-'))
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))
  const authority = (sub: string) => createTokenAuthority({ configDir: join(dir, sub), now: () => clock, clockToleranceSec: 30 })

  it('still expires at exp plus the skew', async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    const a = authority('expiry')
    const { token } = await a.issue({ role: 'viewer', ttlMs: 60_000 })
    expect((await a.verify(token)).ok).toBe(true)
    clock += 60_000 + 29_000
    expect((await a.verify(token)).ok).toBe(true)
    clock += 1_000
    expect(await a.verify(token)).toEqual({ ok: false, reason: 'token expired' })
  })

  it('is refused once revoked, and after its record is gone', async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    const a = authority('revoked')
    const first = await a.issue({ role: 'viewer', ttlMs: 3600_000 })
    expect((await a.verify(first.token)).ok).toBe(true)
    authority('revoked').revoke(first.record.id)
    expect(await a.verify(first.token)).toEqual({ ok: false, reason: 'token revoked' })
    const second = await a.issue({ role: 'metrics', ttlMs: 3600_000 })
    expect((await a.verify(second.token)).ok).toBe(true)
    rmSync(join(dir, 'revoked', 'api-tokens.json'))
    expect(await a.verify(second.token)).toEqual({ ok: false, reason: 'unknown token' })
  })

  it('is forgotten when the signing key is replaced', async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    const a = authority('rekeyed')
    const old = await a.issue({ role: 'viewer', ttlMs: 3600_000 })
    expect((await a.verify(old.token)).ok).toBe(true)
    rmSync(join(dir, 'rekeyed', 'api-signing-key.jwk'))
    const fresh = await a.issue({ role: 'viewer', ttlMs: 3600_000 })
    expect(await a.verify(old.token)).toEqual({ ok: false, reason: 'bad token signature' })
    expect((await a.verify(fresh.token)).ok).toBe(true)
  })

  it('keeps at most verifiedCacheSize tokens and checks the others again', async () => {
    clock = Date.parse('2026-01-01T00:00:00Z')
    const a = createTokenAuthority({ configDir: join(dir, 'bounded'), now: () => clock, verifiedCacheSize: 2 })
    const issued = [await a.issue({ role: 'viewer', ttlMs: 3600_000 }), await a.issue({ role: 'viewer', ttlMs: 3600_000 }), await a.issue({ role: 'viewer', ttlMs: 3600_000 })]
    for (const t of issued) expect((await a.verify(t.token)).ok).toBe(true)
    // The first one was dropped from memory; it must still verify in full (and fail in full when tampered).
    expect((await a.verify(issued[0]!.token)).ok).toBe(true)
    const [head, body] = issued[0]!.token.split('.')
    expect(await a.verify(`${head}.${body}.${issued[1]!.token.split('.')[2]}`)).toEqual({ ok: false, reason: 'bad token signature' })
  })
})
