import { describe, expect, it } from 'vitest'
import {
  backupJobId,
  BACKUP_JOB_ID_MAX_LENGTH,
  CONFIGID_PATTERN,
  desiredBackupJob,
  jobPolicy,
  pruneBackups,
  selectTargets,
  type BackupTarget,
} from '../../controllers/backup-policy/desired.js'
import { diffBackupJob, jobUpdateParams, normalizePruneBackups, orphanJobs, planBackupJob, type ObservedBackupJob } from '../../controllers/backup-policy/plan.js'
import type { BackupPolicyManifest, BackupPolicySpec } from '../../src/model/types.js'

const OWNER = 'home'
const CLUSTER = { owner: OWNER, backupStorage: 'local' }

function policy(name: string, spec: Partial<BackupPolicySpec> = {}): BackupPolicyManifest {
  return {
    apiVersion: 'proximity/v1alpha1',
    kind: 'BackupPolicy',
    metadata: { name },
    spec: {
      schedule: '*-*-* 03:00',
      selector: { matchLabels: { tier: 'prod' } },
      mode: 'snapshot',
      compress: 'zstd',
      retention: { keepLast: 3, keepDaily: 7 },
      includeAppliance: false,
      suspend: false,
      ...spec,
    },
    source: { file: 'policy.yaml', line: 1, column: 1 },
    specHash: 'h',
  }
}

const TARGETS: BackupTarget[] = [
  { kind: 'App', name: 'web', labels: { tier: 'prod' }, vmid: 105 },
  { kind: 'App', name: 'db', labels: { tier: 'prod', role: 'db' }, vmid: 101 },
  { kind: 'App', name: 'wiki', labels: { tier: 'dev' }, vmid: 110 },
  { kind: 'App', name: 'new', labels: { tier: 'prod' } },
  { kind: 'Appliance', name: 'gw', vmid: 100 },
]

describe('backupJobId: deterministic, valid for Proxmox, one id per (owner, policy)', () => {
  const cases: { owner: string; policy: string; want: string | RegExp; reason: string }[] = [
    { owner: 'home', policy: 'nightly', want: 'proximity_home_nightly', reason: 'the readable form when it fits' },
    { owner: 'proximity', policy: 'weekly-full', want: 'proximity_proximity_weekly-full', reason: 'the default owner' },
    { owner: 'a'.repeat(40), policy: 'b'.repeat(40), want: /^proximity_h[0-9a-f]{12}_b+$/, reason: 'too long for 50 characters: hashed, still naming the policy' },
  ]
  for (const c of cases) {
    it(`${c.owner}/${c.policy}: ${c.reason}`, () => {
      const id = backupJobId(c.owner, c.policy)
      if (typeof c.want === 'string') expect(id).toBe(c.want)
      else expect(id).toMatch(c.want)
      expect(id.length).toBeLessThanOrEqual(BACKUP_JOB_ID_MAX_LENGTH)
      expect(id).toMatch(CONFIGID_PATTERN)
      expect(backupJobId(c.owner, c.policy)).toBe(id)
    })
  }

  it('never maps two (owner, policy) pairs to one id, even where a dash-joined id would', () => {
    expect(backupJobId('owner-a', 'b')).not.toBe(backupJobId('owner', 'a-b'))
    expect(backupJobId('x'.repeat(40), 'p'.repeat(40))).not.toBe(backupJobId('y'.repeat(40), 'p'.repeat(40)))
  })
})

