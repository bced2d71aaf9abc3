import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { parse } from 'yaml'
import { createCt, raw, startSim } from './helpers.js'

describe('persistence', () => {
  it('keeps credentials and guests across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-persist-'))
    const statePath = join(dir, 'state.json')
    const a = await startSim({ statePath })
    await createCt(a, 500, '&hostname=keep&start=1')
    const creds = { tokenSecret: a.tokenSecret, password: a.password, hostKey: a.ssh.hostKey }
    expect((await stat(a.ssh.privateKeyFile)).mode & 0o777).toBe(0o600)
    await a.stop()
    const b = await startSim({ statePath })
    try {
      expect({ tokenSecret: b.tokenSecret, password: b.password, hostKey: b.ssh.hostKey }).toEqual(creds)
      expect(b.tokenSecret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      const cfg = (await raw(b, 'GET', '/nodes/pve/lxc/500/config')).json.data
      expect(cfg.hostname).toBe('keep')
      expect(b.guests().find((g) => g.vmid === 500)!.status).toBe('running')
      expect((await raw(b, 'GET', '/cluster/nextid')).json.data).toBe('100')
    } finally {
      await b.stop()
    }
  })
})

describe('multi-node', () => {
  it('names nodes pve1..pveN with their own storages and one vmid registry', async () => {
    const sim = await startSim({ nodes: 3, resourcesLagMs: 60_000 })
    try {
      expect(sim.nodes).toEqual(['pve1', 'pve2', 'pve3'])
      const status = (await raw(sim, 'GET', '/cluster/status')).json.data
      expect(status[0]).toMatchObject({ type: 'cluster', nodes: 3, quorate: 1 })
      await createCt(sim, 600, '', 'pve2')
      const dup = await raw(sim, 'POST', '/nodes/pve3/lxc', { form: `vmid=600&ostemplate=${encodeURIComponent('local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz')}&rootfs=local-lvm%3A4` })
      expect(dup.reason).toBe("CT 600 already exists on node 'pve2'")
      expect((await raw(sim, 'GET', '/nodes/pve1/lxc')).json.data).toEqual([])
      expect((await raw(sim, 'POST', '/nodes/pve1/vzdump', { form: 'vmid=600' })).json.data).toBe('OK')
      const storages = (await raw(sim, 'GET', '/cluster/resources?type=storage')).json.data.map((s: any) => s.id)
      expect(storages).toContain('storage/pve3/local-lvm')
      const res = (await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data[0]
      expect(res.status).toBe('unknown')
      sim.faults.lockGuest(600, 'backup')
      expect((await raw(sim, 'GET', '/cluster/resources?type=vm')).json.data[0]).toMatchObject({ lock: 'backup', status: 'unknown' })
    } finally {
      await sim.stop()
    }
  })

  it('the standalone cluster status is a single node entry', async () => {
    const sim = await startSim()
    try {
      expect((await raw(sim, 'GET', '/cluster/status')).json.data).toEqual([{ type: 'node', id: 'node/pve', name: 'pve', ip: '192.168.1.10', local: 1, nodeid: 0, online: 1, level: '' }])
    } finally {
      await sim.stop()
    }
  })
})

describe('proximity sandbox', () => {
  it('starts with -o json, writes a Cluster manifest without plaintext secrets, stops on SIGTERM, and resets', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sandbox-cli-'))
    // The sandbox keeps its state in the per-user state folder, never in the working folder.
    const env = { HOME: await mkdtemp(join(tmpdir(), 'sandbox-home-')) }
    const stdout = new PassThrough()
    let text = ''
    stdout.on('data', (c) => (text += String(c)))
    const run = main(['sandbox', 'start', '--listen', '127.0.0.1:0', '--http', '-o', 'json', '--task-latency', 'vzcreate=20ms,default=5ms', '--cluster-manifest', 'cluster.yaml'], { stdout, stderr: new PassThrough(), cwd, env })
    for (let i = 0; i < 400 && !text.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10))
    const info = JSON.parse(text.trim())
    expect(Object.keys(info).sort()).toEqual(['endpoint', 'fingerprint', 'password', 'ssh', 'tokenId', 'tokenSecret'])
    expect(Object.keys(info.ssh).sort()).toEqual(['host', 'hostKey', 'port', 'privateKeyFile', 'user'])
    const manifestText = await readFile(join(cwd, 'cluster.yaml'), 'utf8')
    expect(manifestText).not.toContain(info.tokenSecret)
    const m = parse(manifestText)
    expect(m).toMatchObject({ apiVersion: 'proximity/v1alpha1', kind: 'Cluster', spec: { endpoint: info.endpoint, auth: { tokenId: 'root@pam!proximity' }, ssh: { port: info.ssh.port } } })
    // Secrets are files beside the manifest (git-ignored), referenced relatively so the loader accepts them.
    const secretFile = join(cwd, m.spec.auth.tokenSecret.file as string)
    expect((await readFile(secretFile, 'utf8')).trim()).toBe(info.tokenSecret)
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600)
    expect(await readFile(join(cwd, m.spec.ssh.privateKey.file as string), 'utf8')).toBe(await readFile(info.ssh.privateKeyFile, 'utf8'))
    expect(await readFile(join(cwd, 'cluster.secrets', '.gitignore'), 'utf8')).toBe('*\n')
    const validate = await main(['validate', '-f', 'cluster.yaml'], { stdout: new PassThrough(), stderr: new PassThrough(), cwd, env })
    expect(validate).toBe(0)
    process.emit('SIGTERM')
    expect(await run).toBe(0)
    const statePath = join(env.HOME, '.local', 'state', 'proximity', 'sandbox', 'sandbox', 'state.json')
    expect((await stat(statePath)).isFile()).toBe(true)
    expect((await readdir(cwd)).sort()).toEqual(['cluster.secrets', 'cluster.yaml'])
    expect(await main(['sandbox', 'reset'], { stdout: new PassThrough(), cwd, env })).toBe(0)
    await expect(stat(statePath)).rejects.toThrow()
  })

  it('rejects a bad --task-latency with a clear error', async () => {
    const stderr = new PassThrough()
    let text = ''
    stderr.on('data', (c) => (text += String(c)))
    expect(await main(['sandbox', 'start', '--task-latency', 'soon'], { stdout: new PassThrough(), stderr, cwd: tmpdir(), env: { HOME: tmpdir() } })).toBe(1)
    expect(text).toMatch(/invalid duration 'soon'/)
  })
})
