/**
 * Backup status budget (issue 11, DESIGN §8), against the real simulator through the real CLI
 * code: 100 converged apps under one BackupPolicy (its job created by a real `apply`), then one
 * steady resync pass of every object. Budget: 1 snapshot read (`/cluster/resources`) plus one
 * content listing per backup storage, 0 writes, 0 SSH sessions — whatever the number of apps.
 * Writes bench/results/backup-steady.{json,md}.
 * Run alone: `npm run build && node dist/bench/backup-steady.js`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../src/cli/main.js'
import { benchAppDoc, writeBenchCluster } from './fixtures.js'
import { openEngine } from '../src/engine/open.js'
import { createPathsSource } from '../src/engine/sources/paths.js'
import { packageRoot } from '../src/model/paths.js'
import { startSimulator } from '../src/sim/index.js'

export interface BackupSteadyResult {
  apps: number
  backupStorages: number
  apiReads: number
  readsByRoute: Record<string, number>
  apiWrites: number
  sshSessions: number
  budgetReads: number
  withinBudget: boolean
  applyMs: number
}

const APPS = 100

const POLICY = [
  'apiVersion: proximity/v1alpha1',
  'kind: BackupPolicy',
  'metadata: {name: nightly}',
  'spec:',
  '  schedule: "*-*-* 03:00"',
  '  selector: {matchLabels: {backup: nightly}}',
  '  storage: local',
  '  retention: {keepLast: 3, keepDaily: 7}',
  // Restore drills configured but none due: a steady pass must cost nothing more for them.
  '  verify: {schedule: "sun 04:00"}',
  '',
].join('\n')

/** Converges the apps and the policy, then measures one steady resync pass. */
export async function run(): Promise<BackupSteadyResult> {
  const work = await mkdtemp(join(tmpdir(), 'proximity-bench-backup-'))
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, sshPort: 0, taskLatencyMs: 1 })
  try {
    const dir = join(work, 'm')
    await writeBenchCluster(dir, sim, 16)
    await writeFile(join(dir, 'apps.yaml'), Array.from({ length: APPS }, (_, i) => benchAppDoc(`app-${String(i).padStart(4, '0')}`, { backup: 'nightly' })).join('---\n'))
    await writeFile(join(dir, 'policy.yaml'), POLICY)
    const stateDir = join(work, 'state')
    const home = join(work, 'home')
    const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), stdin: new PassThrough(), env: { PATH: process.env.PATH, HOME: home }, cwd: work })
    const t0 = performance.now()
    const code = await main(['apply', '-f', dir, '--state-dir', stateDir, '--parallelism', '32', '-o', 'json'], io())
    const applyMs = Math.round(performance.now() - t0)
    if (code !== 0) throw new Error('apply of the bench apps and policy failed')

    const source = createPathsSource({ paths: [dir], cwd: work })
    const initial = await source.load()
    if (!initial.ok) throw new Error('bench manifests failed to load')
    const session = await openEngine({ source, initial, stateDir, env: { HOME: home }, cwd: work, announce: () => {} })
    try {
      const sshBefore = session.shells.sessionsOpened()
      sim.log.clear()
      // A steady one-shot pass over every object (plan observes, apply finds nothing to do).
      const keys = [...session.current().set.apps, ...session.current().set.backupPolicies].map((m) => `${m.kind}/${m.metadata.name}`)
      const outcomes = (await session.apply({ keys })).outcomes
      for (const k of keys) if (!outcomes.has(k)) outcomes.set(k, { key: k, result: session.store.getStatus(k)?.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady', reason: '', message: '', attempts: 0, changed: [] })
      const notReady = [...outcomes.values()].filter((o) => o.result !== 'Ready')
      if (notReady.length > 0) throw new Error(`${notReady.length} objects not Ready in the steady pass: ${notReady[0]!.key} ${notReady[0]!.message}`)
      const entries = sim.log.entries()
      const reads = entries.filter((e) => e.method === 'GET')
      const readsByRoute: Record<string, number> = {}
      for (const e of reads) readsByRoute[e.route] = (readsByRoute[e.route] ?? 0) + 1
      const apiWrites = entries.filter((e) => e.method !== 'GET' && e.method !== 'SSH').length
      const sshSessions = session.shells.sessionsOpened() - sshBefore
      const backupStorages = 1
      const budgetReads = 1 + backupStorages
      const result: BackupSteadyResult = {
        apps: APPS,
        backupStorages,
        apiReads: reads.length,
        readsByRoute,
        apiWrites,
        sshSessions,
        budgetReads,
        withinBudget: reads.length <= budgetReads && apiWrites === 0 && sshSessions === 0,
        applyMs,
      }
      await writeResults(result)
      return result
    } finally {
      await session.close()
    }
  } finally {
    await sim.stop()
    await rm(work, { recursive: true, force: true })
  }
}

async function writeResults(r: BackupSteadyResult): Promise<void> {
  const dir = join(packageRoot(), 'bench', 'results')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'backup-steady.json'), `${JSON.stringify(r, null, 2)}\n`)
  const md = [
    '# Backup status budget',
    '',
    `Node ${process.version}, ${new Date().toISOString()}.`,
    '',
    `Steady resync of ${r.apps} apps under one BackupPolicy with restore drills configured, none due (budget: 1 snapshot read + 1 content listing per backup storage = ${r.budgetReads} reads, 0 writes, 0 SSH sessions).`,
    '',
    '| apps | backup storages | API reads | API writes | SSH sessions | within budget |',
    '|---:|---:|---:|---:|---:|:--|',
    `| ${r.apps} | ${r.backupStorages} | ${r.apiReads} | ${r.apiWrites} | ${r.sshSessions} | ${r.withinBudget ? 'yes' : 'NO'} |`,
    '',
    `Reads by route: ${Object.entries(r.readsByRoute).map(([k, v]) => `\`${k}\` ×${v}`).join(', ')}.`,
    '',
    `Setup: apply of ${r.apps} apps + the policy with 1 ms tasks took ${r.applyMs} ms.`,
    '',
  ].join('\n')
  await writeFile(join(dir, 'backup-steady.md'), md)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
