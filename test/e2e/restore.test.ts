/**
 * `proximity restore` through the real CLI against the real simulator: a file changed in the
 * app's container is back afterwards, the guest keeps its vmid and marker, the app is Ready; the
 * command refuses to run unconfirmed without a terminal.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderNotesTemplate } from '../../src/model/backup-notes.js'
import { parseMarker } from '../../src/model/marker.js'
import { createPveClient, type PveHttpClient } from '../../src/providers/proxmox/index.js'
import { createNodeShellPool } from '../../src/providers/ssh/index.js'
import type { NodeShellPool } from '../../src/providers/ssh/types.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'

describe('proximity restore', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let pve: PveHttpClient
  let shells: NodeShellPool
  let args: string[]
  let vmid: number

  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    const clusterDir = await writeClusterManifest(work.dir, sim)
    await mkdir(join(work.dir, 'apps'))
    await writeFile(join(work.dir, 'apps', 'notes.yaml'), appYaml('notes'))
    args = ['-f', join(work.dir, 'apps'), '-f', clusterDir, '--state-dir', join(work.dir, 'state')]
    pve = createPveClient({ endpoint: sim.endpoint, tls: { fingerprint: sim.fingerprint }, auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret } })
    shells = createNodeShellPool({ host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKey: sim.ssh.privateKey, hostKey: sim.ssh.hostKey })
    const r = await runCli(['apply', ...args], { cwd: work.dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    vmid = sim.guests().find((g) => g.config.hostname === 'notes')?.vmid as number
  })
  afterAll(async () => {
    await shells?.closeAll()
    await pve?.close()
    await sim?.stop()
    await work?.cleanup()
  })

  it('needs --yes without a terminal and changes nothing', async () => {
    sim.log.clear()
    const r = await runCli(['restore', 'notes', ...args], { cwd: work.dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('pass --yes')
    expect(sim.log.mutating()).toEqual([])
  })

  it('a file changed in the container is back; same vmid and marker; Ready', async () => {
    const shell = shells.forNode('pve')
    await shell.pushFile(vmid, '/srv/state.txt', 'before\n', { perms: '0644' })
    const upid = await pve.vzdump('pve', { vmid: String(vmid), storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': renderNotesTemplate({ owner: 'proximity', app: 'notes', revision: 'main@sha1:abcdef1', trigger: 'manual' }) })
    if (upid !== 'OK') await pve.waitTask('pve', upid)
    await shell.pushFile(vmid, '/srv/state.txt', 'after\n', { perms: '0644' })
    await new Promise((r) => setTimeout(r, 1100)) // archives are named by the second

    const r = await runCli(['restore', 'notes', '--yes', ...args], { cwd: work.dir })
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('revision main@sha1:abcdef1')
    expect((await shell.pctExec(vmid, ['cat', '/srv/state.txt'])).stdout).toBe('before\n')
    const g = sim.guests().find((x) => x.vmid === vmid)
    expect(g?.status).toBe('running')
    expect(parseMarker(g?.description)).toMatchObject({ kind: 'App', name: 'notes' })

    const get = await runCli(['get', 'apps', '-o', 'json', '--state-dir', join(work.dir, 'state')], { cwd: work.dir })
    const items = (JSON.parse(get.stdout) as { items: { name: string; conditions: { type: string; status: string }[] }[] }).items
    expect(items.find((i) => i.name === 'notes')?.conditions.find((c) => c.type === 'Ready')?.status).toBe('True')
    const again = await runCli(['apply', ...args], { cwd: work.dir })
    expect(again.code, again.stdout + again.stderr).toBe(0)
  })
})