describe('selectTargets: a selector resolved to vmids', () => {
  const cases: { name: string; reason: string; spec: Pick<BackupPolicySpec, 'selector' | 'includeAppliance'>; vmids: number[]; pending?: string[]; unknown?: string[] }[] = [
    { name: 'matchLabels', reason: 'every label pair must match; apps without a guest wait', spec: { selector: { matchLabels: { tier: 'prod' } }, includeAppliance: false }, vmids: [101, 105], pending: ['new'] },
    { name: 'matchLabels with two pairs', reason: 'a second pair narrows the match', spec: { selector: { matchLabels: { tier: 'prod', role: 'db' } }, includeAppliance: false }, vmids: [101] },
    { name: 'apps by name', reason: 'listed names; a name with no App is reported, not guessed', spec: { selector: { apps: ['wiki', 'web', 'gone'] }, includeAppliance: false }, vmids: [105, 110], unknown: ['gone'] },
    { name: 'all', reason: 'every Proximity app, never Proxmox\'s all=1 (foreign guests)', spec: { selector: { all: true }, includeAppliance: false }, vmids: [101, 105, 110], pending: ['new'] },
    { name: 'includeAppliance', reason: 'the appliance joins only when asked', spec: { selector: { apps: ['web'] }, includeAppliance: true }, vmids: [100, 105] },
    { name: 'no match', reason: 'a selector may match nothing yet', spec: { selector: { matchLabels: { tier: 'qa' } }, includeAppliance: false }, vmids: [] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const s = selectTargets(c.spec, TARGETS)
      expect(s.vmids).toEqual(c.vmids)
      expect(s.pending).toEqual(c.pending ?? [])
      expect(s.unknown).toEqual(c.unknown ?? [])
    })
  }

  it('does not depend on the order of the targets', () => {
    expect(selectTargets({ selector: { all: true }, includeAppliance: true }, [...TARGETS].reverse())).toEqual(selectTargets({ selector: { all: true }, includeAppliance: true }, TARGETS))
  })
})

