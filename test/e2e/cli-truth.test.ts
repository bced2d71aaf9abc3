/**
 * Issue 9, points 4, 8 and 9 against the simulator over HTTPS and SSH: "No changes" only when
 * true (objects not Ready, orphans), destructive applies ask first (with and without a terminal),
 * Ctrl-C says what was in flight, and progress names phases, short task ids and elapsed times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator, SimulatorOptions } from '../../src/sim/types.js'
import { packageRoot } from '../../src/model/paths.js'
import { appYaml, buildCli, clusterChanges, guestsByApp, runCli, startSim, tempDir, testHomeDir, writeClusterManifest, type CliRun } from './helpers.js'

/** An App whose container never turns healthy, with a 1 s health gate. */
function sickYaml(name: string): string {
  return [
    'apiVersion: proximity/v1alpha1',
    'kind: App',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  source:',
    '    compose:',
    '      services:',
    '        web:',
    '          image: example/unhealthy:1',
    '          ports: ["8080:80"]',
    '          healthcheck: {test: ["CMD", "true"], interval: 1s}',
    '  resources: {cores: 1, memory: 256, disk: 2}',
    '  health:',
    '    http: {port: 8080, path: /, expectStatus: 200}',
    '    timeout: 1s',
    '  deletionPolicy: Delete',
    '',
  ].join('\n')
}

/** A running simulator and a scratch folder holding its Cluster manifest and an empty apps folder. */
interface SimWorkspace {
  sim: RunningSimulator
  work: Awaited<ReturnType<typeof tempDir>>
  /** The apps folder (`<work>/apps`). */
  apps: string
  /** `-f apps -f cluster --state-dir <work>/state`. */
  args: string[]
}

async function simWorkspace(opts: SimulatorOptions = {}): Promise<SimWorkspace> {
  const sim = await startSim(opts)
  const work = await tempDir()
  const clusterDir = await writeClusterManifest(work.dir, sim)
  const apps = join(work.dir, 'apps')
  await mkdir(apps, { recursive: true })
  return { sim, work, apps, args: ['-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')] }
}

async function closeWorkspace(w: SimWorkspace | undefined): Promise<void> {
  await w?.sim.stop()
  await w?.work.cleanup()
}

describe('no -f: plan, apply and validate refuse alike', () => {
  let work: Awaited<ReturnType<typeof tempDir>>
  beforeAll(async () => {
    work = await tempDir()
  })
  afterAll(async () => {
    await work.cleanup()
  })
  for (const cmd of ['validate', 'plan', 'apply']) {
    it(`${cmd} without -f exits 1 with the same message and writes no state`, async () => {
      const r = await runCli([cmd], { cwd: work.dir })
      expect(r.code).toBe(1)
      expect(r.stderr).toBe('error: no manifests given; pass -f FILE or -f FOLDER\n')
      expect(r.stdout).toBe('')
      const { readdir } = await import('node:fs/promises')
      expect(await readdir(work.dir)).toEqual([])
    })
  }
})

