/**
 * Secret hygiene through the real CLI against the real simulator (issue 7): an unset `{env}`
 * secret is a located error before anything changes, and a secret printed back by a failing
 * compose project never reaches the output, the status, the events or the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator } from '../../src/sim/types.js'
import { runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

/** An App whose compose reads API_KEY from `.env`; `image` may interpolate it too. */
function secretApp(name: string, image: string): string {
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