describe('pruneBackups: retention as Proxmox\'s prune-backups', () => {
  const cases: { given: BackupPolicySpec['retention'] | undefined; want: string; reason: string }[] = [
    { given: { keepLast: 3, keepDaily: 7 }, want: 'keep-daily=7,keep-last=3', reason: 'keys in Proxmox\'s alphabetical order' },
    { given: { keepLast: 7 }, want: 'keep-last=7', reason: 'the schema default' },
    { given: { keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 2 }, want: 'keep-daily=7,keep-hourly=24,keep-monthly=12,keep-weekly=4,keep-yearly=2', reason: 'every bucket' },
    { given: { keepLast: 0, keepDaily: 3 }, want: 'keep-daily=3', reason: 'zero means unused in Proxmox' },
    { given: { keepLast: 0 }, want: 'keep-all=1', reason: 'nothing left: keep everything rather than fall back to the storage\'s retention' },
    { given: undefined, want: 'keep-all=1', reason: 'no retention at all' },
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.given)} → ${c.want}: ${c.reason}`, () => {
      expect(pruneBackups(c.given)).toBe(c.want)
    })
  }
})

describe('desiredBackupJob: every policy field lands in the job', () => {
  it('maps schedule, vmids, storage, mode, compress, retention, notes, enabled and the marker', () => {
    const d = desiredBackupJob(policy('nightly', { storage: 'nas', mode: 'stop', compress: 'none' }), CLUSTER, TARGETS)
    expect(d.params).toEqual({
      id: 'proximity_home_nightly',
      schedule: '*-*-* 03:00',
      vmid: '101,105',
      storage: 'nas',
      mode: 'stop',
      compress: '0',
      'prune-backups': 'keep-daily=7,keep-last=3',
      'notes-template': 'proximity:backup {"owner":"home","policy":"nightly","trigger":"schedule","guest":"{{guestname}}","vmid":"{{vmid}}"}',
      enabled: 1,
      comment: 'proximity:managed {"kind":"BackupPolicy","name":"nightly","owner":"home","specHash":""}',
    })
    expect(jobPolicy(d.params!)).toEqual({ owner: 'home', policy: 'nightly' })
  })

  it('uses the cluster backup storage by default and disables the job when suspended', () => {
    const d = desiredBackupJob(policy('nightly', { suspend: true }), CLUSTER, TARGETS)
    expect(d.params).toMatchObject({ storage: 'local', enabled: 0, compress: 'zstd' })
  })

  it('has no job when nothing is selected (Proxmox refuses a job without guests)', () => {
    const d = desiredBackupJob(policy('qa', { selector: { matchLabels: { tier: 'qa' } } }), CLUSTER, TARGETS)
    expect(d.params).toBeUndefined()
    expect(d.id).toBe('proximity_home_qa')
  })
})

/** How real PVE lists the job Proximity created from `params` (object prune-backups, numbers, extras). */
function asListedByPve(params: Record<string, unknown>, over: ObservedBackupJob = {}): ObservedBackupJob {
  const prune = Object.fromEntries(String(params['prune-backups']).split(',').map((kv) => {
    const [k, v] = kv.split('=')
    return [k!, Number(v)]
  }))
  return { ...params, type: 'vzdump', 'prune-backups': prune, 'next-run': 1764471600, enabled: params.enabled, ...over }
}

describe('diffBackupJob: a converged job plans nothing whatever form Proxmox returns', () => {
  const want = desiredBackupJob(policy('nightly'), CLUSTER, TARGETS).params!
  const cases: { name: string; reason: string; given: ObservedBackupJob }[] = [
    { name: 'as sent', reason: 'the simulator and config files keep prune-backups as a string', given: { ...want, type: 'vzdump' } },
    { name: 'real PVE listing', reason: 'PVE returns prune-backups as an object and adds next-run', given: asListedByPve(want) },
    { name: 'prune values as strings', reason: 'some clients return numbers as strings', given: asListedByPve(want, { 'prune-backups': { 'keep-last': '3', 'keep-daily': '7' } }) },
    { name: 'prune keys in another order', reason: 'a hand-edited job may order keys differently', given: { ...want, 'prune-backups': 'keep-last=3,keep-daily=7' } },
    { name: 'vmid order and separators', reason: 'pve-vmid-list splits on , ; and blanks', given: { ...want, vmid: '105;101' } },
    { name: 'enabled missing', reason: 'enabled defaults to 1', given: { ...want, enabled: undefined } },
    { name: 'enabled as string', reason: 'booleans arrive as "1"', given: { ...want, enabled: '1' } },
    { name: 'marker key order', reason: 'the comment marker compares by identity', given: { ...want, comment: 'proximity:managed {"owner":"home","name":"nightly","kind":"BackupPolicy"}\n' } },
    { name: 'unmanaged fields', reason: 'repeat-missed, mailto and friends set in the UI are not ours to undo', given: { ...want, 'repeat-missed': 1, mailto: 'ops@example.com', bwlimit: 1000 } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(diffBackupJob(want, c.given)).toEqual([])
    })
  }
})

describe('diffBackupJob: each drift or spec change is one field change', () => {
  const want = desiredBackupJob(policy('nightly'), CLUSTER, TARGETS).params!
  const cases: { name: string; reason: string; given: ObservedBackupJob; want: { path: string; key: string; before: unknown; after: unknown }[] }[] = [
    { name: 'schedule edited in the UI', reason: 'drift is corrected', given: { ...want, schedule: 'sat 02:00' }, want: [{ path: 'schedule', key: 'schedule', before: 'sat 02:00', after: '*-*-* 03:00' }] },
    { name: 'a labelled app appeared', reason: 'the selector keeps the vmid list in step', given: { ...want, vmid: '101' }, want: [{ path: 'selector', key: 'vmid', before: [101], after: [101, 105] }] },
    { name: 'retention changed', reason: 'compared as normalised prune-backups', given: asListedByPve(want, { 'prune-backups': { 'keep-last': 5 } }), want: [{ path: 'retention', key: 'prune-backups', before: 'keep-last=5', after: 'keep-daily=7,keep-last=3' }] },
    { name: 'retention missing', reason: 'a job without prune-backups follows the storage, which is not the policy', given: { ...want, 'prune-backups': undefined }, want: [{ path: 'retention', key: 'prune-backups', before: undefined, after: 'keep-daily=7,keep-last=3' }] },
    { name: 'disabled in the UI', reason: 'enabled follows suspend', given: { ...want, enabled: 0 }, want: [{ path: 'suspend', key: 'enabled', before: true, after: false }] },
    { name: 'storage and mode', reason: 'two fields, two changes', given: { ...want, storage: 'nas', mode: 'stop' }, want: [{ path: 'storage', key: 'storage', before: 'nas', after: 'local' }, { path: 'mode', key: 'mode', before: 'stop', after: 'snapshot' }] },
    { name: 'all=1 added', reason: 'would back up foreign guests: removed', given: { ...want, all: 1 }, want: [{ path: 'selector', key: 'all', before: true, after: undefined }] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = diffBackupJob(want, c.given)
      expect(got.map(({ path, key, before, after }) => ({ path, key, before, after }))).toEqual(c.want)
      expect(got.every((x) => x.impact === 'live')).toBe(true)
    })
  }

  it('the PUT body carries only the changed fields, and delete for removed selection keys', () => {
    const changes = diffBackupJob(want, { ...want, vmid: '101', all: 1, pool: 'x' })
    expect(jobUpdateParams(want, changes)).toEqual({ vmid: '101,105', delete: 'all,pool' })
  })

  it('compress: the legacy 1 equals lzo', () => {
    const lzo = desiredBackupJob(policy('nightly', { compress: 'lzo' }), CLUSTER, TARGETS).params!
    expect(diffBackupJob(lzo, { ...lzo, compress: '1' })).toEqual([])
    expect(normalizePruneBackups({ 'keep-all': 1, 'keep-last': 3 })).toBe('keep-all=1')
  })
})

describe('planBackupJob: one action per policy; foreign jobs are never touched', () => {
  const desired = desiredBackupJob(policy('nightly'), CLUSTER, TARGETS)
  const foreign: ObservedBackupJob = { id: 'backup-1a2b3c4d-5e6f', schedule: 'sun 01:00', vmid: '105', storage: 'local', enabled: 1 }

  it('creates the job when it is missing', () => {
    const a = planBackupJob('nightly', desired, [foreign], OWNER)
    expect(a.type).toBe('create')
    expect(a.detail).toMatchObject({ mode: 'create', id: 'proximity_home_nightly', params: desired.params })
    expect(a.changes.map((c) => c.path)).toEqual(['schedule', 'selector', 'storage', 'mode', 'compress', 'retention', 'suspend'])
  })

  it('plans nothing for a converged job, whatever foreign jobs exist', () => {
    expect(planBackupJob('nightly', desired, [foreign, asListedByPve(desired.params!)], OWNER)).toMatchObject({ type: 'noop', changes: [] })
  })

  it('updates field by field', () => {
    const a = planBackupJob('nightly', desired, [{ ...desired.params!, schedule: 'daily' }], OWNER)
    expect(a.type).toBe('update')
    expect(a.detail).toMatchObject({ mode: 'update', params: { schedule: '*-*-* 03:00' } })
  })

  it('refuses a job with our id that is not ours (no marker, or another owner)', () => {
    for (const job of [{ id: desired.id, schedule: 'daily', vmid: '105' }, { ...desired.params!, comment: 'proximity:managed {"kind":"BackupPolicy","name":"nightly","owner":"office","specHash":""}' }]) {
      const a = planBackupJob('nightly', desired, [job], OWNER)
      expect(a.type).toBe('noop')
      expect(a.detail).toMatchObject({ mode: 'conflict' })
      expect((a.changes[0] as { refused?: string }).refused).toMatch(/not created by this Proximity/)
    }
  })

  it('deletes our job when the selector no longer matches any guest, and creates none when there is none', () => {
    const none = desiredBackupJob(policy('nightly', { selector: { matchLabels: { tier: 'qa' } } }), CLUSTER, TARGETS)
    expect(planBackupJob('nightly', none, [desired.params!], OWNER)).toMatchObject({ type: 'delete', detail: { mode: 'delete', id: desired.id } })
    expect(planBackupJob('nightly', none, [], OWNER)).toMatchObject({ type: 'noop', detail: { mode: 'absent' } })
  })

  it('orphanJobs finds only our jobs of deleted policies', () => {
    const weekly = desiredBackupJob(policy('weekly'), CLUSTER, TARGETS).params!
    const other = desiredBackupJob(policy('old'), { owner: 'office', backupStorage: 'local' }, TARGETS).params!
    expect(orphanJobs([foreign, desired.params!, weekly, other], OWNER, ['nightly'])).toEqual(['proximity_home_weekly'])
  })
})
