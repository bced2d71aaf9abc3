/**
 * The desired backup job and Proximity's backup notes against the simulator through the real
 * proxmox-api client: what Proxmox stores and lists back must plan no change, and notes written by
 * vzdump must read back as ours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { desiredBackupJob, type BackupTarget } from '../../controllers/backup-policy/desired.js'
import { orphanJobs, planBackupJob } from '../../controllers/backup-policy/plan.js'
import { lastBackups } from '../../controllers/backup-policy/status.js'
import { parseBackupNotes, renderNotesTemplate } from '../../src/model/backup-notes.js'
import { backupEntries } from '../../src/model/vzdump.js'
import type { BackupPolicyManifest } from '../../src/model/types.js'
import type { PveHttpClient } from '../../src/providers/proxmox/client.js'
import { startHarness, TEMPLATE, type Harness } from '../providers/sim-harness.js'

let h: Harness
let pve: PveHttpClient
let node: string

const OWNER = 'home'
const CLUSTER = { owner: OWNER, backupStorage: 'local' }

const nightly: BackupPolicyManifest = {
  apiVersion: 'proximity/v1alpha1',
  kind: 'BackupPolicy',
  metadata: { name: 'nightly' },
  spec: {
    schedule: 'mon..fri 22:30',
    selector: { matchLabels: { backup: 'nightly' } },
    mode: 'snapshot',
    compress: 'zstd',
    retention: { keepLast: 3, keepDaily: 7 },
    includeAppliance: false,
    suspend: false,
  },
  source: { file: 'policy.yaml', line: 1, column: 1 },
  specHash: 'h',
}

async function createCt(vmid: number, hostname: string): Promise<void> {
  const upid = await pve.createLxc(node, {
    vmid, ostemplate: TEMPLATE, hostname, cores: 1, memory: 256, swap: 0,
    rootfs: 'local-lvm:2', net0: 'name=eth0,bridge=vmbr0,ip=dhcp', unprivileged: true,
  })
  await pve.waitTask(node, upid, { pollMs: 10 })
}

beforeAll(async () => {
  h = await startHarness()
  pve = h.client()
  node = h.sim.nodes[0]!
  await createCt(105, 'web')
  await createCt(106, 'db')
})
afterAll(async () => {
  await h.close()
})

describe('a policy becomes a Proxmox backup job that converges', () => {
  const targets: BackupTarget[] = [
    { kind: 'App', name: 'web', labels: { backup: 'nightly' }, vmid: 105 },
    { kind: 'App', name: 'db', labels: { backup: 'never' }, vmid: 106 },
  ]

  it('creates the job, and the job Proxmox lists back plans no change', async () => {
    await pve.createBackupJob({ schedule: 'sun 01:00', vmid: '106', storage: 'local' }) // a foreign job
    const desired = desiredBackupJob(nightly, CLUSTER, targets)
    const first = planBackupJob('nightly', desired, await pve.listBackupJobs(), OWNER)
    expect(first.type).toBe('create')
    await pve.createBackupJob(first.detail!.params as Record<string, string | number>)

    const jobs = await pve.listBackupJobs()
    const ours = jobs.find((j) => j.id === desired.id)!
    expect(ours).toMatchObject({ schedule: 'mon..fri 22:30', vmid: '105', storage: 'local', mode: 'snapshot', compress: 'zstd' })
    expect(planBackupJob('nightly', desired, jobs, OWNER)).toMatchObject({ type: 'noop', changes: [] })
  })

  it('a newly labelled app updates the vmid list in one PUT, then converges again', async () => {
    const relabelled = targets.map((t) => (t.name === 'db' ? { ...t, labels: { backup: 'nightly' } } : t))
    const desired = desiredBackupJob(nightly, CLUSTER, relabelled)
    const a = planBackupJob('nightly', desired, await pve.listBackupJobs(), OWNER)
    expect(a.type).toBe('update')
    expect(a.changes.map((c) => [c.path, c.before, c.after])).toEqual([['selector', [105], [105, 106]]])
    await pve.updateBackupJob(desired.id, a.detail!.params as Record<string, string | number>)
    expect(planBackupJob('nightly', desired, await pve.listBackupJobs(), OWNER).type).toBe('noop')
  })

  it('suspend disables the job and nothing else', async () => {
    const desired = desiredBackupJob({ ...nightly, spec: { ...nightly.spec, suspend: true } }, CLUSTER, targets)
    const a = planBackupJob('nightly', desired, await pve.listBackupJobs(), OWNER)
    expect(a.changes.map((c) => c.path).sort()).toEqual(['selector', 'suspend'])
    await pve.updateBackupJob(desired.id, a.detail!.params as Record<string, string | number>)
    const jobs = await pve.listBackupJobs()
    expect(Number(jobs.find((j) => j.id === desired.id)!.enabled)).toBe(0)
    expect(planBackupJob('nightly', desired, jobs, OWNER).type).toBe('noop')
  })

  it('the foreign job is neither planned nor an orphan', async () => {
    const jobs = await pve.listBackupJobs()
    const foreign = jobs.filter((j) => j.id !== 'proximity_home_nightly')
    expect(foreign).toHaveLength(1)
    expect(foreign[0]).toMatchObject({ schedule: 'sun 01:00', vmid: '106' })
    expect(orphanJobs(jobs, OWNER, [])).toEqual(['proximity_home_nightly'])
    expect(orphanJobs(jobs, OWNER, ['nightly'])).toEqual([])
  })
})

describe('backup notes written by vzdump read back as ours', () => {
  it('the job template names owner, policy, guest and vmid; backup now names app, revision and images', async () => {
    const desired = desiredBackupJob(nightly, CLUSTER, [{ kind: 'App', name: 'web', labels: { backup: 'nightly' }, vmid: 105 }])
    // What pvescheduler runs for the job: a vzdump with the job's parameters.
    const scheduled = await pve.vzdump(node, { vmid: '105', storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': desired.params!['notes-template'] })
    await pve.waitTask(node, scheduled as never, { pollMs: 10 })
    const manual = await pve.vzdump(node, {
      vmid: '106', storage: 'local', mode: 'snapshot', compress: 'zstd',
      'notes-template': renderNotesTemplate({ owner: OWNER, app: 'db', revision: 'r{1}', images: ['postgres:16'], trigger: 'manual' }),
    })
    await pve.waitTask(node, manual as never, { pollMs: 10 })

    const entries = backupEntries(await pve.storageContent(node, 'local', { content: 'backup' }) as never)
    expect(entries.map((e) => e.vmid).sort()).toEqual([105, 106])
    const byVmid = new Map(entries.map((e) => [e.vmid, e]))
    expect(parseBackupNotes(byVmid.get(105)!.notes)).toEqual({ owner: OWNER, policy: 'nightly', trigger: 'schedule', guest: 'web', vmid: 105 })
    expect(parseBackupNotes(byVmid.get(106)!.notes)).toEqual({ owner: OWNER, app: 'db', revision: 'r{1}', images: ['postgres:16'], trigger: 'manual' })

    const last = lastBackups(entries, [
      { kind: 'App', name: 'web', vmid: 105 },
      { kind: 'App', name: 'db', vmid: 106 },
    ], OWNER)
    expect(last.get('App/web')).toMatchObject({ vmid: 105, storage: 'local' })
    expect(last.get('App/db')).toMatchObject({ vmid: 106, revision: 'r{1}' })
  })
})
