/**
 * Restore drills end to end (issue 11 point 6): `proximity backup verify` against the simulator
 * over HTTPS and SSH, checked through the real proxmox-api client. A good backup is verified, a
 * backup of an app that never turns healthy (the simulator's `unhealthy` images) is reported and
 * the command exits 1; no scratch guest is left either way. A real CLI process killed with -9
 * while its scratch guest exists leaves it behind, and the next apply removes it and touches
 * nothing else; the apps' own guests keep their vmid, marker and config throughout.
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DRILL_TAG } from '../../controllers/restore/drill.js'
import { parseMarker, parseTags } from '../../src/model/marker.js'
import { packageRoot } from '../../src/model/paths.js'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, buildCli, clusterChanges, runCli, startSim, tempDir, testHomeDir, writeClusterManifest } from './helpers.js'

const OWNER = 'e2e-drill'

/** An App that never turns healthy: the simulator's `unhealthy` image fails its compose healthcheck. */
const sickYaml = (): string =>
  appYaml('sick')
    .replace('traefik/whoami:v1.10.3', 'example/unhealthy:1')
    .replace('ports: ["80:80"]', 'ports: ["80:80"]\n          healthcheck: {test: ["CMD", "true"], interval: 1s}')
    .replace('    tcp: {port: 80}', '    compose: true\n    timeout: 3s')

const POLICY = ['apiVersion: proximity/v1alpha1', 'kind: BackupPolicy', 'metadata:', '  name: nightly', 'spec:', '  schedule: "*-*-* 03:00"', '  selector:', '    apps: [web, sick]', '  storage: local', ''].join('\n')

