/**
 * `proximity logs` through the real CLI against the real simulator: the App's guest is found by
 * its marker, `docker compose logs` runs through `pct exec` over the real ssh2 client (a fixed
 * node command, never shell text), output carries Compose's `service-1  | ` prefixes, `--tail`
 * and a service filter work, `--follow` streams until interrupted, and bad input is refused
 * before anything is opened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../../src/cli/main.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

const APP = [
  'apiVersion: proximity/v1alpha1',
  'kind: App',
  'metadata:',
  '  name: shop',
  'spec:',
  '  source:',
  '    compose:',
  '      services:',
  '        web:',
  '          image: nginx:1.27',
  '          ports: ["80:80"]',
  '        api:',
  '          image: traefik/whoami:v1.10.3',
  '          ports: ["8080:80"]',
  '  resources: {memory: 256, disk: 2}',
  '  health:',
  '    tcp: {port: 80}',
  '  deletionPolicy: Delete',
  '',
].join('\n')

describe('proximity logs', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let clusterDir: string
  let appsDir: string
  const state = (): string[] => ['--state-dir', join(work.dir, 'state')]
  const target = (): string[] => ['--filename', clusterDir, ...state()]

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    clusterDir = await writeClusterManifest(work.dir, sim)
    appsDir = join(work.dir, 'apps')
    await mkdir(appsDir)
    await writeFile(join(appsDir, 'shop.yaml'), APP)
    const r = await runCli(['apply', '-f', appsDir, '-f', clusterDir, ...state()], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('prints every service with compose prefixes, through one fixed pct exec command', async () => {
    sim.log.clear()
    const r = await runCli(['logs', 'shop', ...target()], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines.some((l) => /^web-1 {2}\| .*Configuration complete; ready for start up$/.test(l))).toBe(true)
    expect(lines.some((l) => /^api-1 {2}\| .*listening on :80\/tcp$/.test(l))).toBe(true)
    for (const l of lines) expect(l).toMatch(/^(web|api)-1 {2}\| /)
    const ssh = sim.log.entries().filter((e) => e.method === 'SSH')
    expect(ssh.map((e) => e.route)).toEqual(['pct exec'])
    expect(ssh[0].path).toMatch(/^pct exec \d+ --keep-env 0 -- docker compose --project-directory \/opt\/proximity\/shop logs --no-color$/)
    expect(sim.log.entries().filter((e) => e.method !== 'GET' && e.method !== 'SSH')).toEqual([]) // reads only
  })

  it('keeps the last N lines per container with --tail, and one service when named', async () => {
    const r = await runCli(['logs', 'shop', 'web', '--tail', '1', ...target()], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^web-1 {2}\| \d{4}\/\d\d\/\d\d [\d:]{8} \[notice\] 1#1: start worker processes\n$/)
  })

  it('fails with compose\'s own words for an unknown service', async () => {
    const r = await runCli(['logs', 'shop', 'db', ...target()], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('error: docker compose logs of App shop failed: no such service: db\n')
  })

  it('says so when the App has no guest', async () => {
    const r = await runCli(['logs', 'ghost', ...target()], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^error: App ghost has no guest on Cluster\/sim .*run proximity apply first\n$/)
  })

  it('refuses a service or tail that is not a plain word, before contacting anything', async () => {
    sim.log.clear()
    for (const [argv, msg] of [
      [['logs', 'shop', 'web;reboot'], /invalid service name "web;reboot"/],
      [['logs', 'shop', '--tail', '$(id)'], /--tail must be a whole number of lines/],
    ] as const) {
      const r = await runCli([...argv, ...target()], { cwd: work.dir })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(msg)
    }
    expect(sim.log.entries()).toEqual([])
  })

  it('--follow streams new lines until interrupted, then exits 0', async () => {
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    let text = ''
    const interrupt = new AbortController()
    stdout.on('data', (d: Buffer) => {
      text += d.toString()
      // The history, then at least two streamed rounds for both services: enough, stop.
      if ((text.match(/GET \/\?n=\d+/g) ?? []).length >= 4) interrupt.abort()
    })
    const env = { PATH: process.env.PATH, HOME: process.env.HOME }
    const code = await main(['logs', 'shop', '--follow', '--tail', '0', ...target()], { stdout, stderr, env, cwd: work.dir, stdin: new PassThrough(), interrupt: interrupt.signal })
    expect(code).toBe(0)
    expect(text).toMatch(/^(web|api)-1 {2}\| 10\.0\.3\.1 - - \[.*\] "GET \/\?n=1 HTTP\/1\.1" 200/m)
    for (const l of text.trimEnd().split('\n')) expect(l).toMatch(/^(web|api)-1 {2}\| .*GET \/\?n=\d+/)
    const ssh = sim.log.entries().filter((e) => e.method === 'SSH')
    expect(ssh.at(-1)?.path).toMatch(/logs --no-color --tail 0 --follow$/)
  })

  it('says the guest is stopped (changed behind Proximity\'s back) instead of failing inside it', async () => {
    const vmid = sim.log.entries().map((e) => /^pct exec (\d+) /.exec(e.path)?.[1]).find(Boolean)
    expect(vmid).toBeDefined()
    sim.faults.setGuestStatus(Number(vmid), 'stopped')
    const r = await runCli(['logs', 'shop', ...target()], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`error: App shop: guest ${vmid} on pve is stopped; logs need a running guest (spec.state: running, then proximity apply)\n`)
  })
})
