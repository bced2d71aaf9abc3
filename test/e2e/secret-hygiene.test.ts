/**
 * Secret hygiene through the real CLI against the real simulator (issue 7): an unset `{env}`
 * secret is a located error before anything changes, and a secret printed back by a failing
 * compose project never reaches the output, the status, the events or the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator } from '../../src/sim/types.js'
import { runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

/** An App whose compose reads API_KEY from `.env`; `image` and `restart` may interpolate it too. */
function secretApp(name: string, image: string, restart?: string): string {
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
    `          image: ${JSON.stringify(image)}`,
    '          ports: ["80:80"]',
    ...(restart ? [`          restart: ${JSON.stringify(restart)}`] : []),
    '          environment:',
    '            API_KEY: ${API_KEY}',
    '  resources: {cores: 1, memory: 256, disk: 2}',
    '  health:',
    '    tcp: {port: 80}',
    '  secrets:',
    '    API_KEY: {env: API_KEY}',
    '  deletionPolicy: Delete',
    '',
  ].join('\n')
}

describe('an {env} secret whose variable is unset', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'keyed.yaml'), secretApp('keyed', 'traefik/whoami:v1.10.3'))
    args = ['-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  for (const cmd of ['plan', 'apply']) {
    it(`${cmd}: is a located error, exit 1, and nothing is created`, async () => {
      sim.log.clear()
      const r = await runCli([cmd, ...args], { cwd: work.dir })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`${join(work.dir, 'apps', 'keyed.yaml')}:18:20: App/keyed: spec.secrets.API_KEY.env: environment variable API_KEY is not set`)
      expect(r.stderr).toContain('nothing was planned or applied')
      expect(r.stderr).not.toMatch(/bug|unexpected|\n\s+at /)
      expect(sim.log.entries()).toEqual([])
      expect(sim.guests()).toEqual([])
    })
  }

  it('an empty value is a value: the same run passes the check', async () => {
    const r = await runCli(['plan', ...args], { cwd: work.dir, env: { API_KEY: '' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Plan: 1 to add/)
  })
})

describe('a secret printed back by a failing compose project', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let stateDir: string
  const SECRET = 'hunter2-Sup3r+secret'
  const env = { API_KEY: SECRET }

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    // The simulated compose refuses the restart policy and prints the interpolated value: the secret.
    await writeFile(join(apps, 'leaky.yaml'), secretApp('leaky', 'traefik/whoami:v1.10.3', '${API_KEY}'))
    stateDir = join(work.dir, 'state')
    args = ['-f', apps, '-f', clusterDir, '--state-dir', stateDir]
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('never reaches the CLI output, describe, events, the status file or the audit log', async () => {
    const applied = await runCli(['apply', ...args], { cwd: work.dir, env })
    expect(applied.code).toBe(1)
    // the failure is there, with the value replaced
    expect(applied.stdout).toMatch(/App\/leaky: InvalidCompose: compose rejected the project of App leaky: .*invalid restart policy '\(sensitive\)'/)
    const seen: Record<string, string> = { apply: applied.stdout + applied.stderr }
    for (const cmd of [['describe', 'app', 'leaky'], ['events'], ['get', 'apps', '-o', 'json']]) {
      const r = await runCli([...cmd, '--state-dir', stateDir], { cwd: work.dir, env })
      expect(r.code, r.stderr).toBe(0)
      seen[cmd.join(' ')] = r.stdout + r.stderr
    }
    expect(seen.events).toContain('(sensitive)')
    // Every file of the state dir (snapshot, op logs, audit log, errors log, records).
    const files = (await readdir(stateDir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name)
    expect(files).toContain('audit.log')
    for (const f of files) seen[f] = await readFile(join(stateDir, f), 'utf8')
    for (const [where, text] of Object.entries(seen)) {
      expect(text, where).not.toContain(SECRET)
      expect(text, where).not.toContain(encodeURIComponent(SECRET))
      expect(text, where).not.toContain(Buffer.from(SECRET).toString('base64'))
    }
    // the guest really holds the secret: it was only hidden on the way back
    const guest = sim.guests().find((g) => String(g.config.hostname) === 'leaky')
    expect(guest).toBeDefined()
  })
})

describe('a secret key left in the state dir by an older version', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('is still used, with a notice saying how to move it, and no second key is made', async () => {
    const home = join(work.dir, 'home')
    const env = { HOME: home }
    const clusterDir = await writeClusterManifest(work.dir, sim)
    expect((await runCli(['secret', 'keygen', '--out', 'state/secret.key'], { cwd: work.dir, env })).code).toBe(0)
    const sealed = await runCli(['secret', 'seal', '--key', 'state/secret.key', '--name', 'API_KEY'], { cwd: work.dir, env, stdin: 'sealed-value-1234' })
    expect(sealed.code, sealed.stderr).toBe(0)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    const yaml = secretApp('sealedapp', 'traefik/whoami:v1.10.3').replace('    API_KEY: {env: API_KEY}', `    ${sealed.stdout.trim()}`)
    await writeFile(join(apps, 'sealed.yaml'), yaml)
    const r = await runCli(['apply', '-f', apps, '-f', clusterDir, '--state-dir', 'state'], { cwd: work.dir, env })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stderr).toContain('notice: using the secret key at ./state/secret.key, next to the state it protects')
    expect(r.stderr).toContain(`mv ./state/secret.key ./state/secret.key.pub ${join(home, '.config', 'proximity')}/`)
    expect(existsSync(join(home, '.config', 'proximity', 'secret.key'))).toBe(false)
  })
})
