/**
 * SIGTERM of a real `proximity serve` process while it creates several apps: it exits 0 within
 * its grace period, leaves no Proxmox task running and no guest locked, releases the lease, and
 * a restarted serve converges with exactly one guest per app.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/model/paths.js'
import { createPveClient } from '../../src/providers/proxmox/index.js'
import { openStateStore } from '../../src/store/state-store.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { buildCli, guestsByApp, runCli, startSim, tempDir, writeApps, writeClusterManifest } from './helpers.js'
import { startServe, until } from './serve-helpers.js'

describe('serve shutdown', () => {
  // each test has its own simulator and folder (an interrupted test leaves tasks behind)
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  const root = packageRoot()

  beforeAll(async () => {
    // The child runs the built CLI.
    await buildCli('src/cli/commands/serve.js')
  }, 180_000)
  beforeEach(async () => {
    sim = await startSim({ taskLatencyMs: 150 })
    work = await tempDir()
  })
  afterEach(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  /** Starts `serve` as a real process; resolves its output and exit once it exits. */
  function spawnServe(args: string[]): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
    const child = spawn(process.execPath, [join(root, 'bin', 'proximity.js'), 'serve', ...args], { cwd: work.dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } })
    let out = ''
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
    // a hung shutdown must fail the test with its output, not time it out silently
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, signal) => {
        clearTimeout(guard)
        r({ code, signal })
      }),
    )
    return { child, output: () => out, exited }
  }

  /** Resolves once `n` guest creations reached the simulator (or the child exited). */
  async function creationsStarted(n: number, exited: Promise<unknown>): Promise<void> {
    let gone = false
    void exited.then(() => (gone = true))
    while (!gone && sim.log.entries().filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc').length < n) await new Promise((r) => setTimeout(r, 20))
  }

  it('a second SIGINT exits at once', { timeout: 180_000 }, async () => {
    const cluster = await writeClusterManifest(work.dir, sim, { perNode: 4 })
    const apps = await writeApps(work.dir, 8)
    const s = spawnServe(['-f', cluster, '-f', apps, '--state-dir', join(work.dir, 'state'), '--listen', '127.0.0.1:0', '--grace', '10m'])
    await creationsStarted(1, s.exited)
    s.child.kill('SIGINT')
    for (let i = 0; i < 3000 && !/shutting down/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 20))
    s.child.kill('SIGINT')
    expect(await s.exited, s.output()).toEqual({ code: 130, signal: null })
    expect(s.output()).toMatch(/"msg":"second interrupt: exiting at once"/)
    expect(s.output()).not.toMatch(/"msg":"stopped: state flushed, lease released"/)
  })

  it('SIGTERM mid-creation exits 0, leaves no task running, releases the lease; a restart converges without duplicates', { timeout: 180_000 }, async () => {
    const cluster = await writeClusterManifest(work.dir, sim, { perNode: 4 })
    const apps = await writeApps(work.dir, 8)
    const stateDir = join(work.dir, 'state')
    const args = ['-f', cluster, '-f', apps, '--state-dir', stateDir, '--listen', '127.0.0.1:0']
    const serve = spawnServe([...args, '--grace', '60s'])
    // wait until creations are under way, then ask it to stop
    await creationsStarted(2, serve.exited)
    expect(sim.log.entries().some((e) => e.method === 'POST' && e.route === '/nodes/{node}/lxc'), serve.output()).toBe(true)
    serve.child.kill('SIGTERM')
    expect(await serve.exited, serve.output()).toEqual({ code: 0, signal: null })
    const out = serve.output()
    expect(out).toMatch(/"msg":"shutting down: no new change is started, running tasks may finish"/)
    expect(out).toMatch(/"msg":"stopped: state flushed, lease released"/)
    expect(out).not.toContain(sim.tokenSecret)

    // it really stopped mid-creation: not every app had become Ready
    const after = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    const readyAtStop = (JSON.parse(after.stdout || '{"items":[]}') as { items: { conditions: { type: string; status: string }[] }[] }).items.filter((a) =>
      a.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    expect(readyAtStop.length).toBeLessThan(8)

    // no task of ours still running, no guest left locked
    const pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    try {
      for (const node of sim.nodes) expect((await pve.listTasks(node, { source: 'active' })).filter((t) => t.status === 'RUNNING' || t.endtime === undefined)).toEqual([])
    } finally {
      await pve.close()
    }
    expect(sim.guests().filter((g) => g.lock)).toEqual([])
    // the lease is free at once
    const store = await openStateStore(stateDir)
    await store.releaseLease(await store.acquireLease('test', 10_000, { waitMs: 0 }))
    await store.close()

    // a restarted serve converges: exactly one guest per app
    const s = startServe(args, { cwd: work.dir })
    try {
      await until(
        s.clock,
        async () => {
          const r = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
          const items = r.stdout ? (JSON.parse(r.stdout) as { items: { conditions: { type: string; status: string }[] }[] }).items : []
          return items.length === 8 && items.every((a) => a.conditions.some((c) => c.type === 'Ready' && c.status === 'True'))
        },
        { what: '8 Ready apps after the restart' },
      )
    } finally {
      expect((await s.stop()).code).toBe(0)
    }
    const by = guestsByApp(sim)
    expect([...by.keys()].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `app-${String(i).padStart(3, '0')}`))
    for (const [name, vmids] of by) expect(vmids, `guests of ${name}`).toHaveLength(1)
  })
})