describe('"No changes" only when true', () => {
  let ws: SimWorkspace | undefined
  let sim: RunningSimulator
  let work: SimWorkspace['work']
  let args: string[]
  let apps: string

  beforeAll(async () => {
    ws = await simWorkspace()
    ;({ sim, work, apps, args } = ws)
    await writeFile(join(apps, 'apps.yaml'), `${sickYaml('web')}---\n${appYaml('old')}`)
    expect(sim.endpoint).toMatch(/^https:/)
  })
  afterAll(async () => {
    await closeWorkspace(ws)
  })

  it('apply of an app that fails its health gate exits 1 naming the failure', async () => {
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toMatch(/App\/web: HealthCheckFailed: App web is not healthy/)
  })

  it('plan then says no changes to make but web is not Ready, why, and where to look; exit code stays Terraform-correct', async () => {
    sim.log.clear()
    const r = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0) // the diff is empty: --detailed-exitcode says 0
    expect(r.stdout).not.toContain('Your cluster matches the manifests')
    expect(r.stdout).toContain('No changes to make, but 1 app is not Ready:\n  web — HealthCheckFailed: App web is not healthy')
    expect(r.stdout).toContain('(stalled: apply does not try again until the manifests change; see `proximity describe app web` / `proximity logs web`)')
    expect(sim.log.mutating()).toEqual([])
    expect(sim.log.entries().filter((e) => e.route === '/cluster/resources')).toHaveLength(1)
  })

  it('apply says the same before it reports the failure again, and changes nothing', async () => {
    sim.log.clear()
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).not.toContain('Your cluster matches the manifests')
    expect(r.stdout).toContain('No changes to make, but 1 app is not Ready:')
    expect(clusterChanges(sim)).toEqual([])
  })

  it('a managed guest whose manifest is gone is listed with what --prune would do', async () => {
    const vmid = guestsByApp(sim).get('old')?.[0]
    expect(vmid).toBeGreaterThan(0)
    await writeFile(join(apps, 'apps.yaml'), sickYaml('web')) // the file still holds a manifest: no prune guard
    sim.log.clear()
    const r = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`1 managed object has no manifest (left alone without \`--prune\`):\n  \`--prune\` would delete 1: App/old (guest ${vmid} on pve)`)
    expect(sim.log.mutating()).toEqual([])
    // with --prune the deletion is the plan itself (exit 2: changes present), not a hint
    const pruned = await runCli(['plan', '--prune', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(2)
    expect(pruned.stdout).toContain('# App/old will be destroyed')
    expect(pruned.stdout).not.toContain('left alone without')
  })

  it('once every app is Ready and nothing is orphaned, plan says the cluster matches', async () => {
    await writeFile(join(apps, 'apps.yaml'), appYaml('web'))
    const fixed = await runCli(['apply', '--prune', '--yes', ...args], { cwd: work.dir })
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0)
    const r = await runCli(['plan', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toBe('No changes. Your cluster matches the manifests.\n')
  })
})

/** Runs the built CLI under a pseudo-terminal (util-linux `script`), answering `answer` at the prompt. */
async function runOnTty(argv: string[], o: { cwd: string; answer?: string }): Promise<CliRun> {
  const { spawn } = await import('node:child_process')
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, join(packageRoot(), 'bin', 'proximity.js'), ...argv].map(quote).join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: o.cwd, env: { PATH: process.env.PATH, HOME: testHomeDir(), NO_COLOR: '1', TERM: 'dumb' } })
  let text = ''
  let answered = false
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString()
    if (!answered && o.answer !== undefined && text.includes('Apply it? ')) {
      answered = true
      child.stdin.write(`${o.answer}\r`)
    }
  })
  const code = await new Promise<number>((done) => child.on('exit', (c) => done(c ?? 1)))
  clearTimeout(guard)
  // The terminal merges stdout and stderr and ends lines with CRLF.
  const all = text.replace(/\r\n/g, '\n')
  return { code, stdout: all, stderr: all }
}

