/**
 * The pure rules behind the field checks, case by case: Proxmox volids, mount paths, DNS name
 * lengths and calendar-event bounds. The invalid corpus checks them end to end; these tables
 * pin the edges (what is just allowed, what is just refused).
 */
import { describe, expect, it } from 'vitest'
import { checkCalendarBounds } from '../../src/model/calendar-bounds.js'
import { checkHostnameLength, checkMountPath, normalizeMountPath } from '../../src/model/names.js'
import { checkTemplate, checkVolid } from '../../src/model/volid.js'

describe('volids', () => {
  it.each([
    { given: 'local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst', content: 'vztmpl', ok: true, reason: 'the shape pveam downloads' },
    { given: 'nas.zfs_1:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz', content: 'vztmpl', ok: true, reason: 'dots and underscores in storage ids' },
    { given: 'pbs:backup/ct/101/2024-01-01T00:00:00Z', content: 'backup', ok: true, reason: 'Proxmox Backup Server snapshots have path segments and colons' },
    { given: 'local:backup/vzdump-lxc-101-2025_01_01-00_00_00.tar.zst', content: 'backup', ok: true, reason: 'a vzdump archive' },
    { given: 'local:vztmpl/a/b.tar.zst', content: 'vztmpl', ok: false, reason: 'templates live directly in template/cache' },
    { given: 'local:vztmpl/..', content: 'vztmpl', ok: false, reason: 'dot-dot' },
    { given: 'local:backup/a..b', content: 'backup', ok: false, reason: 'no ".." anywhere' },
    { given: 'local-:backup/x', content: 'backup', ok: false, reason: 'pve-storage-id ends with a letter or digit' },
    { given: 'local:images/vm-101-disk-0', content: 'backup', ok: false, reason: 'wrong content type' },
    { given: 'local:backup/.hidden', content: 'backup', ok: false, reason: 'segments start with a letter or digit' },
    { given: 'local', content: 'vztmpl', ok: false, reason: 'no content part' },
  ])('$given: $reason', ({ given, content, ok }) => expect(checkVolid(given, content as 'vztmpl' | 'backup') === undefined).toBe(ok))

  it.each([
    { given: 'alpine-3.22', ok: true, reason: 'an aplinfo name prefix' },
    { given: 'local:vztmpl/alpine.tar.zst', ok: true, reason: 'a volid' },
    { given: 'alpine/3.22', ok: false, reason: 'a path is not a name' },
    { given: 'local:backup/x.tar.zst', ok: false, reason: 'a backup is not a template' },
  ])('template $given: $reason', ({ given, ok }) => expect(checkTemplate(given) === undefined).toBe(ok))
})

describe('mount paths', () => {
  it.each([
    { given: '//proc/./x/', want: '/proc/x', reason: 'repeated slashes, dot segments and a trailing slash collapse' },
    { given: '/data/../sys', want: '/sys', reason: 'dot-dot is applied' },
    { given: '/..', want: '/', reason: 'nothing climbs above the root' },
  ])('normalises $given: $reason', ({ given, want }) => expect(normalizeMountPath(given)).toBe(want))

  it.each([
    { given: '/', ok: false, reason: 'the root disk is resources.disk' },
    { given: '/proc', ok: false, reason: 'kernel file system' },
    { given: '/sys/fs/cgroup', ok: false, reason: 'below a kernel file system' },
    { given: '/dev/', ok: false, reason: 'trailing slash' },
    { given: '/procs', ok: true, reason: 'a prefix of the name is not the folder' },
    { given: '/srv/dev', ok: true, reason: 'dev deeper down is an ordinary folder' },
  ])('$given: $reason', ({ given, ok }) => expect(checkMountPath(given) === undefined).toBe(ok))
})

describe('DNS name lengths', () => {
  it.each([
    { given: 'a'.repeat(63), max: 64, ok: true, reason: 'a 63-octet label is the DNS maximum' },
    { given: 'a'.repeat(64), max: 255, ok: false, reason: 'a 64-octet label is refused whatever the total' },
    { given: `${'a'.repeat(40)}.${'b'.repeat(23)}`, max: 64, ok: true, reason: 'exactly 64 in all' },
    { given: `${'a'.repeat(40)}.${'b'.repeat(24)}`, max: 64, ok: false, reason: 'one more than Linux takes for a host name' },
  ])('$reason', ({ given, max, ok }) => expect(checkHostnameLength(given, max) === undefined).toBe(ok))
})

describe('calendar-event bounds', () => {
  it.each([
    { given: '*-*-* 23:59:59', ok: true, reason: 'the last second of a day' },
    { given: 'mon..fri 00:00', ok: true, reason: 'midnight on weekdays' },
    { given: '2026-12-31 03:00', ok: true, reason: 'a full date' },
    { given: '*/15', ok: true, reason: 'a lone component is minutes' },
    { given: '0/2:30', ok: true, reason: 'every two hours from midnight' },
    { given: '*-*-* 24:00', ok: false, reason: 'hour 24' },
    { given: '60', ok: false, reason: 'a lone 60 is minute 60' },
    { given: '*-02-32 03:00', ok: false, reason: 'day 32' },
    { given: '*-*-* 03:00:60', ok: false, reason: 'second 60' },
    { given: '*-*-* 10..8:00', ok: false, reason: 'a backwards range' },
    { given: '0/0:00', ok: false, reason: 'a zero repetition' },
  ])('$given: $reason', ({ given, ok }) => expect(checkCalendarBounds(given) === undefined).toBe(ok))
})
