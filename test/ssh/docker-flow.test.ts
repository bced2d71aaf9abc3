import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { startTestNode } from './helpers.js'
import type { TestNode } from './helpers.js'
import { setServiceHealth } from '../../src/sim/ct-runtime.js'
import type { SshNodeShell } from '../../src/providers/ssh/client.js'

let t: TestNode
let pool: ReturnType<TestNode['pool']>
let sh: SshNodeShell

const COMPOSE = `services:
  app:
    image: ghcr.io/example/notes:\${APP_TAG:-1.4.2}
    command: ["/app/server", "--config", "/etc/notes.yaml"]
    restart: unless-stopped
    environment:
      DB_PASSWORD: \${DB_PASSWORD:?set DB_PASSWORD}
      QUIRKY: \${QUIRKY}
    ports:
      - "8080:3000"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:3000/healthz"]
      interval: 5s
  db:
    image: postgres:16-alpine
    volumes:
      - pgdata:/var/lib/postgresql/data
    expose:
      - "5432"
volumes:
  pgdata: {}
`
const DIR = '/opt/proximity/notes'
const dc = (...args: string[]): string[] => ['docker', 'compose', '-p', 'notes', '-f', `${DIR}/compose.yaml`, '--progress', 'plain', ...args]

beforeAll(async () => {
  t = await startTestNode()
  t.addGuest(101)
  t.addGuest(105, { config: { unprivileged: 1, features: 'keyctl=1' } })
  pool = t.pool()
  sh = pool.forNode('pve1')
})
afterAll(async () => {
  await t.close()
})

async function ok(argv: string[]): Promise<string> {
  const r = await sh.pctExec(101, argv)
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0)
  return r.stdout
}

