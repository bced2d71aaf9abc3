/**
 * Drift by another client, migration, prune with deletionPolicy, foreign guests and the
 * mass-delete guard — all through the real CLI against the real simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, clusterChanges, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

interface PlanJson {
  changes: { key: string; action: string; fields: { path: string }[] }[]
  summary: { add: number; change: number; destroy: number }
}

interface AppItem {
  name: string
  inventory?: { vmid?: number; node?: string }
}

async function vmidsOf(stateDir: string, cwd: string): Promise<Record<string, number>> {
  const r = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd })
  const items = (JSON.parse(r.stdout) as { items: AppItem[] }).items
  return Object.fromEntries(items.map((i) => [i.name, i.inventory?.vmid as number]))
}

describe('drift by another client', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let stateDir: string

  beforeAll(async () => {
    sim = await startSim({ nodes: 2 })
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    for (const n of ['alpha', 'bravo', 'charlie']) await writeFile(join(apps, `${n}.yaml`), appYaml(n, { memory: 256, cores: 1 }))
    stateDir = join(work.dir, 'state')
    args = ['-f', apps, '-f', clusterDir, '--state-dir', stateDir]
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('plans exactly the drifted fields, and one apply fixes them', async () => {
    const ids = await vmidsOf(stateDir, work.dir)
    const bravo = sim.guests().find((g) => g.vmid === ids.bravo)!
    sim.faults.editGuest(ids.alpha, { memory: 1024, cores: 2 })
    sim.faults.editGuest(ids.bravo, { tags: `${bravo.tags ?? ''};handmade` })
    sim.faults.setGuestStatus(ids.charlie, 'stopped')

    const p = await runCli(['plan', '-o', 'json', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(2)
    const plan = JSON.parse(p.stdout) as PlanJson
    const byKey = Object.fromEntries(plan.changes.map((c) => [c.key, c]))
    expect(Object.keys(byKey).sort()).toEqual(['App/alpha', 'App/bravo', 'App/charlie'])
    for (const c of plan.changes) expect(c.action, c.key).toBe('update')
    const paths = (k: string): string[] => byKey[k].fields.map((f) => f.path)
    expect(paths('App/alpha')).toHaveLength(2)
    expect(paths('App/alpha').join(' ')).toMatch(/memory/)
    expect(paths('App/alpha').join(' ')).toMatch(/cores/)
    expect(paths('App/bravo')).toHaveLength(1)
    expect(paths('App/bravo')[0]).toMatch(/tags/)
    expect(paths('App/charlie')).toHaveLength(1)
    expect(paths('App/charlie')[0]).toMatch(/state/)

    sim.log.clear()
    const a = await runCli(['apply', ...args], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    expect(a.stdout).toMatch(/0 added, 3 changed, 0 destroyed/)
    expect(sim.log.mutating().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc')).toEqual([])
    const after = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(after.code, after.stdout).toBe(0)
    const g = sim.guests()
    expect(g.find((x) => x.vmid === ids.alpha)?.config.memory).toBe(256)
    expect(g.find((x) => x.vmid === ids.charlie)?.status).toBe('running')
  })

  it('a migrated guest is the same guest: updated in place, never re-created', async () => {
    const ids = await vmidsOf(stateDir, work.dir)
    const before = sim.guests().find((g) => g.vmid === ids.alpha)!
    const other = sim.nodes.find((n) => n !== before.node)!
    sim.faults.migrateGuest(ids.alpha, other)
    const p = await runCli(['plan', '-o', 'json', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(0)
    const plan = JSON.parse(p.stdout) as PlanJson
    expect(plan.summary.add).toBe(0)
    expect(plan.summary.destroy).toBe(0)
    sim.log.clear()
    const a = await runCli(['apply', ...args], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    expect(sim.log.mutating().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc')).toEqual([])
    expect(sim.guests().filter((g) => g.vmid === ids.alpha).map((g) => g.node)).toEqual([other])
    expect((await vmidsOf(stateDir, work.dir)).alpha).toBe(ids.alpha)
  })
  it('reports a refused change with its reason and exits 1 (Stalled, not retried)', async () => {
    await writeFile(join(work.dir, 'apps', 'bravo.yaml'), appYaml('bravo', { memory: 256, cores: 1 }).replace('disk: 2', 'disk: 1'))
    sim.log.clear()
    // plan says what apply will do: refuse, with the reason; still a difference (exit 2).
    const p = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(2)
    expect(p.stdout).toContain('  # App/bravo is refused: apply will not change it')
    expect(p.stdout).toMatch(/~ resources\.disk: 2Gi -> 1Gi # live; refused: proxmox only grows disks/)
    expect(p.stdout).toContain('Plan: 0 to add, 0 to change, 0 to destroy, 1 refused.')
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/Apply finished with errors: .*; 2 of 3 apps Ready/)
    expect(r.stdout).toMatch(/App\/bravo: DiskShrinkRefused: cannot shrink disk/)
    expect(sim.log.mutating().filter((e) => e.path.includes('resize'))).toEqual([])
    const get = await runCli(['get', 'apps', 'bravo', '--state-dir', stateDir], { cwd: work.dir })
    expect(get.stdout).toMatch(/bravo\s+False\s+DiskShrinkRefused/)
    await writeFile(join(work.dir, 'apps', 'bravo.yaml'), appYaml('bravo', { memory: 256, cores: 1 }))
    const fixed = await runCli(['apply', ...args], { cwd: work.dir })
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0)
  })
})

describe('prune', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let apps: string
  let args: string[]
  let stateDir: string
  let clusterDir: string
  const FOREIGN = 990
  const OTHER_OWNER = 991

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    clusterDir = await writeClusterManifest(work.dir, sim, { deleteThreshold: 3 })
    apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    const policies: Record<string, string> = { gone: 'Delete', kept: 'Retain', saved: 'Backup', stay1: 'Delete', stay2: 'Delete' }
    for (const [n, p] of Object.entries(policies)) await writeFile(join(apps, `${n}.yaml`), appYaml(n, { deletionPolicy: p }))
    stateDir = join(work.dir, 'state')
    args = ['-f', apps, '-f', clusterDir, '--state-dir', stateDir]
    sim.seedGuest({ vmid: FOREIGN, config: { hostname: 'foreign', memory: 512, tags: 'proximity', description: 'made by hand\n' }, status: 'running' })
    sim.seedGuest({
      vmid: OTHER_OWNER,
      config: {
        hostname: 'gone',
        memory: 512,
        tags: 'proximity',
        description: 'proximity:managed {"kind":"App","name":"gone","owner":"another-install","specHash":"x"}\n',
      },
      status: 'running',
    })
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('deletes only our orphans, honouring deletionPolicy, and never a foreign guest', async () => {
    const ids = await vmidsOf(stateDir, work.dir)
    for (const n of ['gone', 'kept', 'saved']) await rm(join(apps, `${n}.yaml`))
    const noPrune = await runCli(['apply', ...args], { cwd: work.dir })
    expect(noPrune.code).toBe(0)
    expect(sim.guests().map((g) => g.vmid)).toEqual(expect.arrayContaining([ids.gone, ids.kept, ids.saved]))

    // Their files were deleted while the folder is still given with -f: not pruned without a flag.
    sim.log.clear()
    const held = await runCli(['apply', '--prune', '--yes', ...args], { cwd: work.dir })
    expect(held.code).toBe(1)
    expect(held.stderr).toContain('warning: apps/gone.yaml held App/gone at the last apply and holds no manifest now (it no longer exists (deleted or renamed)); not pruning App/gone')
    expect(held.stderr).toContain('--allow-missing-files')
    expect(clusterChanges(sim)).toEqual([])

    sim.log.clear()
    const r = await runCli(['apply', '--prune', '--yes', '--allow-missing-files', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const vmids = sim.guests().map((g) => g.vmid)
    expect(vmids).not.toContain(ids.gone)
    expect(vmids).not.toContain(ids.saved)
    expect(vmids).toContain(ids.kept)
    expect(vmids).toEqual(expect.arrayContaining([FOREIGN, OTHER_OWNER, ids.stay1, ids.stay2]))
    // Backup policy: a final vzdump before the destroy
    expect(sim.log.entries().some((e) => e.method === 'POST' && e.route.includes('vzdump'))).toBe(true)
    // Retain: the guest is released (no longer ours) but keeps running
    const kept = sim.guests().find((g) => g.vmid === ids.kept)!
    expect(kept.status).toBe('running')
    expect(String(kept.config.description ?? '')).not.toContain('"owner":"proximity"')
    // foreign guests untouched
    const touched = sim.log.mutating().filter((e) => e.path.includes(`/${FOREIGN}`) || e.path.includes(`/${OTHER_OWNER}`))
    expect(touched).toEqual([])
  })

  it('refuses to delete every managed guest without --allow-mass-delete, and changes nothing', async () => {
    // Pointing -f at the cluster only (as if the apps folder was forgotten) would delete everything.
    const only = ['-f', clusterDir, '--state-dir', stateDir]
    sim.log.clear()
    const r = await runCli(['apply', '--prune', '--yes', ...only], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--allow-mass-delete')
    expect(clusterChanges(sim)).toEqual([])
    const ok = await runCli(['apply', '--prune', '--yes', '--allow-mass-delete', ...only], { cwd: work.dir })
    expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    expect(sim.guests().map((g) => g.vmid).sort()).toEqual(expect.arrayContaining([FOREIGN, OTHER_OWNER]))
  })
})

describe('prune never deletes because a file stopped being read', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let apps: string
  let args: string[]
  let stateDir: string

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'alpha.yaml'), appYaml('alpha'))
    await writeFile(join(apps, 'bravo.yaml'), appYaml('bravo'))
    await writeFile(join(apps, 'pair.yaml'), `${appYaml('charlie')}---\n${appYaml('delta')}`)
    stateDir = join(work.dir, 'state')
    args = ['-f', apps, '-f', clusterDir, '--state-dir', stateDir]
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('a manifest file rewritten as a compose file keeps its guest until --allow-missing-files; other prunes proceed', async () => {
    const ids = await vmidsOf(stateDir, work.dir)
    // bravo.yaml now holds only a compose file, which alpha reads through composeFile; delta is
    // removed from pair.yaml, which still holds charlie (an ordinary removal).
    await writeFile(join(apps, 'bravo.yaml'), 'services:\n  web:\n    image: traefik/whoami:v1.10.3\n    ports: ["80:80"]\n')
    await writeFile(join(apps, 'alpha.yaml'), appYaml('alpha').replace(/ {4}compose:\n(?: {6,}.*\n)+/, '    composeFile: bravo.yaml\n'))
    await writeFile(join(apps, 'pair.yaml'), appYaml('charlie'))

    const plan = await runCli(['plan', '--prune', '-o', 'json', ...args], { cwd: work.dir })
    expect(plan.code, plan.stderr).toBe(0)
    const planned = JSON.parse(plan.stdout) as PlanJson
    expect(planned.changes.filter((c) => c.action === 'delete').map((c) => c.key)).toEqual(['App/delta'])
    const why = 'apps/bravo.yaml held App/bravo at the last apply and holds no manifest now (it is now read as the compose file of App/alpha); not pruning App/bravo'
    expect(plan.stderr).toContain(`warning: ${why}`)

    sim.log.clear()
    const r = await runCli(['apply', '--prune', '--yes', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stderr).toContain(`warning: ${why}: restore the file, or re-run with --allow-missing-files if it should go`)
    expect(r.stdout).toMatch(/App\/bravo: PruneHeld: not pruned: its manifest file stopped being read/)
    expect(r.stdout).toMatch(/1 destroyed/)
    const vmids = sim.guests().map((g) => g.vmid)
    expect(vmids).toContain(ids.bravo)
    expect(vmids).not.toContain(ids.delta)
    expect(sim.log.mutating().filter((e) => e.path.includes(`/${ids.bravo}`))).toEqual([])

    // The record survives the refused run: the next prune still holds it.
    const again = await runCli(['apply', '--prune', '--yes', ...args], { cwd: work.dir })
    expect(again.code).toBe(1)
    expect(sim.guests().map((g) => g.vmid)).toContain(ids.bravo)

    const allowed = await runCli(['apply', '--prune', '--yes', '--allow-missing-files', ...args], { cwd: work.dir })
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0)
    expect(allowed.stderr).toContain('note: apps/bravo.yaml held App/bravo at the last apply')
    expect(sim.guests().map((g) => g.vmid)).not.toContain(ids.bravo)

    const after = await runCli(['apply', '--prune', '--yes', ...args], { cwd: work.dir })
    expect(after.code, after.stdout + after.stderr).toBe(0)
    expect(after.stderr).not.toContain('bravo')
  })
})
