/**
 * Plan and apply agree on a replacement (issue 9 point 2), through the real CLI against the real
 * simulator: `plan` shows `-/+ … replace (backup first, volumes moved)`, `apply` does exactly that,
 * and the data of a volume is still there on the new guest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseMarker } from '../../src/model/marker.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

const withVolume = (template: string): string =>
  appYaml('keeper').replace('  resources:', `  template: ${template}\n  volumes:\n    - {name: data, path: /data, size: 1}\n  resources:`)

describe('replacement through the CLI', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let args: string[]
  let file: string

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    file = join(apps, 'keeper.yaml')
    await writeFile(file, withVolume('alpine-3.22'))
    args = ['-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state')]
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  const keeper = () => sim.guests().filter((g) => parseMarker(g.description)?.name === 'keeper')

  it('plan shows the replacement, apply does it, and nothing is left to do', async () => {
    const [old] = keeper()
    expect(old?.config.mp0).toBeDefined()
    await writeFile(file, withVolume('alpine-3.23'))
    const p = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(p.code, p.stderr).toBe(2)
    expect(p.stdout).toContain(`  # App/keeper will be replaced (guest ${old!.vmid} on ${old!.node}: replace (backup first, volumes moved))`)
    expect(p.stdout).toContain('-/+ App/keeper\n')
    expect(p.stdout).toContain('      ~ template: "alpine-3.22" -> "alpine-3.23" # replace, forces replacement\n')
    expect(p.stdout).toContain('Plan: 1 to add, 0 to change, 1 to destroy.')

    // A replacement destroys a guest: where apply asks first (no TTY here), approve it up front.
    const help = await runCli(['apply', '--help'], { cwd: work.dir })
    const approve = help.stdout.includes('--yes') ? ['--yes'] : []
    const a = await runCli(['apply', ...approve, ...args], { cwd: work.dir })
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const now = keeper()
    expect(now).toHaveLength(1)
    expect(now[0]!.vmid).not.toBe(old!.vmid)
    expect(String(now[0]!.config.mp0)).toMatch(new RegExp(`^local-lvm:vm-${now[0]!.vmid}-disk-\\d+,.*mp=/data`))

    const again = await runCli(['plan', '--detailed-exitcode', ...args], { cwd: work.dir })
    expect(again.code, again.stdout + again.stderr).toBe(0)
  })
})
