import { describe, expect, it } from 'vitest'
import { backupEntries, backupTime, parseBackupVolid } from '../../src/model/vzdump.js'

describe('parseBackupVolid: what a vzdump archive name says', () => {
  const cases: { name: string; reason: string; given: string; want: Record<string, unknown> | undefined }[] = [
    {
      name: 'zstd container backup',
      reason: 'the name vzdump gives a compressed CT backup (REFERENCE §7.1)',
      given: 'local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst',
      want: { storage: 'local', vmid: 105, guestType: 'lxc', format: 'tar.zst', stamp: '2026-11-30 03:00:01', file: 'vzdump-lxc-105-2026_11_30-03_00_01.tar.zst' },
    },
    { name: 'uncompressed', reason: 'compress=0 gives a bare .tar', given: 'nas:backup/vzdump-lxc-101-2024_01_01-00_00_00.tar', want: { storage: 'nas', vmid: 101, format: 'tar' } },
    { name: 'VM backup', reason: 'qemu archives are .vma.*; they are listed on the same storage', given: 'local:backup/vzdump-qemu-200-2025_06_01-12_30_00.vma.zst', want: { guestType: 'qemu', vmid: 200, format: 'vma.zst' } },
    { name: 'legacy tgz', reason: 'old CT backups used .tgz', given: 'local:backup/vzdump-openvz-300-2015_10_21-00_00_00.tgz', want: { guestType: 'openvz', format: 'tgz' } },
    { name: 'volname only', reason: 'Proxmox accepts `backup/…` without the storage', given: 'backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.gz', want: { storage: '', vmid: 105, format: 'tar.gz' } },
    { name: 'bare file name', reason: 'what a task log prints', given: 'vzdump-lxc-105-2026_11_30-03_00_01.tar.lzo', want: { vmid: 105, format: 'tar.lzo' } },
    { name: 'large vmid', reason: 'vmids go up to 999999999', given: 'local:backup/vzdump-lxc-999999999-2026_11_30-03_00_01.tar.zst', want: { vmid: 999999999 } },
    { name: 'not a vzdump name', reason: 'a user-uploaded file on the backup storage has no vmid to claim', given: 'local:backup/my-archive.tar.zst', want: undefined },
    { name: 'log file', reason: 'the .log next to an archive is not a backup', given: 'local:backup/vzdump-lxc-105-2026_11_30-03_00_01.log', want: undefined },
    { name: 'vmid below 100', reason: 'not a valid vmid', given: 'local:backup/vzdump-lxc-99-2026_11_30-03_00_01.tar', want: undefined },
    { name: 'impossible stamp', reason: 'month 13 cannot be a vzdump start time', given: 'local:backup/vzdump-lxc-105-2026_13_30-03_00_01.tar', want: undefined },
    { name: 'nested path', reason: 'a sub-folder is not a vzdump archive', given: 'local:backup/sub/vzdump-lxc-105-2026_11_30-03_00_01.tar', want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = parseBackupVolid(c.given)
      if (c.want === undefined) expect(got).toBeUndefined()
      else expect(got).toMatchObject(c.want)
    })
  }
})

describe('backupTime: the stamp is the node\'s local time', () => {
  const v = parseBackupVolid('local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst')!
  it('reads UTC by default', () => {
    expect(backupTime(v).toISOString()).toBe('2026-11-30T03:00:01.000Z')
  })
  it('reads the node zone (Berlin is UTC+1 in November)', () => {
    expect(backupTime(v, 'Europe/Berlin').toISOString()).toBe('2026-11-30T02:00:01.000Z')
  })
  it('an ambiguous stamp (clocks going back) gives the earlier instant', () => {
    const amb = parseBackupVolid('local:backup/vzdump-lxc-105-2026_10_25-02_30_00.tar')!
    expect(backupTime(amb, 'Europe/Berlin').toISOString()).toBe('2026-10-25T00:30:00.000Z')
  })
})

describe('backupEntries: a content listing as backups', () => {
  const listing = [
    { volid: 'local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz', content: 'vztmpl', size: 3, ctime: 1 },
    { volid: 'local:backup/vzdump-lxc-105-2026_11_29-03_00_01.tar.zst', content: 'backup', format: 'tar.zst', subtype: 'lxc', vmid: 105, size: 2048, ctime: 1764385201, notes: 'proximity:backup {"owner":"home"}' },
    { volid: 'local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst', content: 'backup', format: 'tar.zst', subtype: 'lxc', vmid: '105', size: '4096', protected: 1 },
    { volid: 'local:backup/notes.txt', content: 'backup', size: 1, ctime: 5 },
  ]
  it('keeps only vzdump archives, newest first, with numbers normalised', () => {
    const got = backupEntries(listing)
    expect(got.map((e) => e.volid)).toEqual(['local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst', 'local:backup/vzdump-lxc-105-2026_11_29-03_00_01.tar.zst'])
    expect(got[0]).toMatchObject({ vmid: 105, size: 4096, protected: true, storage: 'local', time: new Date('2026-11-30T03:00:01Z') })
    expect(got[1]).toMatchObject({ protected: false, notes: 'proximity:backup {"owner":"home"}', time: new Date(1764385201 * 1000) })
  })
  it('prefers the listing ctime over the name (Proxmox already applied the node zone)', () => {
    const [e] = backupEntries([{ volid: 'local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst', content: 'backup', ctime: 1764468001 }], 'Europe/Berlin')
    expect(e!.time.toISOString()).toBe(new Date(1764468001 * 1000).toISOString())
  })
})
