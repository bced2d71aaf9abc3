import { describe, expect, it } from 'vitest'
import type { BackupTarget } from '../../controllers/backup-policy/desired.js'
import {
  backupOverdueCondition,
  backupsByTarget,
  backupTarget,
  checkOverdue,
  DEFAULT_OVERDUE_GRACE_MS,
  lastBackups,
  lastJobRun,
  uncoveredTargets,
} from '../../controllers/backup-policy/status.js'
import { renderBackupNotes } from '../../src/model/backup-notes.js'
import type { BackupPolicySpec } from '../../src/model/types.js'
import { backupEntries, type BackupContentItem } from '../../src/model/vzdump.js'

const OWNER = 'home'
const TARGETS: BackupTarget[] = [
  { kind: 'App', name: 'web', labels: { tier: 'prod' }, vmid: 105 },
  { kind: 'App', name: 'db', labels: { tier: 'prod' }, vmid: 106 },
  { kind: 'App', name: 'wiki', labels: { tier: 'dev' }, vmid: 110 },
  { kind: 'App', name: 'fresh', labels: { tier: 'prod' } },
  { kind: 'Appliance', name: 'gw', vmid: 100 },
]

const item = (vmid: number, stamp: string, notes?: string, storage = 'local'): BackupContentItem => ({
  volid: `${storage}:backup/vzdump-lxc-${vmid}-${stamp}.tar.zst`,
  content: 'backup',
  vmid,
  size: 1000 + vmid,
  ...(notes !== undefined ? { notes } : {}),
})

describe('backupTarget: which app a backup belongs to', () => {
  const cases: { name: string; reason: string; vmid: number; notes?: string; want: string | undefined }[] = [
    { name: 'job backup', reason: 'job notes carry no app: the vmid decides', vmid: 105, notes: 'proximity:backup {"owner":"home","policy":"nightly","trigger":"schedule","guest":"web","vmid":"105"}', want: 'web' },
    { name: 'no notes', reason: 'a backup a person made in the UI of our guest still counts', vmid: 106, want: 'db' },
    { name: 'foreign notes text', reason: 'free text is not a claim', vmid: 110, notes: 'before upgrade', want: 'wiki' },
    { name: 'app named in notes, new vmid', reason: 'the app was re-created: its old backups are still its own', vmid: 999, notes: renderBackupNotes({ owner: OWNER, app: 'web', revision: 'a1' }), want: 'web' },
    { name: 'vmid reused by another app', reason: 'a backup naming another app never counts for the app that has the vmid now', vmid: 105, notes: renderBackupNotes({ owner: OWNER, app: 'old-app' }), want: undefined },
    { name: 'another installation', reason: 'another owner\'s backup is not ours, whatever the vmid', vmid: 105, notes: renderBackupNotes({ owner: 'office', app: 'web' }), want: undefined },
    { name: 'appliance by notes', reason: 'kind Appliance in notes resolves to the appliance', vmid: 100, notes: renderBackupNotes({ owner: OWNER, kind: 'Appliance', app: 'gw' }), want: 'gw' },
    { name: 'unknown guest', reason: 'a backup of a foreign guest belongs to no app', vmid: 300, want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(backupTarget({ vmid: c.vmid, notes: c.notes }, TARGETS, OWNER)?.name).toBe(c.want)
    })
  }
})

describe('lastBackups: the newest backup per app from one listing per storage', () => {
  const listing = [
    ...[
      item(105, '2026_11_28-03_00_01', 'proximity:backup {"owner":"home","policy":"nightly","trigger":"schedule","vmid":"105"}'),
      item(105, '2026_11_30-03_00_01', renderBackupNotes({ owner: OWNER, app: 'web', revision: 'c0ffee1', policy: 'nightly', trigger: 'schedule' })),
      item(106, '2026_11_29-03_00_05'),
      item(300, '2026_11_30-03_00_09'),
    ],
    item(105, '2026_11_29-22_00_00', renderBackupNotes({ owner: OWNER, app: 'web', revision: 'beef', trigger: 'manual' }), 'nas'),
  ]
  const entries = backupEntries(listing)

  it('picks the newest across storages, with revision and trigger from the notes', () => {
    const last = lastBackups(entries, TARGETS, OWNER)
    expect([...last.keys()].sort()).toEqual(['App/db', 'App/web'])
    expect(last.get('App/web')).toMatchObject({
      volid: 'local:backup/vzdump-lxc-105-2026_11_30-03_00_01.tar.zst',
      time: new Date('2026-11-30T03:00:01Z'),
      revision: 'c0ffee1',
      policy: 'nightly',
      trigger: 'schedule',
      size: 1105,
    })
    expect(last.get('App/db')).toMatchObject({ vmid: 106, time: new Date('2026-11-29T03:00:05Z') })
    expect(last.get('App/db')!.revision).toBeUndefined()
  })

  it('keeps every backup per app newest first (backup list)', () => {
    const all = backupsByTarget(entries, TARGETS, OWNER).get('App/web')!
    expect(all.map((r) => [r.storage, r.time.toISOString()])).toEqual([
      ['local', '2026-11-30T03:00:01.000Z'],
      ['nas', '2026-11-29T22:00:00.000Z'],
      ['local', '2026-11-28T03:00:01.000Z'],
    ])
  })
})