describe('destructive changes ask first', () => {
  let ws: SimWorkspace | undefined
  let sim: RunningSimulator
  let work: SimWorkspace['work']
  let args: string[]
  let apps: string
  const write = (names: string[]): Promise<void> => writeFile(join(apps, 'apps.yaml'), names.map((n) => appYaml(n)).join('---\n'))

  beforeAll(async () => {
    await buildCli()
    ws = await simWorkspace()
    ;({ sim, work, apps, args } = ws)
    await write(['a', 'b', 'c', 'd'])
    // creating needs no approval, with or without a terminal
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  }, 180_000)
  afterAll(async () => {
    await closeWorkspace(ws)
  })

  it('without a terminal a prune that destroys needs --yes: exit 1, the flag named, nothing changed', async () => {
    await write(['a', 'c', 'd'])
    sim.log.clear()
    const r = await runCli(['apply', '--prune', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toContain('# App/b will be destroyed') // the plan is shown
    expect(r.stderr).toContain('error: this plan destroys, replaces or deletes data (App/b (destroy)) and stdin is not a terminal to ask on; nothing was changed; re-run with --yes (or --auto-approve) to apply it')
    expect(clusterChanges(sim)).toEqual([])
    expect(guestsByApp(sim).has('b')).toBe(true)
  })

  it('on a terminal only the literal yes approves: "y" cancels and changes nothing', async () => {
    sim.log.clear()
    const r = await runOnTty(['apply', '--prune', ...args], { cwd: work.dir, answer: 'y' })
    expect(r.code, r.stdout).toBe(1)
    expect(r.stdout).toContain('This plan destroys, replaces or deletes data of 1 object: App/b (destroy).')
    expect(r.stdout).toContain('apply cancelled; nothing was changed')
    expect(clusterChanges(sim)).toEqual([])
    expect(guestsByApp(sim).has('b')).toBe(true)
  }, 120_000)

  it('on a terminal "yes" applies the plan', async () => {
    const r = await runOnTty(['apply', '--prune', ...args], { cwd: work.dir, answer: 'yes' })
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/Apply complete: 0 added, 0 changed, 1 destroyed/)
    expect(guestsByApp(sim).has('b')).toBe(false)
  }, 120_000)

  it('--auto-approve, like --yes above, skips the question without a terminal', async () => {
    await write(['a', 'd'])
    const r = await runCli(['apply', '--prune', '--auto-approve', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stderr).not.toContain('stdin is not a terminal')
    expect(guestsByApp(sim).has('c')).toBe(false)
  })

  it('a plan that destroys nothing is applied on a terminal without a question', async () => {
    await write(['a', 'd', 'e'])
    const r = await runOnTty(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).not.toContain('Apply it?')
    expect(guestsByApp(sim).has('e')).toBe(true)
  }, 120_000)
})

describe('progress that reads well', () => {
  let ws: SimWorkspace | undefined
  let sim: RunningSimulator
  let work: SimWorkspace['work']
  let args: string[]
  let apps: string
  beforeAll(async () => {
    ws = await simWorkspace()
    ;({ sim, work, apps, args } = ws)
  })
  afterAll(async () => {
    await closeWorkspace(ws)
  })

  it("names the controller's phases with the time per object and in total, and task ids as type and vmid", async () => {
    await writeFile(join(apps, 'apps.yaml'), appYaml('f'))
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const vmid = guestsByApp(sim).get('f')?.[0]
    expect(r.stderr).toMatch(new RegExp(`^App/f: creating \\(vmid ${vmid} on pve, task vzcreate ${vmid}\\) \\[\\d+s\\]$`, 'm'))
    expect(r.stderr).toMatch(new RegExp(`^App/f: starting \\(vmid ${vmid}, task vzstart ${vmid}\\) \\[\\d+s\\]$`, 'm'))
    for (const phase of ['installing (docker)', 'deploying (compose up)', 'waiting-health', 'healthy', 'done']) expect(r.stderr).toMatch(new RegExp(`^App/f: ${phase.replace(/[()]/g, '\\$&')} \\[\\d+s\\]$`, 'm'))
    expect(r.stderr).not.toContain('UPID:')
    expect(r.stdout).toMatch(/^Apply complete: 1 added, 0 changed, 0 destroyed; all 1 app Ready \(took \d+s\)$/m)
    // the audit log keeps the full task id
    const { readFile } = await import('node:fs/promises')
    const audit = await readFile(join(work.dir, 'state', 'audit.log'), 'utf8')
    expect(audit).toMatch(new RegExp(`"upid":"UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:vzcreate:${vmid}:`))
  })

  it('-v shows the full UPID beside the short id', async () => {
    await writeFile(join(apps, 'apps.yaml'), `${appYaml('f')}---\n${appYaml('g')}`)
    const r = await runCli(['apply', '-v', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const vmid = guestsByApp(sim).get('g')?.[0]
    expect(r.stderr).toMatch(new RegExp(`^App/g: creating \\(vmid ${vmid} on pve, task vzcreate ${vmid} \\(UPID:pve:[0-9A-F:]+:vzcreate:${vmid}:[^)\\s]+\\)\\) \\[\\d+s\\]$`, 'm'))
  })
})

describe('Ctrl-C during apply', () => {
  let ws: SimWorkspace | undefined
  let sim: RunningSimulator
  let work: SimWorkspace['work']
  let args: string[]

  beforeAll(async () => {
    await buildCli()
    // Slow tasks keep creates in flight long enough to interrupt them.
    ws = await simWorkspace({ taskLatencyMs: 1500 })
    ;({ sim, work } = ws)
    await writeFile(join(ws.apps, 'apps.yaml'), ['p', 'q'].map((n) => appYaml(n)).join('---\n'))
    args = ['apply', ...ws.args]
  }, 180_000)
  afterAll(async () => {
    await closeWorkspace(ws)
  })

  /** Starts the built CLI without a terminal and sends it `signals` Ctrl-Cs (SIGINT) once a create task is in flight. */
  async function interruptDuringCreate(signals: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'proximity.js'), ...args], { cwd: work.dir, env: { PATH: process.env.PATH, HOME: testHomeDir() } })
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000)
    let out = ''
    let sent = 0
    const onData = (d: Buffer): void => {
      out += d.toString()
      // The first once a create is in flight; a second once the first was acknowledged.
      if (sent === 0 && /creating \(vmid \d+ on pve, task vzcreate \d+\)/.test(out)) {
        sent++
        child.kill('SIGINT')
      } else if (sent === 1 && signals > 1 && out.includes('interrupted: stopping')) {
        sent++
        child.kill('SIGINT')
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (c, s) => done({ code: c, signal: s })))
    clearTimeout(guard)
    return { code, signal, out }
  }

  it('says which objects and Proxmox tasks were in flight and that a re-run resumes; the re-run does, with one guest per app', async () => {
    const r = await interruptDuringCreate(1)
    expect(r.signal, r.out).toBe('SIGINT')
    expect(r.out).toContain('interrupted: stopping this apply; no new step is started (press Ctrl-C again to exit at once)')
    expect(r.out).toMatch(/in flight \(\d\):\n(  App\/[pq]: .*\n(    Proxmox task .*\n)?)+/)
    expect(r.out).toMatch(/ {4}Proxmox task vzcreate (\d+) on pve keeps running there: UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:vzcreate:\1:/)
    expect(r.out).toContain('Re-run the same\n`proximity apply` to resume')
    expect(r.out).not.toContain('Apply complete')

    const again = await runCli(args, { cwd: work.dir })
    expect(again.code, again.stdout + again.stderr).toBe(0)
    const guests = guestsByApp(sim)
    expect(guests.get('p')).toHaveLength(1)
    expect(guests.get('q')).toHaveLength(1)
  }, 180_000)

  it('a second Ctrl-C exits at once (exit 130) while the first is still cleaning up', async () => {
    await writeFile(join(work.dir, 'apps', 'apps.yaml'), ['p', 'q', 'r'].map((n) => appYaml(n)).join('---\n'))
    // Releasing the lease (the last clean-up step) takes long, so the second Ctrl-C lands during it.
    sim.faults.add({ method: 'DELETE', route: '/pools', action: { type: 'latency', ms: 20_000 }, count: 1 })
    const r = await interruptDuringCreate(2)
    expect(r.code, r.out).toBe(130)
    expect(r.out).toContain('interrupted: stopping this apply')
    expect(r.out).toContain('interrupted again: exiting now; the lease expires by itself')
  }, 180_000)
})
