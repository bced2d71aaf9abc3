/**
 * Target resolution through the CLI: the embedded sandbox (announced, persistent, `npm start`
 * re-run is a no-op), the PROXIMITY_* environment, and clear errors for a bad environment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { packageRoot } from '../../src/model/paths.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, testHomeDir, testStateHome } from './helpers.js'
import { mkdir, writeFile } from 'node:fs/promises'

describe('the embedded sandbox', () => {
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(async () => {
    work = await tempDir()
  })
  afterAll(async () => {
    await work?.cleanup()
  })

  it('applies the homelab example with no configuration, then converges as a no-op (npm start twice)', async () => {
    const homelab = join(packageRoot(), 'examples', 'homelab')
    const first = await runCli(['apply', '-f', homelab], { cwd: work.dir })
    expect(first.code, first.stdout + first.stderr).toBe(0)
    const sandboxDir = join(testStateHome(work.dir), 'proximity', 'sandbox', 'sandbox')
    expect(first.stderr).toContain(
      `using the built-in sandbox (state in ${sandboxDir}); set PROXIMITY_ENDPOINT or add a Cluster manifest to target a real Proxmox`,
    )
    expect(first.stdout).toMatch(/Apply complete: [1-9]\d* added/)
    expect(existsSync(join(sandboxDir, 'state.json'))).toBe(true)
    // state lives in the per-user state folder, never in the folder the command runs from
    expect(readdirSync(work.dir)).toEqual([])
    // the newcomer gets a secret key in the per-user config folder, never next to the state
    expect(existsSync(join(sandboxDir, '..', 'secret.key'))).toBe(false)
    const key = join(testHomeDir(), '.config', 'proximity', 'secret.key')
    expect(statSync(key).mode & 0o777).toBe(0o600)
    expect(statSync(dirname(key)).mode & 0o777).toBe(0o700)

    const second = await runCli(['apply', '-f', homelab], { cwd: work.dir })
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(second.stdout).toContain('No changes. Your cluster matches the manifests.')
    expect(second.stdout).toMatch(/Apply complete: 0 added, 0 changed, 0 destroyed/)
  })
})

describe('the PROXIMITY_* environment', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let apps: string
  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'web.yaml'), appYaml('web'))
    await writeFile(join(work.dir, 'ssh-key'), sim.ssh.privateKey, { mode: 0o600 })
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('targets the Proxmox named by the environment (no sandbox)', async () => {
    const env = {
      PROXIMITY_ENDPOINT: sim.endpoint,
      PROXIMITY_TOKEN_ID: sim.tokenId,
      PROXIMITY_TOKEN_SECRET: sim.tokenSecret,
      PROXIMITY_FINGERPRINT: sim.fingerprint,
      PROXIMITY_SSH_HOST: sim.ssh.host,
      PROXIMITY_SSH_PORT: String(sim.ssh.port),
      PROXIMITY_SSH_USER: sim.ssh.user,
      PROXIMITY_SSH_KEY_FILE: 'ssh-key',
      PROXIMITY_SSH_HOST_KEY: sim.ssh.hostKey,
    }
    const r = await runCli(['apply', '-f', apps], { cwd: work.dir, env })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stderr).not.toContain('built-in sandbox')
    expect(sim.guests().some((g) => String(g.config.description ?? '').includes('"name":"web"'))).toBe(true)
    expect(existsSync(join(testStateHome(work.dir), 'proximity', 'sandbox'))).toBe(false)
  })

  const bad = [
    {
      name: 'no credentials',
      reason: 'an endpoint alone cannot authenticate; say which variables to set',
      env: { PROXIMITY_ENDPOINT: 'https://127.0.0.1:1' },
      want: 'PROXIMITY_TOKEN_ID and PROXIMITY_TOKEN_SECRET',
    },
    {
      name: 'no TLS pin',
      reason: 'TLS must be pinned (DESIGN §9); an unpinned endpoint is refused before any request',
      env: { PROXIMITY_ENDPOINT: 'https://127.0.0.1:1', PROXIMITY_TOKEN_ID: 'root@pam!x', PROXIMITY_TOKEN_SECRET: '00000000-0000-0000-0000-000000000000' },
      want: 'PROXIMITY_FINGERPRINT',
    },
    {
      name: 'ssh without host key',
      reason: 'SSH host keys are pinned too',
      env: {
        PROXIMITY_ENDPOINT: 'https://127.0.0.1:1',
        PROXIMITY_TOKEN_ID: 'root@pam!x',
        PROXIMITY_TOKEN_SECRET: '00000000-0000-0000-0000-000000000000',
        PROXIMITY_INSECURE: '1',
        PROXIMITY_SSH_HOST: '127.0.0.1',
      },
      want: 'PROXIMITY_SSH_HOST_KEY',
    },
  ]
  for (const c of bad) {
    it(`${c.name}: ${c.reason}`, async () => {
      const r = await runCli(['plan', '-f', apps], { cwd: work.dir, env: c.env })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(c.want)
      expect(r.stderr).not.toContain('00000000-0000-0000-0000-000000000000')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    })
  }
})