describe('proximity backup verify', () => {
  let sim: RunningSimulator
  let pve: PveHttpClient
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let stateDir: string
  const vmids: Record<string, number> = {}
  const configs: Record<string, string> = {}

  const scratch = async (): Promise<number[]> => (await pve.clusterGuests()).filter((g) => parseTags(g.tags).includes(DRILL_TAG)).map((g) => g.vmid)
  /** Each app's guest as Proxmox has it: vmid, marker and config (digest aside, which moves with any write). */
  const appConfig = async (name: string): Promise<string> => {
    const g = (await pve.clusterGuests()).find((x) => x.vmid === vmids[name])!
    const { digest: _d, ...cfg } = (await pve.lxcConfig(g.node, g.vmid)) as Record<string, unknown>
    expect(parseMarker(String(cfg.description))).toMatchObject({ kind: 'App', name, owner: OWNER })
    return JSON.stringify(cfg)
  }
  const condition = async (name: string) => {
    const r = await runCli(['get', 'app', name, '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    return (JSON.parse(r.stdout) as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions.find((c) => c.type === 'RestoreVerified')
  }

  // The kill test runs the built CLI as a real process.
  beforeAll(() => buildCli(), 300_000)

  beforeAll(async () => {
    // Tasks slow enough that a drill's scratch guest exists long enough to be seen and killed.
    sim = await startSim({ taskLatencyMs: 150 })
    pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim, { owner: OWNER })
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'web.yaml'), appYaml('web'))
    // Its containers never report healthy; its guest exists all the same.
    await writeFile(join(apps, 'sick.yaml'), sickYaml())
    await writeFile(join(apps, 'policy.yaml'), POLICY)
    stateDir = join(work.dir, 'state')
    args = ['-f', clusterDir, '-f', apps, '--state-dir', stateDir]
    await runCli(['apply', '--timeout', '20s', ...args], { cwd: work.dir })
    const list = await runCli(['get', 'apps', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    for (const i of (JSON.parse(list.stdout) as { items: { name: string; inventory?: { vmid?: number } }[] }).items) vmids[i.name] = i.inventory?.vmid as number
    expect(vmids.web).toBeGreaterThan(0)
    expect(vmids.sick).toBeGreaterThan(0)
    const b = await runCli(['backup', 'now', 'web', 'sick', '--wait', ...args], { cwd: work.dir })
    expect(b.code, b.stdout + b.stderr).toBe(0)
    for (const n of ['web', 'sick']) configs[n] = await appConfig(n)
  }, 180_000)
  afterAll(async () => {
    await pve?.close()
    await sim?.stop()
    await work?.cleanup()
  })

  it('a good backup is verified: exit 0, RestoreVerified True with the volid, no scratch guest left, the app untouched', async () => {
    const r = await runCli(['backup', 'verify', 'web', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const volid = /verified (\S+) in \d+/.exec(r.stdout)?.[1]
    expect(volid).toMatch(new RegExp(`^local:backup/vzdump-lxc-${vmids.web}-`))
    expect(await condition('web')).toMatchObject({ status: 'True', reason: 'Verified', message: expect.stringContaining(volid!) })
    expect(await scratch()).toEqual([])
    expect(await appConfig('web')).toBe(configs.web)
    const d = await runCli(['describe', 'app', 'web', '--state-dir', stateDir], { cwd: work.dir })
    expect(d.stdout).toMatch(/RestoreVerified\s+True\s+Verified/)
  }, 120_000)

  it('a backup of an app that fails its health check is reported: exit 1, RestoreVerified False, no scratch guest left', async () => {
    const r = await runCli(['backup', 'verify', 'sick', '--health-timeout', '3s', '-o', 'json', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    const items = (JSON.parse(r.stdout) as { items: { app: string; ok: boolean; reason: string; volid?: string }[] }).items
    expect(items).toEqual([expect.objectContaining({ app: 'sick', ok: false, reason: 'HealthCheckFailed' })])
    expect(await condition('sick')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: expect.stringContaining(items[0]!.volid!) })
    expect(await scratch()).toEqual([])
    expect(await appConfig('sick')).toBe(configs.sick)
  }, 120_000)

  it('bad input changes nothing: an unknown app, a volid of another app', async () => {
    sim.log.clear()
    const unknown = await runCli(['backup', 'verify', 'web', 'nope', ...args], { cwd: work.dir })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/no App "nope"/)
    const list = await runCli(['backup', 'list', 'sick', '-o', 'json', ...args], { cwd: work.dir })
    const other = (JSON.parse(list.stdout) as { items: { volid: string }[] }).items[0]!.volid
    const wrong = await runCli(['backup', 'verify', 'web', '--backup', other, ...args], { cwd: work.dir })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/refusing to restore .* into App web: the backup is of App sick/)
    expect(clusterChanges(sim).filter((e) => e.route.startsWith('/nodes/'))).toEqual([])
  }, 60_000)

  it('kill -9 mid-drill leaves the scratch guest; the next apply removes it and touches nothing else', async () => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'proximity.js'), 'backup', 'verify', 'web', ...args], { cwd: work.dir, stdio: 'ignore', env: { PATH: process.env.PATH, HOME: testHomeDir() } })
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, signal) => r(signal)))
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000)
    let left: number[] = []
    while (left.length === 0 && child.exitCode === null) {
      left = await scratch()
      if (left.length === 0) await new Promise((r) => setTimeout(r, 20))
    }
    child.kill('SIGKILL')
    clearTimeout(guard)
    expect(await exited, 'the drill was killed, not finished').toBe('SIGKILL')
    expect(left).toHaveLength(1)
    expect(left[0]).not.toBe(vmids.web)
    expect(await scratch(), 'the scratch guest outlives the killed process').toEqual(left)
    // Mid-drill and after the kill, the app's own guest is as it was.
    expect(await appConfig('web')).toBe(configs.web)

    sim.log.clear()
    const r = await runCli(['apply', '--timeout', '60s', ...args], { cwd: work.dir })
    expect(r.stdout, r.stderr).toMatch(new RegExp(`BackupPolicy/nightly will be updated in-place \\(remove scratch guest ${left[0]} \\(drill of App/web\\)\\)`))
    expect(await scratch()).toEqual([])
    // Only the scratch guest was acted on (a restore task it left may still be settling first).
    const touched = clusterChanges(sim).filter((e) => e.route.startsWith('/nodes/'))
    expect(touched.length).toBeGreaterThan(0)
    for (const e of touched) expect(e.path, `${e.method} ${e.path}`).toMatch(new RegExp(`/lxc/${left[0]}(/|$)`))
    for (const n of ['web', 'sick']) expect(await appConfig(n), n).toBe(configs[n])
  }, 180_000)

  it('adding verify to the policy: plan shows its fields, apply records them, then no changes until a drill is due', async () => {
    await writeFile(join(work.dir, 'apps', 'policy.yaml'), `${POLICY}  verify:\n    schedule: "sun 04:00"\n    healthTimeout: 2m\n`)
    const p = await runCli(['plan', '-o', 'json', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(2)
    const change = (JSON.parse(p.stdout) as { changes: { key: string; action: string; fields: { path: string; after?: unknown }[] }[] }).changes.find((c) => c.key === 'BackupPolicy/nightly')
    expect(change?.action).toBe('update')
    expect(change?.fields.map((f) => [f.path, f.after])).toEqual([['verify.healthTimeout', '2m'], ['verify.schedule', 'sun 04:00'], ['verify.suspend', false]])
    await runCli(['apply', '--timeout', '30s', ...args], { cwd: work.dir })
    const again = await runCli(['plan', '-o', 'json', ...args], { cwd: work.dir })
    expect((JSON.parse(again.stdout) as { changes: { key: string }[] }).changes.map((c) => c.key)).not.toContain('BackupPolicy/nightly')
    const st = await runCli(['get', 'backuppolicy', 'nightly', '-o', 'json', '--state-dir', stateDir], { cwd: work.dir })
    expect((JSON.parse(st.stdout) as { conditions: { type: string; status: string; reason: string }[] }).conditions.find((c) => c.type === 'RestoreVerified')).toMatchObject({ status: 'Unknown', reason: 'NotVerifiedYet' })
  }, 120_000)
})
