/**
 * A node whose SSH host key is not the pinned one, through the real CLI against the real
 * simulator's SSH node: the app stalls with a message naming both fingerprints, a second apply
 * does not try again (DESIGN §9 "refuse on mismatch"), and pinning the right key resumes.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, clusterChanges, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

describe('ssh host-key mismatch', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let stateDir: string
  const pinned = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim, { hostKey: pinned })
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    await writeFile(join(apps, 'web.yaml'), appYaml('web'))
    stateDir = join(work.dir, 'state')
    args = ['-f', apps, '-f', clusterDir, '--state-dir', stateDir]
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('stalls the app naming the pinned and the offered key, does not retry, and resumes once the right key is pinned', async () => {
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/App\/web: SshHostKeyMismatch: cannot /)
    expect(r.stdout).toContain(`expected ${pinned}`)
    expect(r.stdout).toContain(`offered ${sim.ssh.hostKey}`)
    expect(sim.log.entries().filter((e) => e.method === 'SSH')).toEqual([]) // nothing ran on the node

    const get = await runCli(['get', 'apps', 'web', '--state-dir', stateDir], { cwd: work.dir })
    expect(get.stdout).toMatch(/web\s+False\s+SshHostKeyMismatch/)

    sim.log.clear()
    const again = await runCli(['apply', ...args], { cwd: work.dir })
    expect(again.code).toBe(1)
    expect(again.stdout).toMatch(/App\/web: SshHostKeyMismatch: /)
    expect(clusterChanges(sim)).toEqual([])

    // Pinning the offered key in the Cluster manifest (a new revision) resumes: no --force needed.
    await writeClusterManifest(work.dir, sim)
    const fixed = await runCli(['apply', ...args], { cwd: work.dir })
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0)
    const ready = await runCli(['get', 'apps', 'web', '--state-dir', stateDir], { cwd: work.dir })
    expect(ready.stdout).toMatch(/web\s+True\s+Succeeded/)
    expect(sim.guests().filter((g) => g.config.hostname === 'web').length).toBe(1) // the guest of the first run, reused
  })
})
