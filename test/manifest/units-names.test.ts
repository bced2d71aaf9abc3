/** Pure helpers of src/model: size and duration parsing, name rules, IPv4 maths. */
import { describe, expect, it } from 'vitest'
import { parseDiskGiB, parseDurationMs, parseMemoryMiB, UnitError, formatMiB } from '../../src/model/units.js'
import { checkHostname, checkName, isValidHostname, isValidImage, isValidName, isValidTag } from '../../src/model/names.js'
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from '../../src/model/ipv4.js'

describe('units', () => {
  it.each([
    { reason: 'plain numbers are MiB for memory', given: 512, want: 512 },
    { reason: 'Mi suffix', given: '512Mi', want: 512 },
    { reason: 'Gi suffix converts to MiB', given: '2Gi', want: 2048 },
    { reason: 'fractional Gi rounds up to whole MiB', given: '1.5Gi', want: 1536 },
    { reason: 'surrounding spaces from YAML folding are tolerated', given: ' 1Gi ', want: 1024 },
  ])('memory $given: $reason', ({ given, want }) => expect(parseMemoryMiB(given)).toBe(want))

  it.each([
    { reason: 'decimal MB is not accepted; the message names the binary suffixes', given: '512MB', want: /use the binary suffixes Mi or Gi/ },
    { reason: 'negative sizes are refused', given: '-1Gi', want: /must be a size/ },
    { reason: 'a negative number is refused', given: -5, want: /non-negative/ },
    { reason: 'words are refused', given: 'lots', want: /must be a size/ },
    { reason: 'objects are refused', given: { a: 1 }, want: /must be a size/ },
  ])('memory $given: $reason', ({ given, want }) => expect(() => parseMemoryMiB(given)).toThrow(want))

  it.each([
    { reason: 'plain numbers are GiB for disks', given: 8, want: 8 },
    { reason: 'Gi suffix', given: '8Gi', want: 8 },
    { reason: 'Mi converts to fractional GiB', given: '512Mi', want: 0.5 },
    { reason: 'Ti converts to GiB', given: '1Ti', want: 1024 },
  ])('disk $given: $reason', ({ given, want }) => expect(parseDiskGiB(given)).toBe(want))

  it('refuses a zero disk', () => expect(() => parseDiskGiB('0Gi')).toThrow(UnitError))

  it.each([
    { reason: 'seconds', given: '30s', want: 30_000 },
    { reason: 'minutes', given: '5m', want: 300_000 },
    { reason: 'hours', given: '1h', want: 3_600_000 },
    { reason: 'compound', given: '1h30m', want: 5_400_000 },
    { reason: 'milliseconds', given: '250ms', want: 250 },
    { reason: 'plain numbers are seconds', given: 90, want: 90_000 },
  ])('duration $given: $reason', ({ given, want }) => expect(parseDurationMs(given)).toBe(want))

  it.each([
    { reason: 'English is not a duration', given: '5 minutes' },
    { reason: 'days are not supported (ambiguous with DST)', given: '1d' },
    { reason: 'negative durations are refused', given: '-1s' },
  ])('duration $given: $reason', ({ given }) => expect(() => parseDurationMs(given)).toThrow(/duration must look like 30s, 5m or 1h/))

  it('formats MiB for people', () => {
    expect(formatMiB(2048)).toBe('2Gi')
    expect(formatMiB(512)).toBe('512Mi')
  })
})

describe('names', () => {
  it.each([
    { reason: 'simple label', given: 'web', want: true },
    { reason: 'digits and dashes inside', given: 'db-1', want: true },
    { reason: 'exactly 40 characters', given: 'a'.repeat(40), want: true },
    { reason: '41 characters is too long', given: 'a'.repeat(41), want: false },
    { reason: 'upper case is not RFC 1123', given: 'Web', want: false },
    { reason: 'underscores are invalid in hostnames', given: 'my_app', want: false },
    { reason: 'leading dash', given: '-web', want: false },
    { reason: 'trailing dash', given: 'web-', want: false },
    { reason: 'not a string', given: 42, want: false },
  ])('isValidName($given): $reason', ({ given, want }) => expect(isValidName(given)).toBe(want))

  it('explains bad names with a suggested fix', () => {
    expect(checkName('My_App')).toBe('name must be lower-case; try "my-app"')
    expect(checkName('a'.repeat(41))).toBe('name is 41 characters; use at most 40')
    expect(checkName('ok')).toBeUndefined()
  })

  it.each([
    { reason: 'dotted DNS name', given: 'files.home.arpa', want: true },
    { reason: 'labels may exceed 63 characters in Proxmox', given: 'a'.repeat(70), want: true },
    { reason: 'shell text is not a hostname', given: 'web; rm -rf /', want: false },
    { reason: 'underscore is refused by Proxmox', given: 'my_web', want: false },
    { reason: 'empty label', given: 'a..b', want: false },
  ])('isValidHostname($given): $reason', ({ given, want }) => expect(isValidHostname(given)).toBe(want))

  it('explains hostnames', () => expect(checkHostname('a_b')).toContain('must not contain "_"'))

  it.each([
    { reason: 'plain tag', given: 'proximity', want: true },
    { reason: 'Proxmox allows + . - _', given: 'app-web+1.x_y', want: true },
    { reason: 'no spaces or semicolons (the tag list separators)', given: 'a;b', want: false },
  ])('isValidTag($given): $reason', ({ given, want }) => expect(isValidTag(given)).toBe(want))

  it.each([
    { reason: 'docker hub short name', given: 'nginx', want: true },
    { reason: 'tag', given: 'nginx:1.27-alpine', want: true },
    { reason: 'registry with port and path', given: 'registry.local:5000/team/app:2.0', want: true },
    { reason: 'digest', given: `alpine@sha256:${'0'.repeat(64)}`, want: true },
    { reason: 'command substitution', given: 'nginx$(reboot)', want: false },
    { reason: 'semicolon', given: 'nginx;reboot', want: false },
    { reason: 'spaces', given: 'nginx latest', want: false },
    { reason: 'upper-case repository', given: 'Nginx', want: false },
  ])('isValidImage($given): $reason', ({ given, want }) => expect(isValidImage(given)).toBe(want))
})

describe('ipv4', () => {
  it('parses, formats and contains', () => {
    expect(parseIpv4('10.0.0.1')).toBe(167772161)
    expect(parseIpv4('10.0.0.256')).toBeUndefined()
    expect(parseIpv4('010.0.0.1')).toBeUndefined()
    expect(formatIpv4(167772161)).toBe('10.0.0.1')
    const c = parseCidr('10.10.0.5/24')!
    expect(formatIpv4(c.network)).toBe('10.10.0.0')
    expect(formatIpv4(c.broadcast)).toBe('10.10.0.255')
    expect(cidrContains(c, parseIpv4('10.10.0.200')!)).toBe(true)
    expect(cidrContains(c, parseIpv4('10.10.1.1')!)).toBe(false)
    expect(parseCidr('10.0.0.0/33')).toBeUndefined()
    expect(parseCidr('10.0.0.0')).toBeUndefined()
  })
})
