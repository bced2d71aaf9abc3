import { describe, expect, it } from 'vitest'
import { createValueRedactor, redactErrorText, redactObjectSecrets, SENSITIVE_TEXT } from '../../src/runtime/redact-values.js'
import { StalledError } from '../../src/runtime/errors.js'

const S = SENSITIVE_TEXT
const PW = 'p@ss w0rd/+=?'

describe('createValueRedactor', () => {
  const cases: { name: string; reason: string; secrets: { name: string; value: string }[]; given: string; want: string }[] = [
    { name: 'verbatim', reason: 'the value itself, every occurrence', secrets: [{ name: 'PW', value: PW }], given: `x ${PW} y ${PW}`, want: `x ${S} y ${S}` },
    { name: 'url-encoded', reason: 'connection strings and URLs carry values percent-encoded', secrets: [{ name: 'PW', value: PW }], given: `postgres://u:${encodeURIComponent(PW)}@db`, want: `postgres://u:${S}@db` },
    { name: 'form-encoded', reason: 'a space may be a +', secrets: [{ name: 'PW', value: 'two words' }], given: 'pw=two+words&x=1', want: `pw=${S}&x=1` },
    { name: 'base64', reason: 'basic-auth headers and k8s-style dumps hold base64', secrets: [{ name: 'PW', value: PW }], given: `Authorization: Basic ${Buffer.from(PW).toString('base64')}`, want: `Authorization: Basic ${S}` },
    { name: 'base64 unpadded', reason: 'some tools drop the padding', secrets: [{ name: 'PW', value: 'abcd' }], given: `t=${Buffer.from('abcd').toString('base64').replace(/=+$/, '')}.`, want: `t=${S}.` },
    { name: 'json-escaped', reason: 'compose prints values inside JSON/Go strings', secrets: [{ name: 'PW', value: 'a"b\\c' }], given: 'msg="a\\"b\\\\c"', want: `msg="${S}"` },
    { name: 'longest first', reason: 'a secret containing another is hidden whole', secrets: [{ name: 'A', value: 'secret' }, { name: 'B', value: 'secret-long' }], given: 'secret-long secret', want: `${S} ${S}` },
    { name: 'short value anywhere', reason: 'a 1–3 character value would wipe ordinary text, so it stays outside its variable', secrets: [{ name: 'PIN', value: '42' }], given: 'exit 42 after 420 ms', want: 'exit 42 after 420 ms' },
    { name: 'short value as its variable', reason: 'NAME=value and NAME: value are still hidden', secrets: [{ name: 'PIN', value: '42' }], given: 'PIN=42 PIN: 42 "PIN":"42" PIN=420', want: `PIN=${S} PIN: ${S} "PIN":"${S}" PIN=420` },
    { name: 'empty value', reason: 'nothing to hide', secrets: [{ name: 'E', value: '' }], given: 'E= ok', want: 'E= ok' },
    { name: 'regex characters', reason: 'values are matched literally', secrets: [{ name: 'R', value: '.*+?^${}()|[]' }], given: 'a.*+?^${}()|[]b', want: `a${S}b` },
    { name: 'idempotent', reason: 'the marker never matches again', secrets: [{ name: 'R', value: 'sensitive' }], given: 'sensitive', want: S },
  ]
  for (const c of cases) {
    it(`${c.name} (${c.reason})`, () => {
      const r = createValueRedactor(c.secrets)
      expect(r(c.given)).toBe(c.want)
      expect(r(r(c.given))).toBe(c.want)
    })
  }
})

describe('redactErrorText and redactObjectSecrets', () => {
  it('keeps the error class, reason and cause, and hides the value in message and stack', () => {
    const cause = new Error('inner')
    const e = new StalledError('InvalidCompose', `compose said ${PW}`, { cause })
    const r = redactErrorText(e, createValueRedactor([{ name: 'PW', value: PW }]))
    expect(r).toBeInstanceOf(StalledError)
    expect(r.reason).toBe('InvalidCompose')
    expect(r.cause).toBe(cause)
    expect(r.message).toBe(`compose said ${S}`)
    expect(r.stack).not.toContain(PW)
    expect(e.message).toContain(PW)
  })
  it('asks the resolver for the object’s values, and leaves text alone without them', async () => {
    const secrets = { known: async (key: string) => (key === 'App/a' ? [{ name: 'PW', value: PW }] : []) }
    expect(await redactObjectSecrets(secrets, 'App/a', `x ${PW}`)).toBe(`x ${S}`)
    expect(await redactObjectSecrets(secrets, 'App/b', `x ${PW}`)).toBe(`x ${PW}`)
    expect(await redactObjectSecrets(undefined, 'App/a', `x ${PW}`)).toBe(`x ${PW}`)
  })
})