describe('checkOverdue: against the calendar\'s previous run plus a grace', () => {
  const H = 3600_000
  const cases: { name: string; reason: string; schedule: string; now: string; last?: string; since?: string; grace?: number; tz?: string; suspended?: boolean; want: { overdue: boolean; reason: string; expectedAt?: string } }[] = [
    { name: 'fresh nightly', reason: 'today\'s 03:00 backup exists', schedule: '*-*-* 03:00', now: '2026-11-30T10:00:00Z', last: '2026-11-30T03:00:04Z', want: { overdue: false, reason: 'BackupCurrent', expectedAt: '2026-11-30T03:00:00Z' } },
    { name: 'missed nightly', reason: 'the newest backup is from yesterday and the grace is over', schedule: '*-*-* 03:00', now: '2026-11-30T10:00:00Z', last: '2026-11-29T03:00:04Z', want: { overdue: true, reason: 'BackupOverdue', expectedAt: '2026-11-30T03:00:00Z' } },
    { name: 'within the grace', reason: 'at 05:00 the 03:00 job may still wait for the vzdump lock (3 h grace): yesterday\'s run is the one due', schedule: '*-*-* 03:00', now: '2026-11-30T05:00:00Z', last: '2026-11-29T03:00:04Z', want: { overdue: false, reason: 'BackupCurrent', expectedAt: '2026-11-29T03:00:00Z' } },
    { name: 'custom grace', reason: 'a 1 h grace declares it overdue at 05:00', schedule: '*-*-* 03:00', now: '2026-11-30T05:00:00Z', last: '2026-11-29T03:00:04Z', grace: H, want: { overdue: true, reason: 'BackupOverdue', expectedAt: '2026-11-30T03:00:00Z' } },
    { name: 'never backed up', reason: 'no backup at all after a due run', schedule: 'sat 02:00', now: '2026-11-30T10:00:00Z', want: { overdue: true, reason: 'BackupOverdue', expectedAt: '2026-11-28T02:00:00Z' } },
    { name: 'weekly on Monday', reason: 'Saturday\'s backup covers the weekly job until next Saturday', schedule: 'sat 02:00', now: '2026-11-30T10:00:00Z', last: '2026-11-28T02:00:10Z', want: { overdue: false, reason: 'BackupCurrent' } },
    { name: 'workdays over the weekend', reason: 'Friday\'s run is the one due on Monday morning', schedule: 'mon..fri 22:30', now: '2026-11-30T08:00:00Z', last: '2026-11-27T22:30:02Z', want: { overdue: false, reason: 'BackupCurrent', expectedAt: '2026-11-27T22:30:00Z' } },
    { name: 'new policy', reason: 'a run before the app was covered was not due for it', schedule: '*-*-* 03:00', now: '2026-11-30T10:00:00Z', since: '2026-11-30T09:00:00Z', want: { overdue: false, reason: 'NoRunDue' } },
    { name: 'covered since before the run', reason: 'once a run after `since` passed, it is due', schedule: '*-*-* 03:00', now: '2026-12-01T10:00:00Z', since: '2026-11-30T09:00:00Z', want: { overdue: true, reason: 'BackupOverdue', expectedAt: '2026-12-01T03:00:00Z' } },
    { name: 'suspended', reason: 'a suspended policy is never overdue', schedule: '*-*-* 03:00', now: '2026-11-30T10:00:00Z', suspended: true, want: { overdue: false, reason: 'Suspended' } },
    { name: 'node time zone', reason: '03:00 in Berlin is 02:00 UTC: a 02:00:05 UTC backup is current', schedule: '*-*-* 03:00', tz: 'Europe/Berlin', now: '2026-11-30T10:00:00Z', last: '2026-11-30T02:00:05Z', want: { overdue: false, reason: 'BackupCurrent', expectedAt: '2026-11-30T02:00:00Z' } },
    { name: 'future one-off', reason: 'a date not reached yet has nothing due', schedule: '2027-01-01 03:00', now: '2026-11-30T10:00:00Z', want: { overdue: false, reason: 'NoRunDue' } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const r = checkOverdue({
        schedule: c.schedule,
        now: new Date(c.now),
        last: c.last ? new Date(c.last) : undefined,
        since: c.since ? new Date(c.since) : undefined,
        graceMs: c.grace,
        timeZone: c.tz,
        suspended: c.suspended,
      })
      expect({ overdue: r.overdue, reason: r.reason }).toEqual({ overdue: c.want.overdue, reason: c.want.reason })
      if (c.want.expectedAt) expect(r.expectedAt?.toISOString()).toBe(new Date(c.want.expectedAt).toISOString())
      expect(r.message.length).toBeGreaterThan(10)
    })
  }

  it('the condition names the expected time in its message', () => {
    const r = checkOverdue({ schedule: '*-*-* 03:00', now: new Date('2026-11-30T10:00:00Z'), last: new Date('2026-11-29T03:00:04Z') })
    expect(backupOverdueCondition(r)).toEqual({
      type: 'BackupOverdue',
      status: 'True',
      reason: 'BackupOverdue',
      message: `last backup at 2026-11-29T03:00:04Z is older than the run scheduled at 2026-11-30T03:00:00Z ("*-*-* 03:00", ${DEFAULT_OVERDUE_GRACE_MS / 60000} min grace); check the job's task log in Proxmox`,
    })
    expect(r.nextAt?.toISOString()).toBe('2026-12-01T03:00:00.000Z')
  })
})

