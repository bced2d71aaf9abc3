import { describe, expect, it } from 'vitest'
import { descriptionWithoutMarker, encodeMarker, hasManagedTag, isOwned, parseMarker, parseTags, withMarker } from '../../src/model/marker.js'

const m = { kind: 'App' as const, name: 'web', owner: 'home', specHash: 'abc' }
const line = 'proximity:managed {"kind":"App","name":"web","owner":"home","specHash":"abc"}'

describe('marker', () => {
  it('encodes the documented line with a fixed key order', () => {
    expect(encodeMarker(m)).toBe(line)
  })

  const cases: { name: string; reason: string; given: string | undefined; want: typeof m | undefined }[] = [
    { name: 'plain', reason: 'what we write', given: line, want: m },
    { name: 'trailing newline', reason: 'Proxmox appends \\n to descriptions', given: `${line}\n`, want: m },
    { name: 'user text around', reason: 'users may add their own lines before and after', given: `my notes\n${line}\nmore\n`, want: m },
    { name: 'crlf and spaces', reason: 'tolerate \\r\\n and padding', given: `  ${line}  \r\nx`, want: m },
    { name: 'broken json', reason: 'a malformed marker is no marker: the guest is foreign', given: 'proximity:managed {"kind":"App",', want: undefined },
    { name: 'unknown kind', reason: 'a marker must name a known kind', given: 'proximity:managed {"kind":"Pod","name":"x","owner":"o"}', want: undefined },
    { name: 'no owner', reason: 'ownership is what protects foreign guests', given: 'proximity:managed {"kind":"App","name":"x"}', want: undefined },
    { name: 'empty', reason: 'a guest without description', given: undefined, want: undefined },
  ]
  for (const c of cases) {
    it(`parses ${c.name}: ${c.reason}`, () => {
      expect(parseMarker(c.given)).toEqual(c.want)
    })
  }

  it('decides ownership by owner id only', () => {
    expect(isOwned(m, 'home')).toBe(true)
    expect(isOwned(m, 'other')).toBe(false)
    expect(isOwned(undefined, 'home')).toBe(false)
  })

  it('replaces or removes the marker and keeps user lines', () => {
    const desc = `my notes\n${line}\nmore\n`
    expect(descriptionWithoutMarker(desc)).toBe('my notes\nmore')
    expect(withMarker(desc, { ...m, specHash: 'new' })).toBe(`${encodeMarker({ ...m, specHash: 'new' })}\nmy notes\nmore`)
    expect(withMarker(desc, undefined)).toBe('my notes\nmore')
    expect(withMarker('', m)).toBe(line)
  })

  it('normalises tags like Proxmox', () => {
    expect(parseTags('Web;proximity,APP  web')).toEqual(['app', 'proximity', 'web'])
    expect(hasManagedTag('app;Proximity')).toBe(true)
    expect(hasManagedTag('proximity-old')).toBe(false)
  })
})
