/**
 * Issue 9 point 1, through the real CLI against the simulator over HTTPS/SSH: a field that would
 * be accepted and then ignored is refused by validate with a located error, and `apply` ends with
 * a non-zero exit at once when an App waits on something no controller will make Ready in this
 * run (instead of sitting queued until its timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, clusterChanges, guestsByApp, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

describe('fields accepted and then ignored are refused', () => {
  let work: { dir: string; cleanup: () => Promise<void> }
  beforeAll(async () => {
    work = await tempDir()
  })
  afterAll(async () => {
    await work?.cleanup()
  })

  it('validate, plan and apply refuse expose without network.appliance at its line and column, changing nothing', async () => {
    const file = join(work.dir, 'web.yaml')
    await writeFile(file, `${appYaml('web')}  expose:\n    - port: 80\n`)
    const line = appYaml('web').split('\n').length
    for (const cmd of ['validate', 'plan', 'apply']) {
      const r = await runCli([cmd, '-f', file, ...(cmd === 'validate' ? [] : ['--state-dir', join(work.dir, 'state')])], { cwd: work.dir })
      expect(r.code, cmd).toBe(1)
      const text = r.stdout + r.stderr
      expect(text, cmd).toContain(`web.yaml:${line}:3`)
      expect(text, cmd).toMatch(/not supported yet: expose needs network\.appliance/)
    }
  })
})

describe('apply with an App waiting on something nothing will provide', () => {
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

  it('exits 1 at once naming the dependency, and creates nothing for the waiting app', async () => {
    const clusterDir = await writeClusterManifest(work.dir, sim)
    const apps = join(work.dir, 'apps')
    await mkdir(apps, { recursive: true })
    // db is suspended before it was ever applied: it will not become Ready, so web (dependsOn db) cannot either.
    await writeFile(join(apps, 'db.yaml'), `${appYaml('db')}  suspend: true\n`)
    await writeFile(join(apps, 'web.yaml'), `${appYaml('web')}  dependsOn: [db]\n`)
    await writeFile(join(apps, 'ok.yaml'), appYaml('ok'))
    const r = await runCli(['apply', '-f', apps, '-f', clusterDir, '--state-dir', join(work.dir, 'state'), '--timeout', '15m'], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toMatch(/App\/web: DependencyNotReady: App\/web cannot become Ready in this run: App\/db ended NotReady \(Suspended/)
    expect(guestsByApp(sim).has('web')).toBe(false)
    expect(guestsByApp(sim).has('db')).toBe(false)
    // The independent app is created and Ready all the same.
    expect(guestsByApp(sim).get('ok')).toHaveLength(1)
    expect(clusterChanges(sim).length).toBeGreaterThan(0)
  })
})
