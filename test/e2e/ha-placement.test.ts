/**
 * `ha.enabled` and `placement.strategy: spread`, through the real CLI against the simulator over
 * HTTPS and SSH (issue 9 point 1: nothing accepted and then ignored).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, clusterChanges, guestsByApp, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

interface PlanJson {
  changes: { key: string; action: string; fields: { path: string; before: unknown; after: unknown; impact: string }[] }[]
}

/** appYaml plus extra `spec` lines (two-space indented under spec). */
const appWith = (name: string, extra: string[]): string => `${appYaml(name)}${extra.join('\n')}\n`

const clientOf = (sim: RunningSimulator): PveHttpClient =>
  createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })

/** A 3-node simulator and a scratch folder for one describe block, stopped and removed after it. */
function threeNodeWorkspace(): () => { sim: RunningSimulator; work: { dir: string; cleanup: () => Promise<void> } } {
  let sim: RunningSimulator | undefined
  let work: { dir: string; cleanup: () => Promise<void> } | undefined
  beforeAll(async () => {
    sim = await startSim({ nodes: 3 })
    work = await tempDir()
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })
  return () => ({ sim: sim!, work: work! })
}

describe('placement.strategy: spread within one apply', () => {
  const ws = threeNodeWorkspace()
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(() => {
    ;({ sim, work } = ws())
  })

  it('puts three new apps spread over three nodes on three different nodes', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    const placement = ['  placement:', `    nodes: [${sim.nodes.join(', ')}]`, '    strategy: spread']
    for (const n of ['one', 'two', 'three']) await writeFile(join(apps, `${n}.yaml`), appWith(n, placement))
    const args = ['-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]

    const p = await runCli(['plan', '-o', 'json', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(0)
    const fields = (JSON.parse(p.stdout) as PlanJson).changes.flatMap((c) => c.fields.filter((f) => f.path === 'placement'))
    expect(fields.map((f) => f.after)).toEqual(Array(3).fill(`spread over ${sim.nodes.join(', ')}`))

    const a = await runCli(['apply', ...args], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const byApp = guestsByApp(sim)
    const nodes = ['one', 'two', 'three'].map((n) => sim.guests().find((g) => g.vmid === byApp.get(n)?.[0])?.node)
    expect(sim.nodes).toHaveLength(3)
    expect(new Set(nodes)).toEqual(new Set(sim.nodes))
  })
})

describe('placement with a node offline', () => {
  const ws = threeNodeWorkspace()
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(() => {
    ;({ sim, work } = ws())
  })

  it('never places a new app on a node that is offline (spread nor pack)', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    const [first, second, third] = sim.nodes
    // Every node is empty: spread's tie-break by name and pack's first node would both be `first`.
    sim.faults.setNodeOffline(first, true)
    for (const [n, strategy] of [['four', 'spread'], ['five', 'pack']]) {
      await writeFile(join(apps, `${n}.yaml`), appWith(n, ['  placement:', `    nodes: [${sim.nodes.join(', ')}]`, `    strategy: ${strategy}`]))
    }
    const a = await runCli(['apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const byApp = guestsByApp(sim)
    const nodeOf = (n: string): string | undefined => sim.guests().find((g) => g.vmid === byApp.get(n)?.[0])?.node
    expect([second, third]).toContain(nodeOf('four'))
    expect(nodeOf('five')).toBe(second)
  })

  it('placement over nodes the cluster does not have stalls with the cluster\'s node names, creating nothing', async () => {
    const apps = join(work.dir, 'nowhere')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'lost.yaml'), appWith('lost', ['  placement:', '    nodes: [pve7, pve8]']))
    const a = await runCli(['apply', '-f', apps, '-f', join(work.dir, 'cluster'), '--state-dir', join(work.dir, 'state-nowhere')], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(1)
    expect(a.stdout).toContain(`App/lost: UnknownNode: no node of placement.nodes (pve7, pve8) is in the cluster; its nodes are ${sim.nodes.join(', ')}: fix placement.nodes`)
    expect(guestsByApp(sim).has('lost')).toBe(false)
  })
})

describe('ha.enabled', () => {
  let sim: RunningSimulator
  let pve: PveHttpClient
  let work: { dir: string; cleanup: () => Promise<void> }
  let apps: string
  let args: string[]

  const haOf = async (vmid: number) => (await pve.haResources()).find((r) => r.sid === `ct:${vmid}`)
  const vmidOf = (name: string): number => {
    const ids = guestsByApp(sim).get(name)
    expect(ids, name).toHaveLength(1)
    return ids![0]
  }
  const write = (name: string, extra: string[]): Promise<void> => writeFile(join(apps, `${name}.yaml`), appWith(name, extra))
  const planOf = async (): Promise<PlanJson> => {
    const p = await runCli(['plan', '-o', 'json', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(0)
    return JSON.parse(p.stdout) as PlanJson
  }
  const apply = async (...extra: string[]): Promise<string> => {
    const a = await runCli(['apply', ...extra, ...args], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    return a.stdout
  }

  beforeAll(async () => {
    sim = await startSim({ nodes: 2 })
    pve = clientOf(sim)
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    args = ['-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('creates the HA resource with the app, shows it in the plan, and then stays at zero writes', async () => {
    await write('web', ['  ha:', '    enabled: true'])
    const text = await runCli(['plan', ...args], { cwd: work.dir })
    expect(text.stdout).toMatch(/ha\.enabled/)
    const created = (await planOf()).changes.find((c) => c.key === 'App/web')
    expect(created?.action).toBe('create')
    expect(created?.fields.find((f) => f.path === 'ha.enabled')).toMatchObject({ after: true, impact: 'live' })

    await apply()
    const vmid = vmidOf('web')
    const ha = await haOf(vmid)
    expect(ha).toMatchObject({ sid: `ct:${vmid}`, state: 'started' })
    expect(ha?.comment).toMatch(/^proximity:managed \{"kind":"App","name":"web","owner":"proximity"/)
    expect(sim.guests().find((g) => g.vmid === vmid)?.status).toBe('running')

    const again = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(again.code, again.stdout).toBe(0)
    sim.log.clear()
    await apply()
    expect(clusterChanges(sim)).toEqual([])
    // HA is read from the snapshot's hastate: no HA list, no config read for a converged HA app.
    const reads = sim.log.entries().filter((e) => e.method === 'GET').map((e) => e.route)
    expect(reads.filter((r) => r.startsWith('/cluster/ha') || r.endsWith('/config'))).toEqual([])
  })

  it('makes the HA state follow spec.state', async () => {
    const vmid = vmidOf('web')
    await write('web', ['  state: stopped', '  ha:', '    enabled: true'])
    await apply()
    expect((await haOf(vmid))?.state).toBe('stopped')
    expect(sim.guests().find((g) => g.vmid === vmid)?.status).toBe('stopped')
    await write('web', ['  ha:', '    enabled: true'])
    await apply()
    expect((await haOf(vmid))?.state).toBe('started')
    expect(sim.guests().find((g) => g.vmid === vmid)?.status).toBe('running')
  })

  it('an HA resource moved to stopped behind our back is planned and set back to started', async () => {
    const vmid = vmidOf('web')
    await pve.updateHaResource(`ct:${vmid}`, { state: 'stopped' })
    const change = (await planOf()).changes.find((c) => c.key === 'App/web')
    expect(change?.action).toBe('update')
    expect(change?.fields.map((f) => f.path)).toEqual(['ha.enabled'])
    await apply()
    expect((await haOf(vmid))?.state).toBe('started')
  })

  it('ha.enabled removed: the resource Proximity added goes, and only that one', async () => {
    const vmid = vmidOf('web')
    await write('web', [])
    const change = (await planOf()).changes.find((c) => c.key === 'App/web')
    expect(change?.fields.find((f) => f.path === 'ha.enabled')).toMatchObject({ before: true, after: false, impact: 'live' })
    await apply()
    expect(await haOf(vmid)).toBeUndefined()
    expect(sim.guests().find((g) => g.vmid === vmid)?.status).toBe('running')

    // A resource an administrator adds by hand to an app without ha.enabled is not ours to remove.
    await pve.createHaResource({ sid: `ct:${vmid}`, state: 'started', comment: 'added by the admin' })
    const p = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stdout).toBe(0)
    sim.log.clear()
    await apply()
    expect(clusterChanges(sim)).toEqual([])
    expect((await haOf(vmid))?.comment).toBe('added by the admin')
    await pve.deleteHaResource(`ct:${vmid}`)
  })

  it('a lost answer to the HA create is not a failure: the retry finds our resource and converges', async () => {
    await write('retry', ['  ha:', '    enabled: true'])
    sim.faults.add({ method: 'POST', route: '/cluster/ha/resources', action: { type: 'drop' }, afterHandler: true, count: 1 })
    sim.log.clear()
    await apply()
    // The first POST created the resource but its answer was lost; the retry was told "already defined".
    expect(sim.log.entries().filter((e) => e.method === 'POST' && e.route === '/cluster/ha/resources').length).toBeGreaterThanOrEqual(2)
    const vmid = vmidOf('retry')
    expect((await pve.haResources()).filter((r) => r.sid === `ct:${vmid}`)).toHaveLength(1)
    expect((await haOf(vmid))?.comment).toMatch(/"name":"retry"/)
    const again = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(again.code, again.stdout).toBe(0)
  })

  it('deleting the app takes its guest out of HA before destroying it', async () => {
    await write('gone', ['  ha:', '    enabled: true'])
    await apply()
    const vmid = vmidOf('gone')
    expect(await haOf(vmid)).toBeDefined()
    await rm(join(apps, 'gone.yaml'))
    sim.log.clear()
    await apply('--prune', '--allow-missing-files', '--yes')
    expect(guestsByApp(sim).get('gone')).toBeUndefined()
    expect(await haOf(vmid)).toBeUndefined()
    const order = clusterChanges(sim).map((e) => `${e.method} ${e.route}`)
    const haDelete = order.indexOf('DELETE /cluster/ha/resources/{sid}')
    const destroy = order.indexOf('DELETE /nodes/{node}/lxc/{vmid}')
    expect(haDelete).toBeGreaterThanOrEqual(0)
    expect(destroy).toBeGreaterThan(haDelete)
  })
})
