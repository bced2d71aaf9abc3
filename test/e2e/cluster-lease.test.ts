/**
 * The apply lease belongs to the cluster (DESIGN §9), across processes: real `proximity` processes
 * with different checkouts and state dirs against one standalone sandbox (`proximity sandbox
 * start`, port 0). One acts; the other waits naming the holder, or fails naming it; never a
 * duplicate guest. A holder killed with -9 does not block the next run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/client.js'
import { parseMarker } from '../../src/model/marker.js'
import { packageRoot } from '../../src/model/paths.js'
import { appYaml, tempDir } from './helpers.js'

const root = packageRoot()
// Built apart from dist/ so a parallel build of another test file never swaps files under us.
const outDir = join(root, 'dist', 'e2e-cluster-lease')
const launcher = join(outDir, 'launch.mjs')

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Spawns the built CLI; `done` resolves when it exits (a hung run is killed after 150 s). */
function proximity(args: string[], cwd: string): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [launcher, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME } })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const guard = setTimeout(() => child.kill('SIGKILL'), 150_000)
  const done = new Promise<Run>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    }),
  )
  return { child, done }
}

let work: { dir: string; cleanup: () => Promise<void> }
let sandbox: ChildProcess
let pve: PveHttpClient
let clusterDir: string

beforeAll(async () => {
  await new Promise<void>((done) => {
    execFile(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { cwd: root }, () => done())
  })
  if (!existsSync(join(outDir, 'src', 'cli', 'main.js'))) throw new Error('build failed: src/cli/main.js missing')
  await writeFile(launcher, "import { main } from './src/cli/main.js'\nprocess.exitCode = await main(process.argv.slice(2))\n")
  work = await tempDir()
  clusterDir = join(work.dir, 'cluster')
  await mkdir(clusterDir, { recursive: true })
  const started = proximity(
    ['sandbox', 'start', '--listen', '127.0.0.1:0', '--state-dir', join(work.dir, 'sandbox-state'), '--task-latency', '150ms', '--cluster-manifest', join(clusterDir, 'cluster.yaml'), '-o', 'json'],
    work.dir,
  )
  sandbox = started.child
  const info = await new Promise<{ endpoint: string; fingerprint: string; tokenId: string; tokenSecret: string }>((resolve, reject) => {
    let buf = ''
    sandbox.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n')[0]
      if (buf.includes('\n')) resolve(JSON.parse(line))
    })
    void started.done.then((r) => reject(new Error(`sandbox exited: ${r.stderr}`)))
  })
  pve = createPveClient({ endpoint: info.endpoint, tls: { fingerprint: info.fingerprint }, auth: { tokenId: info.tokenId, tokenSecret: info.tokenSecret } })
}, 240_000)

afterAll(async () => {
  await pve?.close()
  if (sandbox && sandbox.exitCode === null) {
    const exited = new Promise((r) => sandbox.once('exit', r))
    sandbox.kill('SIGTERM')
    await exited
  }
  await work?.cleanup()
})

/** A checkout of the same apps in its own folder. */
async function checkout(name: string, apps: string[]): Promise<string> {
  const dir = join(work.dir, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'apps.yaml'), apps.map((a) => appYaml(a, { memory: 128 })).join('---\n'))
  return dir
}

/** Guests per app name, by marker (identity is the marker, not the vmid). */
async function guestsByApp(): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>()
  for (const g of await pve.clusterGuests()) {
    const m = parseMarker(String((await pve.lxcConfig(g.node, g.vmid)).description ?? ''))
    if (!m) continue
    out.set(m.name, [...(out.get(m.name) ?? []), g.vmid])
  }
  return out
}

