/**
 * Convergence through the real CLI against the real simulator: the homelab example becomes
 * Ready, a second plan reports no changes (exit 0 with --detailed-exitcode), a second apply
 * sends no mutating request, and the read commands show what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { packageRoot } from '../../src/model/paths.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { clusterChanges, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

describe('apply examples/homelab', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let clusterDir: string
  const homelab = join(packageRoot(), 'examples', 'homelab')
  const args = (): string[] => ['-f', homelab, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    clusterDir = await writeClusterManifest(work.dir, sim)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('converges every app to Ready on a fresh cluster', async () => {
    const r = await runCli(['apply', ...args()], { cwd: work.dir })
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // never a stack trace
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Apply complete: \d+ added, 0 changed, 0 destroyed; all \d+ apps? Ready/)
    const get = await runCli(['get', 'apps', '-o', 'json', '--state-dir', join(work.dir, 'state')], { cwd: work.dir })
    expect(get.code).toBe(0)
    const items = (JSON.parse(get.stdout) as { items: { name: string; conditions: { type: string; status: string }[]; inventory?: { vmid?: number } }[] }).items
    expect(items.length).toBeGreaterThan(0)
    for (const it of items) {
      expect(it.conditions.find((c) => c.type === 'Ready')?.status, it.name).toBe('True')
      expect(it.inventory?.vmid, it.name).toBeGreaterThanOrEqual(1000)
    }
    // exactly one guest per app
    const vmids = new Set(items.map((i) => i.inventory?.vmid))
    expect(sim.guests().filter((g) => vmids.has(g.vmid))).toHaveLength(items.length)
    // the audit log names the object and the step of every mutating call, once per call
    const { readFile } = await import('node:fs/promises')
    const audit = (await readFile(join(work.dir, 'state', 'audit.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action: string; key?: string; revision?: string; result: string })
    const creates = audit.filter((a) => a.action === 'POST /nodes/{node}/lxc')
    // one guest per app, plus the example's network appliance
    expect(creates).toHaveLength(items.length + 1)
    // the example's BackupPolicy became one native backup job, audited under its own key
    expect(audit.filter((a) => a.action === 'POST /cluster/backup').map((a) => a.key)).toEqual(['BackupPolicy/nightly'])
    for (const a of audit) {
      expect(a.key, a.action).toMatch(/^(App|Appliance|BackupPolicy)\//)
      expect(a.revision).toMatch(/@sha(1|256):/)
    }
    expect(JSON.stringify(audit)).not.toContain(sim.tokenSecret)
  })

  it('plans no changes afterwards (detailed exit code 0), reading only', async () => {
    sim.log.clear()
    const r = await runCli(['plan', '--detailed-exitcode', ...args()], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('No changes.')
    expect(sim.log.mutating()).toEqual([])
    expect(sim.log.entries().filter((e) => e.route === '/cluster/resources')).toHaveLength(1)
  })

  it('a second apply sends no mutating request and runs no node command', async () => {
    sim.log.clear()
    const r = await runCli(['apply', ...args()], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Apply complete: 0 added, 0 changed, 0 destroyed/)
    expect(clusterChanges(sim)).toEqual([])
    expect(sim.log.entries().filter((e) => e.method === 'SSH')).toEqual([])
  })

  it('shows the apps in get (table), describe and events', async () => {
    const sd = ['--state-dir', join(work.dir, 'state')]
    const table = await runCli(['get', 'apps', ...sd], { cwd: work.dir })
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+READY\s+STATUS\s+STATE\s+NODE\s+VMID\s+ADDRESS\s+OBSERVED\s+AGE$/)
    const first = table.stdout.split('\n')[1].split(/\s+/)[0]
    expect(table.stdout).toMatch(/\bTrue\b/)
    const d = await runCli(['describe', 'app', first, ...sd], { cwd: work.dir })
    expect(d.code).toBe(0)
    expect(d.stdout).toContain(`Name:`)
    expect(d.stdout).toMatch(/Conditions:\n\s+TYPE\s+STATUS/)
    expect(d.stdout).toMatch(/Ready\s+True/)
    const y = await runCli(['get', 'apps', '-o', 'yaml', ...sd], { cwd: work.dir })
    const { parse } = await import('yaml')
    expect((parse(y.stdout) as { kind: string; items: unknown[] }).kind).toBe('AppList')
    const wide = await runCli(['get', 'apps', '-o', 'wide', ...sd], { cwd: work.dir })
    expect(wide.stdout.split('\n')[0]).toMatch(/OBSERVED\s+AGE\s+REVISION$/)
    const ev = await runCli(['events', '--for', `App/${first}`, '-o', 'json', ...sd], { cwd: work.dir })
    expect(ev.code).toBe(0)
    expect(Array.isArray(JSON.parse(ev.stdout))).toBe(true)
  })

  it('get and describe of an unknown app exit 1 with a hint', async () => {
    const sd = ['--state-dir', join(work.dir, 'state')]
    const g = await runCli(['get', 'apps', 'nope', ...sd], { cwd: work.dir })
    expect(g.code).toBe(1)
    expect(g.stderr).toContain('App "nope" not found')
    const d = await runCli(['describe', 'app', 'nope', ...sd], { cwd: work.dir })
    expect(d.code).toBe(1)
    const bad = await runCli(['get', 'aps', ...sd], { cwd: work.dir })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('did you mean "apps"')
  })

  it('plan of an invalid manifest prints located errors and exits 1 without contacting Proxmox', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises')
    const bad = join(work.dir, 'bad')
    await mkdir(bad, { recursive: true })
    await writeFile(join(bad, 'app.yaml'), 'apiVersion: proximity/v1alpha1\nkind: App\nmetadata:\n  name: Bad_Name\nspec: {}\n')
    sim.log.clear()
    const r = await runCli(['plan', '-f', bad, '-f', clusterDir, '--state-dir', join(work.dir, 'state')], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/app\.yaml:\d+:\d+: /)
    expect(sim.log.entries()).toEqual([])
  })
})
