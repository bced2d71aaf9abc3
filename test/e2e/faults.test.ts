/**
 * Faults through the real CLI: 5xx on writes, dropped connections (including lost responses of
 * successful creates), lock timeouts; concurrent applies; and kill -9 of a running apply.
 * The invariant everywhere: exactly one guest per app, no orphan, no duplicate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot } from '../../src/model/paths.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { buildCli, guestsByApp, runCli, startSim, tempDir, testHomeDir, writeApps, writeClusterManifest } from './helpers.js'

function expectOneGuestPerApp(sim: RunningSimulator, names: string[]): void {
  const by = guestsByApp(sim)
  for (const n of names) expect(by.get(n), `guests of ${n}`).toHaveLength(1)
  expect([...by.keys()].sort(), 'no orphan guests').toEqual([...names].sort())
}

const names = (n: number, prefix = 'app'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`)

describe('apply under injected faults', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(async () => {
    sim = await startSim({ taskLatencyMs: 5 })
    work = await tempDir()
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('converges 30 apps with exactly one guest each despite 5xx, drops and lock timeouts', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = await writeApps(work.dir, 30)
    for (const method of ['POST', 'PUT', 'DELETE']) {
      sim.faults.add({ method, route: '^/.*', action: { type: 'error', status: 500, message: 'simulated failure' }, probability: 0.1 })
    }
    sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc', action: { type: 'drop' }, afterHandler: true, count: 3 })
    sim.faults.add({ method: 'GET', route: '/cluster/resources', action: { type: 'drop' }, count: 2 })
    sim.faults.add({ method: 'PUT', route: '/nodes/{node}/lxc/{vmid}/config', action: { type: 'lockTimeout' }, count: 4 })
    sim.faults.add({ method: 'POST', route: '/nodes/{node}/lxc/{vmid}/status/start', action: { type: 'lockTimeout' }, count: 3 })
    const args = ['apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state'), '--parallelism', '16']
    let r = await runCli(args, { cwd: work.dir })
    // a second run is allowed to finish what retries could not within the first; never a third
    if (r.code !== 0) r = await runCli(args, { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // the faults really fired (the test is not vacuous)
    const failed = sim.log.entries().filter((e) => e.status >= 500 || e.status === 0)
    expect(failed.length).toBeGreaterThan(5)
    sim.faults.clear()
    expectOneGuestPerApp(sim, names(30))
    const plan = await runCli(['plan', '--detailed-exitcode', ...args.slice(1, 7)], { cwd: work.dir })
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
  })
})

describe('two concurrent applies', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(async () => {
    sim = await startSim({ taskLatencyMs: 150 })
    work = await tempDir()
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('never both act: one applies, the other fails naming the holder', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = await writeApps(work.dir, 4)
    const args = ['apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state'), '--lease-wait', '0s']
    const [a, b] = await Promise.all([runCli(args, { cwd: work.dir }), runCli(args, { cwd: work.dir })])
    const codes = [a.code, b.code].sort()
    expect(codes, a.stderr + b.stderr).toEqual([0, 1])
    const loser = a.code === 1 ? a : b
    expect(loser.stderr).toMatch(/another apply is running \(owner proximity apply by .+ pid \d+/)
    expect(sim.log.entries().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc')).toHaveLength(4)
    expectOneGuestPerApp(sim, names(4))
  })
  it('with --lease-wait the second apply waits for the first, then finds nothing to do', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = await writeApps(join(work.dir, 'wait'), 3, { prefix: 'wait' })
    const args = ['apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state-wait'), '--lease-wait', '60s']
    sim.log.clear()
    const first = runCli(args, { cwd: work.dir })
    await new Promise((r) => setTimeout(r, 300))
    const second = await runCli(args, { cwd: work.dir })
    const a = await first
    expect(a.code, a.stdout + a.stderr).toBe(0)
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(second.stderr).toMatch(/waiting up to 60s for another apply to finish \(owner proximity apply by /)
    expect(second.stdout).toMatch(/Apply complete: 0 added/)
    expect(sim.log.entries().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc')).toHaveLength(3)
    // the waiting run did not work from (or write back) a stale copy of the state
    const ev = await runCli(['events', '-o', 'json', '--state-dir', join(work.dir, 'state-wait')], { cwd: work.dir })
    const events = JSON.parse(ev.stdout) as { key: string; reason: string }[]
    for (const n of names(3, 'wait')) expect(events.filter((e) => e.key === `App/${n}` && e.reason === 'Applied'), n).toHaveLength(1)
  })
})

describe('kill -9 of a running apply', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  const root = packageRoot()

  beforeAll(async () => {
    // The child runs the built CLI.
    await buildCli()
    // slow enough that most kills land mid-apply (asserted below)
    sim = await startSim({ taskLatencyMs: 150 })
    work = await tempDir()
  }, 180_000)
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('a re-run after kills at random moments leaves no duplicate and no orphan', { timeout: 180_000 }, async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    // Every round adds apps, so each run has creates in flight when the kill lands (a converged
    // set would finish as a quick no-op and the kill would hit nothing).
    const total = (round: number): number => 8 + 3 * round
    const apps = await writeApps(work.dir, total(0))
    const args = [join(root, 'bin', 'proximity.js'), 'apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]
    let seed = 0x5eed
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const creates = (): number => sim.log.entries().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc').length
    let killedMidRun = 0
    for (let round = 0; round < 5; round++) {
      await writeApps(work.dir, total(round))
      const child = spawn(process.execPath, args, { cwd: work.dir, stdio: 'ignore', env: { PATH: process.env.PATH, HOME: testHomeDir() } })
      let gone = false
      const exited = new Promise<NodeJS.Signals | null>((r) =>
        child.once('exit', (_code, signal) => {
          gone = true
          r(signal)
        }),
      )
      // Kill relative to the run's own progress, not to the spawn: under CPU load the start-up
      // alone can take seconds. Wait for this run's first create request, then a random moment
      // within the next 800 ms (each round adds 3 apps, whose create → start → install → deploy
      // takes several 150 ms tasks, so the run is still busy then).
      const createsBefore = creates()
      while (!gone && creates() === createsBefore) await new Promise((r) => setTimeout(r, 10))
      await Promise.race([new Promise((r) => setTimeout(r, Math.floor(rand() * 800))), exited])
      child.kill('SIGKILL')
      if ((await exited) === 'SIGKILL') killedMidRun++
      // invariant after every crash: never two guests for one app
      for (const [name, vmids] of guestsByApp(sim)) expect(vmids, `after kill in round ${round}: ${name}`).toHaveLength(1)
    }
    const final = await new Promise<{ code: number; out: string }>((done) => {
      const child = spawn(process.execPath, args, { cwd: work.dir, env: { PATH: process.env.PATH, HOME: testHomeDir() } })
      // a hung run must fail the test with its output, not time it out silently
      const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.once('exit', () => clearTimeout(guard))
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      child.on('exit', (code) => done({ code: code ?? 1, out }))
    })
    expect(final.code, final.out).toBe(0)
    expect(killedMidRun, 'kills that interrupted a running apply').toBeGreaterThanOrEqual(3)
    expectOneGuestPerApp(sim, names(total(4)))
    expect(sim.guests().filter((g) => g.lock)).toEqual([])
  })
})
