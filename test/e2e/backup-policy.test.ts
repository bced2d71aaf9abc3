/**
 * BackupPolicy end to end (issue 11): the real CLI against the real simulator, checked through
 * the real proxmox-api client. The policy becomes a native backup job that follows its selector
 * and the apps as they come; a job Proximity did not create survives `apply --prune`;
 * `backup now` writes a vzdump whose notes name the app and revision, and `backup list` shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { normalizePruneBackups, normalizeVmids } from '../../controllers/backup-policy/plan.js'
import { backupJobId } from '../../controllers/backup-policy/desired.js'
import { parseBackupNotes } from '../../src/model/backup-notes.js'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

const OWNER = 'e2e'
const JOB = backupJobId(OWNER, 'nightly')

function labelledApp(name: string, labels: Record<string, string>): string {
  return [
    'apiVersion: proximity/v1alpha1',
    'kind: App',
    'metadata:',
    `  name: ${name}`,
    ...(Object.keys(labels).length > 0 ? ['  labels:', ...Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`)] : []),
    'spec:',
    '  source:',
    '    compose:',
    '      services:',
    '        web:',
    '          image: traefik/whoami:v1.10.3',
    '          ports: ["80:80"]',
    '  resources: {cores: 1, memory: 256, disk: 2}',
    '  health:',
    '    tcp: {port: 80}',
    '  deletionPolicy: Delete',
    '',
  ].join('\n')
}

function policy(selector: string[]): string {
  return [
    'apiVersion: proximity/v1alpha1',
    'kind: BackupPolicy',
    'metadata:',
    '  name: nightly',
    'spec:',
    '  schedule: "mon..fri 22:30"',
    '  selector:',
    ...selector.map((l) => `    ${l}`),
    '  storage: local',
    '  mode: snapshot',
    '  compress: zstd',
    '  retention: {keepLast: 3, keepDaily: 7}',
    '',
  ].join('\n')
}

interface AppItem {
  name: string
  inventory?: { vmid?: number }
}

describe('BackupPolicy → Proxmox backup job, through the CLI', () => {
  let sim: RunningSimulator
  let pve: PveHttpClient
  let work: { dir: string; cleanup: () => Promise<void> }
  let apps: string
  let policies: string
  let args: string[]
  let stateDir: string

  const vmids = async (): Promise<Record<string, number>> => {
    const r = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    return Object.fromEntries((JSON.parse(r.stdout) as { items: AppItem[] }).items.map((i) => [i.name, i.inventory?.vmid as number]))
  }
  const ourJob = async (): Promise<Record<string, unknown> | undefined> => (await pve.listBackupJobs()).find((j) => j.id === JOB)
  let lastApply = ''
  const apply = async (...extra: string[]): Promise<void> => {
    const r = await runCli(['apply', ...args, ...extra], { cwd: work.dir })
    lastApply = r.stdout + r.stderr
    expect(r.code, lastApply).toBe(0)
    expect(r.stderr).not.toMatch(/no controller/)
  }

  beforeAll(async () => {
    sim = await startSim()
    pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim, { owner: OWNER })
    apps = join(work.dir, 'apps')
    policies = join(work.dir, 'policies')
    await mkdir(apps, { recursive: true })
    await mkdir(policies, { recursive: true })
    await writeFile(join(apps, 'web.yaml'), labelledApp('web', { backup: 'nightly' }))
    await writeFile(join(apps, 'db.yaml'), labelledApp('db', {}))
    await writeFile(join(policies, 'nightly.yaml'), policy(['matchLabels: {backup: nightly}']))
    stateDir = join(work.dir, 'state')
    args = ['-f', clusterDir, '-f', apps, '-f', policies, '--state-dir', stateDir]
    // A job someone made by hand in Proxmox, backing up everything on Sundays.
    await pve.createBackupJob({ id: 'handmade', schedule: 'sun 01:00', all: 1, storage: 'local', comment: 'made by a person' })
  })
  afterAll(async () => {
    await pve?.close()
    await sim?.stop()
    await work?.cleanup()
  })

  it('apply creates the job with the schedule, vmids, storage, mode and retention, and then plans nothing', async () => {
    // Before the apps exist, plan already shows the job to come, its guests known after apply.
    const before = await runCli(['plan', '-o', 'json', ...args], { cwd: work.dir })
    const planned = (JSON.parse(before.stdout) as { changes: { key: string; action: string; fields: { path: string; after?: unknown }[] }[] }).changes.find((c) => c.key === 'BackupPolicy/nightly')
    expect(planned?.action).toBe('create')
    expect(planned?.fields.find((f) => f.path === 'selector')?.after).toBe('(known after apply: web)')
    await apply()
    const ids = await vmids()
    const job = await ourJob()
    expect(job, lastApply).toBeDefined()
    expect(job).toMatchObject({ schedule: 'mon..fri 22:30', storage: 'local', mode: 'snapshot', compress: 'zstd' })
    expect(normalizeVmids(job!.vmid)).toEqual([ids.web])
    expect(normalizePruneBackups(job!['prune-backups'])).toBe('keep-daily=7,keep-last=3')
    expect(Number(job!.enabled ?? 1)).toBe(1)

    const p = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stdout + p.stderr).toBe(0)
    expect(p.stderr).not.toMatch(/no controller/)
    const st = await runCli(['get', 'backuppolicies', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    const item = (JSON.parse(st.stdout) as { items: { name: string; inventory?: Record<string, unknown>; extra?: Record<string, unknown> }[] }).items[0]!
    expect(item.inventory?.jobId).toBe(JOB)
  })

  it('labelling another app shows a field-by-field update and moves its vmid into the job', async () => {
    await writeFile(join(apps, 'db.yaml'), labelledApp('db', { backup: 'nightly' }))
    const p = await runCli(['plan', '-o', 'json', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(2)
    const plan = JSON.parse(p.stdout) as { changes: { key: string; action: string; fields: { path: string }[] }[] }
    const change = plan.changes.find((c) => c.key === 'BackupPolicy/nightly')
    expect(change?.action).toBe('update')
    expect(change?.fields.map((f) => f.path)).toEqual(['selector'])
    await apply()
    const ids = await vmids()
    expect(normalizeVmids((await ourJob())!.vmid)).toEqual([ids.web, ids.db].sort((a, b) => a - b))
  })

  it('a labelled app created in the same apply joins the job (the policy is queued again)', async () => {
    await writeFile(join(apps, 'cache.yaml'), labelledApp('cache', { backup: 'nightly' }))
    await apply()
    const ids = await vmids()
    expect(ids.cache).toBeGreaterThan(0)
    expect(normalizeVmids((await ourJob())!.vmid)).toEqual([ids.web, ids.db, ids.cache].sort((a, b) => a - b))
  })

  it('changing the selector to a list of apps updates the job', async () => {
    await writeFile(join(policies, 'nightly.yaml'), policy(['apps: [web]']))
    await apply()
    const ids = await vmids()
    expect(normalizeVmids((await ourJob())!.vmid)).toEqual([ids.web])
  })

  it('backup now writes a vzdump whose notes name the app and its revision, and backup list shows it', async () => {
    const ids = await vmids()
    const r = await runCli(['backup', 'now', 'web', '--wait', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const volid = /backed up to (\S+)/.exec(r.stdout)?.[1]
    expect(volid).toMatch(new RegExp(`^local:backup/vzdump-lxc-${ids.web}-`))

    const content = await pve.storageContent(sim.nodes[0]!, 'local', { content: 'backup' })
    const item = content.find((c) => c.volid === volid)!
    const notes = parseBackupNotes(item.notes)
    const status = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    const web = (JSON.parse(status.stdout) as { items: { name: string; lastAppliedRevision?: string }[] }).items.find((i) => i.name === 'web')!
    expect(notes).toMatchObject({ owner: OWNER, app: 'web', trigger: 'manual', images: ['traefik/whoami:v1.10.3'] })
    expect(notes?.revision).toBe(web.lastAppliedRevision)

    const list = await runCli(['backup', 'list', 'web', '-o', 'json', ...args], { cwd: work.dir })
    expect(list.code, list.stderr).toBe(0)
    const listed = JSON.parse(list.stdout) as { items: { app: string; volid: string; revision?: string; trigger?: string }[]; uncovered: string[] }
    expect(listed.items).toEqual([expect.objectContaining({ app: 'web', volid, revision: web.lastAppliedRevision, trigger: 'manual' })])
    const table = await runCli(['backup', 'list', ...args], { cwd: work.dir })
    expect(table.stdout).toContain(volid)
    expect(table.stderr).toMatch(/not covered by any BackupPolicy: App\/cache, App\/db/)
  })

  it('backup now refuses an unknown app and starts nothing', async () => {
    sim.log.clear()
    const r = await runCli(['backup', 'now', 'web', 'nope', ...args], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/no App "nope"/)
    expect(sim.log.mutating().map((e) => e.route)).not.toContain('/nodes/{node}/vzdump')
  })

  it('removing the policy and apply --prune deletes only our job; the handmade job survives', async () => {
    await rm(join(policies, 'nightly.yaml'))
    const withoutPolicies = args.filter((a, i) => a !== policies && !(a === '-f' && args[i + 1] === policies))
    const p = await runCli(['plan', '--prune', '--allow-missing-files', ...withoutPolicies], { cwd: work.dir })
    expect(p.stdout, p.stderr).toMatch(/BackupPolicy\/nightly/)
    const r = await runCli(['apply', '--prune', '--yes', '--allow-missing-files', ...withoutPolicies], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const jobs = await pve.listBackupJobs()
    expect(jobs.map((j) => j.id)).toEqual(['handmade'])
    expect(jobs[0]).toMatchObject({ schedule: 'sun 01:00', comment: 'made by a person' })
  })
})