describe('uncoveredTargets: apps no active policy backs up (like Proxmox\'s not-backed-up)', () => {
  const pol = (spec: Partial<BackupPolicySpec>): { spec: Pick<BackupPolicySpec, 'selector' | 'includeAppliance' | 'suspend'> } => ({
    spec: { selector: { matchLabels: { tier: 'prod' } }, includeAppliance: false, suspend: false, ...spec },
  })
  const cases: { name: string; reason: string; policies: ReturnType<typeof pol>[]; want: string[] }[] = [
    { name: 'no policy', reason: 'everything is uncovered, appliance included', policies: [], want: ['App/db', 'App/fresh', 'App/web', 'App/wiki', 'Appliance/gw'] },
    { name: 'prod labels', reason: 'an app without a guest yet is still covered by its selector', policies: [pol({})], want: ['App/wiki', 'Appliance/gw'] },
    { name: 'suspended policy', reason: 'a suspended policy backs nothing up', policies: [pol({ suspend: true })], want: ['App/db', 'App/fresh', 'App/web', 'App/wiki', 'Appliance/gw'] },
    { name: 'all + appliance', reason: 'nothing left uncovered', policies: [pol({ selector: { all: true }, includeAppliance: true })], want: [] },
    { name: 'two policies', reason: 'coverage is the union', policies: [pol({}), pol({ selector: { apps: ['wiki'] } })], want: ['Appliance/gw'] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(uncoveredTargets(c.policies, TARGETS).map((t) => `${t.kind}/${t.name}`)).toEqual(c.want)
    })
  }
})

describe('lastJobRun: the result of the last scheduled run, from the task list', () => {
  const at = Date.parse('2026-11-30T03:00:00Z') / 1000
  const upid = (node: string, start: number, id: string): string => `UPID:${node}:0000ABCD:00001234:${start.toString(16).toUpperCase()}:vzdump:${id}:root@pam:`
  const task = (node: string, start: number, id: string, status?: string, over: Record<string, unknown> = {}) => ({
    upid: upid(node, start, id), node, type: 'vzdump', id, user: 'root@pam', starttime: start, ...(status !== undefined ? { status, endtime: start + 60 } : {}), ...over,
  })
  const job = { schedule: '*-*-* 03:00', vmids: [105, 106], now: new Date('2026-11-30T10:00:00Z') }
  const cases: { name: string; reason: string; tasks: ReturnType<typeof task>[]; want: string; count: number }[] = [
    { name: 'one node, OK', reason: 'a multi-guest run has an empty task id', tasks: [task('pve', at + 20, '', 'OK')], want: 'ok', count: 1 },
    { name: 'warnings', reason: 'WARNINGS: n is a success with warnings', tasks: [task('pve', at + 20, '', 'WARNINGS: 2')], want: 'warnings', count: 1 },
    { name: 'job errors', reason: 'a guest failed: the task ends with "job errors"', tasks: [task('pve', at + 20, '', 'job errors')], want: 'failed', count: 1 },
    { name: 'two nodes, one failed', reason: 'the job runs per node; the worst result wins', tasks: [task('pve', at + 20, '105', 'OK'), task('pve2', at + 25, '106', 'unable to find VM')], want: 'failed', count: 2 },
    { name: 'still running', reason: 'a running task has no status yet', tasks: [task('pve', at + 20, '', undefined)], want: 'running', count: 1 },
    { name: 'only yesterday\'s run', reason: 'an older run does not answer for today\'s', tasks: [task('pve', at - 86400 + 20, '', 'OK')], want: 'missing', count: 0 },
    { name: 'manual backup of another guest', reason: 'a user\'s vzdump of an unrelated guest is not the job', tasks: [task('pve', at + 30, '300', 'OK')], want: 'missing', count: 0 },
    { name: 'backup now by a token', reason: 'tasks of other users are not the scheduler', tasks: [task('pve', at + 30, '', 'OK', { user: 'proximity@pve!ops' })], want: 'missing', count: 0 },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const r = lastJobRun(c.tasks, job)
      expect(r.state).toBe(c.want)
      expect(r.tasks).toHaveLength(c.count)
      expect(r.scheduledAt?.toISOString()).toBe('2026-11-30T03:00:00.000Z')
      expect(r.message).toContain('2026-11-30T03:00:00Z')
    })
  }
})