describe('docker compose flow inside a CT over SSH', () => {
  it('installs docker, enables and starts it, and reports versions', async () => {
    const before = await sh.pctExec(101, ['docker', 'version', '--format', '{{.Server.Version}}'])
    expect(before.code).toBe(127)
    const add = await ok(['apk', 'add', '--no-cache', 'docker-engine', 'docker-cli', 'docker-cli-compose'])
    expect(add).toMatch(/^\(1\/\d+\) Installing /m)
    expect(add).toMatch(/^OK: \d+ MiB in \d+ packages$/m)
    expect(await ok(['rc-update', 'add', 'docker', 'default'])).toBe(' * service docker added to runlevel default\n')
    expect(await ok(['rc-update', 'add', 'docker', 'default'])).toBe(" * rc-update: docker already installed in runlevel `default'; skipping\n")
    const down = await sh.pctExec(101, ['docker', 'version', '--format', '{{.Server.Version}}'])
    expect(down).toMatchObject({ code: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' })
    await ok(['rc-service', 'docker', 'start'])
    const again = await sh.pctExec(101, ['rc-service', 'docker', 'start'])
    expect(again).toMatchObject({ code: 0, stderr: ' * WARNING: docker has already been started\n' })
    expect(await ok(['docker', 'version', '--format', '{{.Server.Version}}'])).toBe('28.3.3\n')
    expect(await ok(['docker', 'info', '--format', '{{.Driver}}'])).toBe('overlay2\n')
    expect(await ok(['docker', 'compose', 'version', '--short'])).toBe('2.36.2\n')
    expect(await ok(['runc', '--version'])).toMatch(/^runc version 1\.3\.3$/m)
    expect(await ok(['apk', 'info', '-v', 'docker-engine', 'docker-cli-compose', 'containerd', 'runc'])).toBe('docker-engine-28.3.3-r4\ndocker-cli-compose-2.36.2-r4\ncontainerd-2.1.3-r3\nrunc-1.3.3-r0\n')
  })

  it('refuses unknown packages like apk', async () => {
    const r = await sh.pctExec(101, ['apk', 'add', '--no-cache', 'no-such-pkg'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('ERROR: unable to select packages:\n  no-such-pkg (no such package):\n    required by: world[no-such-pkg]\n')
  })

  it('docker does not come up in an unprivileged CT without nesting', async () => {
    const r = async (argv: string[]) => sh.pctExec(105, argv)
    expect((await r(['apk', 'add', 'docker-engine', 'docker-cli'])).code).toBe(0)
    expect((await r(['rc-service', 'docker', 'start'])).code).toBe(0)
    expect((await r(['docker', 'version', '--format', '{{.Server.Version}}'])).code).toBe(1)
    expect((await r(['tail', '-n', '50', '/var/log/docker.log'])).stdout).toContain('nesting=1')
  })

  it('validates the project, requiring variables from .env', async () => {
    await sh.pushFile(101, `${DIR}/compose.yaml`, COMPOSE)
    const missing = await sh.pctExec(101, dc('config', '-q'))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('required variable DB_PASSWORD is missing a value: set DB_PASSWORD')
    await sh.pushFile(101, `${DIR}/.env`, "DB_PASSWORD='a\\'b;c $(x) `id`'\nQUIRKY=\"q \\$HOME\" # comment\n", { perms: '0600' })
    const cfg = await sh.pctExec(101, dc('config', '-q'))
    expect(cfg).toEqual({ code: 0, stdout: '', stderr: '' })
    const resolved = parseYaml(await ok(dc('config'))) as { services: { app: { environment: Record<string, string> } } }
    expect(resolved.services.app.environment).toEqual({ DB_PASSWORD: "a'b;c $(x) `id`", QUIRKY: 'q $HOME' })
    expect(await sh.fileSha256(101, `${DIR}/.env`)).toMatch(/^[0-9a-f]{64}$/)
    expect(await sh.fileSha256(101, `${DIR}/absent`)).toBeUndefined()
    const typo = `${DIR}/typo.yaml`
    await sh.pushFile(101, typo, 'services:\n  app:\n    imgae: x\n')
    const bad = await sh.pctExec(101, ['docker', 'compose', '-p', 'notes', '-f', typo, 'config', '-q'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`validating ${typo}: services.app additional properties 'imgae' not allowed`)
  })

  it('up -d creates containers; ps -a --format json has the compose shape', async () => {
    const up = await sh.pctExec(101, dc('up', '-d', '--remove-orphans'))
    expect(up.code, up.stderr).toBe(0)
    expect(up.stderr).toContain(' Container notes-app-1  Started')
    t.clock.now += 500
    const ps = await ok(dc('ps', '-a', '--format', 'json'))
    expect(ps.endsWith('\n')).toBe(true)
    const lines = ps.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    const keys = Object.keys(JSON.parse(lines[0]))
    expect(keys).toEqual([...keys].sort())
    const app = JSON.parse(lines[0])
    expect(app).toMatchObject({
      Name: 'notes-app-1', Names: 'notes-app-1', Project: 'notes', Service: 'app', Image: 'ghcr.io/example/notes:1.4.2',
      State: 'running', Health: 'starting', ExitCode: 0, Status: 'Less than a second'.replace(/^/, 'Up ') + ' (health: starting)',
      Command: '"/app/server --confi…"', LocalVolumes: '0', Size: '0B', Networks: 'notes_default',
      Publishers: [
        { URL: '0.0.0.0', TargetPort: 3000, PublishedPort: 8080, Protocol: 'tcp' },
        { URL: '::', TargetPort: 3000, PublishedPort: 8080, Protocol: 'tcp' },
      ],
    })
    expect(app.ID).toMatch(/^[0-9a-f]{12}$/)
    expect(lines[0]).toContain('"Ports":"0.0.0.0:8080-\\u003e3000/tcp, [::]:8080-\\u003e3000/tcp"')
    const db = JSON.parse(lines[1])
    expect(db).toMatchObject({ Name: 'notes-db-1', Health: '', Mounts: 'notes_pgdata', LocalVolumes: '1', Ports: '5432/tcp', Publishers: [{ URL: '', TargetPort: 5432, PublishedPort: 0, Protocol: 'tcp' }] })
    const images = JSON.parse(await ok(dc('images', '--format', 'json')))
    expect(images[0]).toMatchObject({ ContainerName: 'notes-app-1', Repository: 'ghcr.io/example/notes', Tag: '1.4.2' })
    expect(images[0].ID).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('health goes starting → healthy with the clock; wget and nc probe the published port', async () => {
    const probe = ['wget', '-q', '-Y', 'off', '-T', '5', '-O', '-', 'http://127.0.0.1:8080/healthz']
    const starting = await sh.pctExec(101, probe)
    expect(starting).toMatchObject({ code: 1, stderr: 'wget: server returned error: HTTP/1.1 503 Service Unavailable\n' })
    t.clock.now += 2_000
    const ps = JSON.parse((await ok(dc('ps', '-a', '--format', 'json'))).split('\n')[0])
    expect(ps.Health).toBe('healthy')
    expect(ps.Status).toBe('Up 2 seconds (healthy)')
    expect(await ok(probe)).toBe('ok\n')
    const headers = await sh.pctExec(101, ['wget', '-S', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'])
    expect(headers.stderr).toMatch(/^ {2}HTTP\/1\.1 200 OK$/m)
    expect((await sh.pctExec(101, ['nc', '-z', '-w', '2', '127.0.0.1', '8080'])).code).toBe(0)
    expect((await sh.pctExec(101, ['nc', '-z', '-w', '2', '127.0.0.1', '9999'])).code).toBe(1)
    const refused = await sh.pctExec(101, ['wget', '-q', '-O', '-', 'http://127.0.0.1:9999/'])
    expect(refused.stderr).toBe("wget: can't connect to remote host (127.0.0.1): Connection refused\n")

    setServiceHealth(t.guests.get(101)!.runtime, 'notes', 'app', 'unhealthy')
    const sick = await sh.pctExec(101, probe)
    expect(sick.code).toBe(1)
    expect(sick.stderr).toContain('503 Service Unavailable')
    const psSick = JSON.parse((await ok(dc('ps', '-a', '--format', 'json'))).split('\n')[0])
    expect(psSick.Health).toBe('unhealthy')
  })

  it('up again leaves unchanged services alone and recreates changed ones', async () => {
    const idsBefore = (await ok(dc('ps', '-q'))).split('\n')
    const same = await sh.pctExec(101, dc('up', '-d'))
    expect(same.stderr).toContain(' Container notes-app-1  Running')
    expect((await ok(dc('ps', '-q'))).split('\n')).toEqual(idsBefore)
    await sh.pushFile(101, `${DIR}/.env`, "DB_PASSWORD='other'\nQUIRKY=x\n", { perms: '0600' })
    const changed = await sh.pctExec(101, dc('up', '-d', '--wait', '--wait-timeout', '60'))
    expect(changed.code, changed.stderr).toBe(0)
    expect(changed.stderr).toContain(' Container notes-app-1  Recreate')
    expect(changed.stderr).toContain(' Container notes-db-1  Running')
    const after = (await ok(dc('ps', '-q'))).split('\n')
    expect(after[0]).not.toBe(idsBefore[0])
    expect(after[1]).toBe(idsBefore[1])
    const ps = JSON.parse((await ok(dc('ps', '-a', '--format', 'json'))).split('\n')[0])
    expect(ps.Health).toBe('healthy')
  })

  it('restart policies apply when the CT is stopped and started', async () => {
    t.setStatus(101, 'stopped')
    t.setStatus(101, 'running')
    t.clock.now += 10_000
    const ps = (await ok(dc('ps', '-a', '--format', 'json'))).trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(ps.map((c) => [c.Service, c.State])).toEqual([['app', 'running'], ['db', 'exited']])
    const running = (await ok(dc('ps', '--format', 'json'))).trimEnd().split('\n')
    expect(running).toHaveLength(1)
  })

  it('pull failures and down', async () => {
    await sh.pushFile(101, '/opt/proximity/broken/compose.yaml', 'services:\n  web:\n    image: ghcr.io/example/web:doesnotexist\n')
    const up = await sh.pctExec(101, ['docker', 'compose', '-p', 'broken', '-f', '/opt/proximity/broken/compose.yaml', 'up', '-d'])
    expect(up.code).toBe(1)
    expect(up.stderr).toContain('Error response from daemon: manifest for ghcr.io/example/web:doesnotexist not found: manifest unknown: manifest unknown')
    const down = await sh.pctExec(101, dc('down', '-v'))
    expect(down.code).toBe(0)
    expect(down.stderr).toContain(' Container notes-app-1  Removed')
    expect(await ok(dc('ps', '-a', '--format', 'json'))).toBe('')
    const again = await sh.pctExec(101, dc('down'))
    expect(again).toMatchObject({ code: 0, stderr: 'Warning: No resource found to remove for project "notes".\n' })
  })

  it('up --wait reports a crashing service', async () => {
    await sh.pushFile(101, '/opt/proximity/crashy/compose.yaml', 'services:\n  job:\n    image: example/crash:1\n')
    const r = await sh.pctExec(101, ['docker', 'compose', '-p', 'crashy', '-f', '/opt/proximity/crashy/compose.yaml', 'up', '-d', '--wait'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('container crashy-job-1 exited (1)')
  })
})