/** Resolves once the cluster lease pool exists (the first run has taken the lease). */
async function leaseTaken(): Promise<void> {
  for (;;) {
    if ((await pve.pools()).some((p) => p.poolid === 'proximity-lease-proximity')) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe('the apply lease across processes, state dirs and checkouts', () => {
  it('two applies started together: one acts, the other waits naming the holder, then finds every guest', async () => {
    const apps = names('both', 6)
    const a = await checkout('checkout-a', apps)
    const b = await checkout('checkout-b', apps)
    const runA = proximity(['apply', '-f', clusterDir, '-f', a, '--state-dir', join(a, '.state'), '--lease-wait', '120s'], a)
    const runB = proximity(['apply', '-f', clusterDir, '-f', b, '--state-dir', join(b, '.state'), '--lease-wait', '120s'], b)
    const [ra, rb] = await Promise.all([runA.done, runB.done])
    expect(ra.code, ra.stdout + ra.stderr).toBe(0)
    expect(rb.code, rb.stdout + rb.stderr).toBe(0)
    const waits = [ra, rb].filter((r) => r.stderr.includes('waiting up to 120s'))
    expect(waits).toHaveLength(1)
    const [waiter] = waits
    const actor = waiter === ra ? rb : ra
    const actorPid = (waiter === ra ? runB : runA).child.pid
    expect(waiter.stderr).toMatch(
      new RegExp(`waiting up to 120s for another apply to finish \\(owner proximity apply by \\S+, pid ${actorPid} on host \\S+, since \\d{4}-\\d\\d-\\d\\dT[^;]+; expires at \\d{4}-\\d\\d-\\d\\dT\\S+ unless renewed\\)`),
    )
    expect(actor.stdout).toMatch(/Apply complete: 6 added/)
    expect(waiter.stdout).toMatch(/Apply complete: 0 added/)
    const guests = await guestsByApp()
    for (const n of apps) expect(guests.get(n), n).toHaveLength(1)
    // Both released the lease on exit.
    expect((await pve.pools()).map((p) => p.poolid)).not.toContain('proximity-lease-proximity')
  })

  it('with --lease-wait 0s the second apply fails at once, naming the holder, and changes nothing', async () => {
    const apps = names('nowait', 4)
    const a = await checkout('nowait-a', apps)
    const b = await checkout('nowait-b', apps)
    const runA = proximity(['apply', '-f', clusterDir, '-f', a, '--state-dir', join(a, '.state')], a)
    await leaseTaken()
    const rb = await proximity(['apply', '-f', clusterDir, '-f', b, '--state-dir', join(b, '.state'), '--lease-wait', '0s'], b).done
    expect(rb.code).toBe(1)
    expect(rb.stderr).toMatch(new RegExp(`error: another apply is running \\(owner proximity apply by \\S+, pid ${runA.child.pid} on host \\S+, since `))
    expect(rb.stderr).toContain('it holds the cluster lease, pool proximity-lease-proximity: remove that pool only if the run is gone')
    expect(existsSync(join(b, '.state', 'state.0.log'))).toBe(false)
    const ra = await runA.done
    expect(ra.code, ra.stdout + ra.stderr).toBe(0)
    const guests = await guestsByApp()
    for (const n of apps) expect(guests.get(n), n).toHaveLength(1)
  })

  it('a holder killed with -9 blocks nobody: the next run takes over at once and creates no duplicate', async () => {
    const apps = names('killed', 6)
    const a = await checkout('killed-a', apps)
    const b = await checkout('killed-b', apps)
    const runA = proximity(['apply', '-f', clusterDir, '-f', a, '--state-dir', join(a, '.state')], a)
    await leaseTaken()
    // Let it get some creates going, then kill it mid-run.
    for (let i = 0; i < 100 && (await pve.clusterGuests()).filter((g) => g.lock === 'create').length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    runA.child.kill('SIGKILL')
    await runA.done
    expect((await pve.pools()).map((p) => p.poolid)).toContain('proximity-lease-proximity') // left behind
    const rb = await proximity(['apply', '-f', clusterDir, '-f', b, '--state-dir', join(b, '.state'), '--lease-wait', '0s'], b).done
    expect(rb.code, rb.stdout + rb.stderr).toBe(0)
    const guests = await guestsByApp()
    for (const n of apps) expect(guests.get(n), n).toHaveLength(1)
  })
})
