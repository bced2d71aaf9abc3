/**
 * The pure part of restore drills: when a run is due (so a restart neither skips nor repeats one),
 * which apps a run takes, how plan shows verify changes and what the conditions say.
 */
import { describe, expect, it } from 'vitest'
import { diffVerify, drillSchedule, pickDrillApps, policyVerifiedCondition, restoreVerifiedCondition, type DrillRecord, type VerifyMemory } from '../../controllers/backup-policy/verify.js'
import type { BackupVerifySpec } from '../../src/model/types.js'

const verify: BackupVerifySpec = { schedule: 'sun 04:00', suspend: false }
// Sunday 2026-03-01 04:00 UTC is a scheduled drill; so are 2026-02-22 and 2026-03-08.
const SUN = '2026-03-01T04:00:00.000Z'
const at = (s: string): Date => new Date(s)

describe('drillSchedule', () => {
  const cases: { name: string; reason: string; given: { now: string; memory: VerifyMemory; spec?: BackupVerifySpec; suspended?: boolean }; want: { due: boolean; scheduledAt?: string } }[] = [
    { name: 'first look', reason: 'a policy that just got verify waits for its first scheduled time', given: { now: '2026-03-01T10:00:00Z', memory: { since: '2026-03-01T10:00:00Z' } }, want: { due: false } },
    { name: 'scheduled time passed', reason: 'the first occurrence after verify was set is due', given: { now: '2026-03-01T04:00:30Z', memory: { since: '2026-02-28T00:00:00Z' } }, want: { due: true, scheduledAt: SUN } },
    { name: 'already served', reason: 'a restart after the run must not repeat it', given: { now: '2026-03-01T09:00:00Z', memory: { since: '2026-02-01T00:00:00Z', lastScheduledAt: SUN } }, want: { due: false } },
    { name: 'missed while down', reason: 'a daemon down at 04:00 makes the run up once when back, never skips it', given: { now: '2026-03-03T12:00:00Z', memory: { since: '2026-02-01T00:00:00Z', lastScheduledAt: '2026-02-22T04:00:00.000Z' } }, want: { due: true, scheduledAt: SUN } },
    { name: 'several missed', reason: 'weeks down make up one run (the latest), not one per missed week', given: { now: '2026-03-09T00:00:00Z', memory: { since: '2026-01-01T00:00:00Z', lastScheduledAt: '2026-02-01T04:00:00.000Z' } }, want: { due: true, scheduledAt: '2026-03-08T04:00:00.000Z' } },
    { name: 'verify suspended', reason: 'suspend pauses drills', given: { now: '2026-03-01T05:00:00Z', memory: { since: '2026-02-01T00:00:00Z' }, spec: { ...verify, suspend: true } }, want: { due: false } },
    { name: 'policy suspended', reason: 'a suspended policy backs nothing up, so it drills nothing', given: { now: '2026-03-01T05:00:00Z', memory: { since: '2026-02-01T00:00:00Z' }, suspended: true }, want: { due: false } },
  ]
  it.each(cases)('$name: $reason', ({ given, want }) => {
    const r = drillSchedule(given.spec ?? verify, { now: at(given.now), policySuspended: given.suspended ?? false, memory: given.memory })
    expect(r.due).toBe(want.due)
    expect(r.scheduledAt?.toISOString()).toBe(want.scheduledAt)
  })

  it('without verify nothing is ever due', () => {
    expect(drillSchedule(undefined, { now: at(SUN), policySuspended: false, memory: {} })).toMatchObject({ due: false })
  })

  it('names the next drill when none is due', () => {
    expect(drillSchedule(verify, { now: at('2026-03-01T10:00:00Z'), policySuspended: false, memory: { since: '2026-03-01T10:00:00Z' } }).nextAt?.toISOString()).toBe('2026-03-08T04:00:00.000Z')
  })
})

const rec = (ok: boolean, at: string, reason = ok ? 'Verified' : 'HealthCheckFailed'): DrillRecord => ({ ok, reason, volid: 'local:backup/vzdump-lxc-101-2026_03_01-03_00_00.tar.zst', at, durationMs: 42_000, message: ok ? 'healthy' : 'not healthy after restore: port 80 closed', trigger: 'schedule' })

describe('pickDrillApps', () => {
  it('takes every app without a limit', () => expect(pickDrillApps(['App/b', 'App/a'], {}, undefined)).toEqual(['App/a', 'App/b']))
  it('with appsPerRun, never verified first, then the longest ago', () => {
    const results = { 'App/a': rec(true, '2026-02-22T04:00:00Z'), 'App/b': rec(true, '2026-02-15T04:00:00Z') }
    expect(pickDrillApps(['App/a', 'App/b', 'App/c'], results, 2)).toEqual(['App/c', 'App/b'])
  })
})

describe('diffVerify', () => {
  it('a policy without verify, before and after, plans nothing', () => expect(diffVerify(undefined, undefined)).toEqual([]))
  it('new verify shows each field as added', () => {
    expect(diffVerify({ schedule: 'sun 04:00', suspend: false, healthTimeout: 90_000 }, undefined).map((c) => [c.path, c.before, c.after])).toEqual([
      ['verify.schedule', undefined, 'sun 04:00'],
      ['verify.suspend', undefined, false],
      ['verify.healthTimeout', undefined, '1m30s'],
    ])
  })
  it('a changed schedule is one field', () => {
    expect(diffVerify({ schedule: 'sat 04:00', suspend: false }, { schedule: 'sun 04:00', suspend: false })).toEqual([{ path: 'verify.schedule', key: 'verify.schedule', before: 'sun 04:00', after: 'sat 04:00', impact: 'live' }])
  })
  it('removing verify says drills stop', () => {
    expect(diffVerify(undefined, { schedule: 'sun 04:00', suspend: false })).toMatchObject([{ path: 'verify', after: undefined, note: 'restore drills stop' }])
  })
})

describe('conditions', () => {
  it('an app that passed names the backup and the duration', () => {
    expect(restoreVerifiedCondition(rec(true, SUN))).toEqual({ type: 'RestoreVerified', status: 'True', reason: 'Verified', message: `backup local:backup/vzdump-lxc-101-2026_03_01-03_00_00.tar.zst restored into a scratch guest and healthy in 42s (drill at ${SUN})` })
  })
  it('an app that failed says why', () => {
    expect(restoreVerifiedCondition(rec(false, SUN))).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: expect.stringContaining('not healthy after restore: port 80 closed') })
  })
  it('the policy is False when any app failed, True when all passed, Unknown before the first drill', () => {
    const schedule = { due: false, message: '' }
    expect(policyVerifiedCondition({ 'App/a': rec(true, SUN), 'App/b': rec(false, SUN) }, ['App/a', 'App/b'], schedule)).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: expect.stringMatching(/^App\/b: /) })
    expect(policyVerifiedCondition({ 'App/a': rec(true, SUN) }, ['App/a', 'App/b'], schedule)).toMatchObject({ status: 'True', message: expect.stringContaining('1 not drilled yet') })
    expect(policyVerifiedCondition({}, ['App/a'], schedule)).toMatchObject({ status: 'Unknown', reason: 'NotVerifiedYet' })
  })
})
