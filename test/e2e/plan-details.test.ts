/**
 * Plans that say what changes (issue 9 point 3), through the real CLI against the real simulator:
 * after a converged apply, a memory change prints with units and its impact, `state: stopped`
 * prints in manifest words (never `onboot`), and `-o json` carries the same details.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PlanJson } from '../../src/plan/json.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

describe('plan details against the sandbox', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let clusterDir: string
  let appsDir: string
  const args = (): string[] => ['-f', appsDir, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    clusterDir = await writeClusterManifest(work.dir, sim)
    appsDir = join(work.dir, 'apps')
    await mkdir(appsDir)
    await writeFile(join(appsDir, 'web.yaml'), appYaml('web', { memory: 256 }))
    const r = await runCli(['apply', ...args()], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('prints sizes with units and the impact of each field', async () => {
    await writeFile(join(appsDir, 'web.yaml'), appYaml('web', { memory: 1024, cores: 2 }))
    const r = await runCli(['plan', ...args()], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('      ~ resources.cores: 1 -> 2 # live\n')
    expect(r.stdout).toContain('      ~ resources.memory: 256Mi -> 1Gi # live\n')
    expect(r.stdout).toContain('Each change says how it lands: live')
    expect(r.stdout).toContain('Plan: 0 to add, 1 to change, 0 to destroy.')
  })

  it('names state changes in manifest words, never the raw Proxmox key', async () => {
    await writeFile(join(appsDir, 'web.yaml'), appYaml('web', { memory: 256 }).replace('  deletionPolicy:', '  state: stopped\n  deletionPolicy:'))
    const r = await runCli(['plan', ...args()], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('      ~ state: "running" -> "stopped" # live\n')
    expect(r.stdout).toContain('      ~ state.startOnBoot: true -> false # live\n')
    expect(r.stdout).not.toMatch(/onboot/)
  })

  it('-o json carries the same details: numbers in their unit, the display text and the impact', async () => {
    await writeFile(join(appsDir, 'web.yaml'), appYaml('web', { memory: 1024 }))
    const r = await runCli(['plan', '-o', 'json', ...args()], { cwd: work.dir })
    expect(r.code, r.stderr).toBe(0)
    const plan = JSON.parse(r.stdout) as PlanJson
    const field = plan.changes.find((c) => c.key === 'App/web')?.fields.find((f) => f.path === 'resources.memory')
    expect(field).toEqual({ path: 'resources.memory', before: 256, after: 1024, impact: 'live', sensitive: false, forcesReplacement: false, refused: null, unit: 'MiB', display: { before: '256Mi', after: '1Gi' }, note: null })
  })
})
