import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator } from '../../src/sim/index.js'
import type { RunningSimulator } from '../../src/sim/index.js'
import { createNodeShellPool } from '../../src/providers/ssh/client.js'

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ http: true, taskLatencyMs: 5 })
})
afterAll(async () => {
  await sim.stop()
})

async function api(method: string, path: string, form?: Record<string, string>): Promise<{ status: number; data: any }> {
  const res = await fetch(`${sim.endpoint}/api2/json${path}`, {
    method,
    headers: {
      authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`,
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  })
  const text = await res.text()
  return { status: res.status, data: text ? JSON.parse(text).data : undefined }
}

async function waitTask(node: string, upid: string): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const r = await api('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)
    if (r.data?.status === 'stopped') return r.data.exitstatus
    await new Promise((res) => setTimeout(res, 5))
  }
  throw new Error('task did not finish')
}

describe('SSH node of the real simulator', () => {
  it('create + start a CT over HTTP, set keyctl over SSH, then run the docker flow', async () => {
    const node = sim.nodes[0]
    const create = await api('POST', `/nodes/${node}/lxc`, {
      vmid: '301',
      ostemplate: 'local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz',
      hostname: 'notes',
      unprivileged: '1',
      features: 'nesting=1',
      rootfs: 'local-lvm:4',
    })
    expect(create.status).toBe(200)
    expect(await waitTask(node, create.data)).toBe('OK')

    const pool = createNodeShellPool({ host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKey: sim.ssh.privateKey, hostKey: sim.ssh.hostKey, timeoutMs: 10_000 })
    const sh = pool.forNode(node)
    const stopped = await sh.pctExec(301, ['true'])
    expect(stopped).toMatchObject({ code: 255, stderr: "container '301' not running!\n" })

    await sh.setFeatures(301, { nesting: 1, keyctl: 1 })
    const cfg = await api('GET', `/nodes/${node}/lxc/301/config`)
    expect(String(cfg.data.features).split(',').sort()).toEqual(['keyctl=1', 'nesting=1'])

    const start = await api('POST', `/nodes/${node}/lxc/301/status/start`, {})
    expect(await waitTask(node, start.data)).toBe('OK')

    const run = async (argv: string[]): Promise<string> => {
      const r = await sh.pctExec(301, argv)
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0)
      return r.stdout
    }
    await run(['apk', 'add', '--no-cache', 'docker-engine', 'docker-cli', 'docker-cli-compose'])
    await run(['rc-update', 'add', 'docker', 'default'])
    await run(['rc-service', 'docker', 'start'])
    expect(await run(['docker', 'version', '--format', '{{.Server.Version}}'])).toBe('28.3.3\n')
    await sh.pushFile(301, '/opt/proximity/web/compose.yaml', 'services:\n  web:\n    image: nginx:1.27\n    ports: ["8081:80"]\n')
    await run(['docker', 'compose', '-p', 'web', '-f', '/opt/proximity/web/compose.yaml', '--progress', 'plain', 'up', '-d', '--wait'])
    expect(await run(['wget', '-q', '-O', '-', 'http://127.0.0.1:8081/'])).toBe('ok\n')
    expect(pool.sessionsOpened()).toBe(1)

    const sshEntries = sim.log.entries().filter((e) => e.method === 'SSH')
    expect(sshEntries.map((e) => e.route)).toEqual(expect.arrayContaining(['pct exec', 'pct push', 'pct set']))
    expect(sshEntries.find((e) => e.route === 'pct set')?.status).toBe(0)
    await pool.closeAll()
  })
})
