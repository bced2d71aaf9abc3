/**
 * BackupPolicy.schedule through the real loader: the schema only filters characters, and the
 * cross-checks run Proxmox's calendar grammar (checkBackupSchedule), so valid events the old
 * pattern refused load, and events Proxmox would refuse or never run are located errors.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadManifests } from '../../src/manifest/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-schedule-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const policy = (schedule: string): string =>
  ['apiVersion: proximity/v1alpha1', 'kind: BackupPolicy', 'metadata:', '  name: nightly', 'spec:', `  schedule: ${JSON.stringify(schedule)}`, '  selector:', '    all: true', ''].join('\n')

async function load(schedule: string): Promise<Awaited<ReturnType<typeof loadManifests>>> {
  const file = join(dir, `p-${Buffer.from(schedule).toString('hex')}.yaml`)
  await writeFile(file, policy(schedule))
  return loadManifests([file], { requireKey: false })
}

describe('BackupPolicy.schedule', () => {
  it.each([
    { given: '*-05', reason: 'month-day without a year (every 5th of the month at midnight)' },
    { given: 'Sat *-1..7 15:00', reason: 'the first Saturday of every month, as Proxmox documents it' },
    { given: 'daily UTC', reason: 'a keyword with a time zone' },
    { given: 'mon..fri 22:30', reason: 'a weekday range' },
  ])('$given loads: $reason', async ({ given }) => {
    const r = await load(given)
    expect(r.ok, JSON.stringify(r.ok ? [] : r.errors)).toBe(true)
    if (r.ok) expect(r.set.backupPolicies[0]?.spec.schedule).toBe(given)
  })

  it.each([
    { given: '25:61', reason: 'out-of-range time that the old pattern accepted', want: /^schedule hour 25 is out of range/ },
    { given: '02-30', reason: 'a date that never exists: the job would never run', want: /^must be a Proxmox calendar event: / },
    { given: 'every night', reason: 'English is not a calendar event', want: /^must be a Proxmox calendar event: / },
  ])('$given is a located error: $reason', async ({ given, want }) => {
    const r = await load(given)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors).toHaveLength(1)
    expect(r.errors[0]).toMatchObject({ line: 6, column: 13, kind: 'BackupPolicy', name: 'nightly' })
    expect(r.errors[0]!.message).toMatch(want)
  })
})

describe('BackupPolicy.verify', () => {
  const withVerify = (verify: string[]): string => `${policy('daily')}  verify:\n${verify.map((l) => `    ${l}`).join('\n')}\n`
  async function loadVerify(verify: string[]): Promise<Awaited<ReturnType<typeof loadManifests>>> {
    const file = join(dir, `v-${Buffer.from(verify.join('|')).toString('hex').slice(0, 60)}.yaml`)
    await writeFile(file, withVerify(verify))
    return loadManifests([file], { requireKey: false })
  }

  it('loads with defaults and the timeout in ms', async () => {
    const r = await loadVerify(['schedule: "sun 04:00"', 'healthTimeout: 90s', 'appsPerRun: 2'])
    expect(r.ok, JSON.stringify(r.ok ? [] : r.errors)).toBe(true)
    if (r.ok) expect(r.set.backupPolicies[0]?.spec.verify).toEqual({ schedule: 'sun 04:00', suspend: false, healthTimeout: 90_000, appsPerRun: 2 })
  })

  it('a policy without verify has no drills', async () => {
    const r = await load('daily')
    expect(r.ok && r.set.backupPolicies[0]?.spec.verify).toBeUndefined()
  })

  it.each([
    { verify: ['schedule: "sun 25:00"'], reason: 'an hour Proxmox refuses', want: /^spec.verify.schedule verify schedule hour 25 is out of range/, line: 10 },
    { verify: ['schedule: "02-30"'], reason: 'a drill date that never exists would never run', want: /^spec.verify.schedule must be a Proxmox calendar event: .*never fires/, line: 10 },
    { verify: ['schedule: "sun 04:00"', 'appsPerRun: 0'], reason: 'a run that verifies nothing', want: /appsPerRun/, line: 11 },
    { verify: ['healthTimeout: 1m'], reason: 'verify without a schedule says nothing about when', want: /schedule/, line: 9 },
  ])('$reason is a located error', async ({ verify, want, line }) => {
    const r = await loadVerify(verify)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors).toHaveLength(1)
    expect(r.errors[0]).toMatchObject({ line, kind: 'BackupPolicy', name: 'nightly' })
    expect(`${r.errors[0]!.path} ${r.errors[0]!.message}`).toMatch(want)
  })
})
