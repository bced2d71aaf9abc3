/**
 * `serve --git` end to end: a bare repository on disk, commits pushed with the git CLI, real
 * HTTP webhooks signed like GitHub's, and a local receiver that records the notifications and
 * verifies their signatures. A signed push converges; an invalid commit is not applied (the
 * previous revision keeps running) and is reported; polling alone converges too; every delivery
 * has its verdict in the log.
 */
import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { existsSync } from 'node:fs'
import { appendFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createTokenAuthority } from '../../src/api/tokens.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { createTestRepo, type TestRepo } from '../git/repo.js'
import { appYaml, runCli, startSim, tempDir, testHomeDir, writeClusterManifest } from './helpers.js'
import { startServe, until, type ServeRun } from './serve-helpers.js'

const SECRET = 'gitops-webhook-secret'
const NOTIFY_SECRET = 'gitops-notify-secret'

describe('serve --git', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(): Promise<{ sim: RunningSimulator; repo: TestRepo; dir: string; cluster: string; notifyUrl: string; args: string[]; received: { body: string; signature?: string }[] }> {
    const sim = await startSim()
    cleanups.push(() => sim.stop())
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const cluster = await writeClusterManifest(t.dir, sim)
    const repo = createTestRepo(join(t.dir, 'repo'))
    repo.commit({ 'apps/web.yaml': appYaml('web') }, 'first app')
    await writeFile(join(t.dir, 'hook.secret'), `${SECRET}\n`)
    await writeFile(join(t.dir, 'notify.secret'), `${NOTIFY_SECRET}\n`)
    const received: { body: string; signature?: string }[] = []
    const server: Server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-signature'] as string | undefined })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanups.push(() => new Promise((r) => server.close(() => r())))
    const notifyUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/notify`
    await mkdir(join(t.dir, 'state'), { recursive: true })
    const args = [
      '--git', repo.url, '--ref', 'main', '--path', 'apps', '-f', cluster,
      '--state-dir', join(t.dir, 'state'), '--listen', '127.0.0.1:0', '--interval', '1h',
      '--webhook-secret-file', join(t.dir, 'hook.secret'),
      '--notify-webhook', notifyUrl, '--notify-secret-file', join(t.dir, 'notify.secret'),
    ]
    return { sim, repo, dir: t.dir, cluster, notifyUrl, args, received }
  }

  function serve(args: string[], cwd: string): ServeRun {
    const s = startServe(args, { cwd })
    cleanups.push(async () => {
      await s.stop()
    })
    return s
  }

  const memoryOf = (sim: RunningSimulator, name: string): number | undefined =>
    sim.guests().find((g) => String(g.config.description ?? '').includes(`"name":"${name}"`))?.config.memory as number | undefined

  const push = (url: string, body: string, headers: Record<string, string>) => fetch(`${url}/hooks/github`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } })
  const signed = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

  it('a signed push converges; an invalid commit is not applied and is reported; bad deliveries change nothing', async () => {
    const { sim, repo, dir, args, received } = await setup()
    const s = serve(args, dir)
    const url = await s.url()
    await until(s.clock, () => memoryOf(sim, 'web') === 256, { what: 'the first revision applied' })

    // a push plus a correctly signed webhook: applied without waiting for the poll
    const sha = repo.commit({ 'apps/web.yaml': appYaml('web', { memory: 512 }) }, 'more memory')
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha })
    const accepted = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1', 'X-Hub-Signature-256': signed(body) })
    expect(accepted.status).toBe(202)
    await until(s.clock, () => memoryOf(sim, 'web') === 512, { what: 'the pushed change', stepMs: 10 })

    // refused or ignored deliveries: nothing is fetched or applied
    sim.log.clear()
    const wrong = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-2', 'X-Hub-Signature-256': signed(body, 'nope') })
    expect(wrong.status).toBe(401)
    const replay = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1', 'X-Hub-Signature-256': signed(body) })
    expect(replay.status).toBe(200)
    const other = JSON.stringify({ ref: 'refs/heads/feature', after: sha })
    expect((await push(url, other, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-3', 'X-Hub-Signature-256': signed(other) })).status).toBe(200)
    const sha1Only = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-4', 'X-Hub-Signature': `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}` })
    expect(sha1Only.status).toBe(401)

    // the delivery log, through the API
    const { token } = await createTokenAuthority({ configDir: join(testHomeDir(), '.config', 'proximity') }).issue({ role: 'viewer', ttlMs: 600_000 })
    const auth = { headers: { Authorization: `Bearer ${token}` } }
    const deliveries = (await (await fetch(`${url}/api/v1/deliveries`, auth)).json()) as { items: { deliveryId?: string; verdict: string; revision?: string }[] }
    expect(deliveries.items.map((d) => d.verdict)).toEqual(['wrong signature', 'ignored ref', 'duplicate', 'wrong signature', 'accepted'])
    expect(deliveries.items.at(-1)!.revision).toBe(`main@sha1:${sha}`)
    expect(JSON.stringify(deliveries)).not.toContain(SECRET)
    const cli = await runCli(['get', 'deliveries', '--state-dir', join(dir, 'state')], { cwd: dir })
    expect(cli.code).toBe(0)
    expect(cli.stdout).toMatch(/d-1 +refs\/heads\/main +accepted +main@sha1:/)
    expect(cli.stdout).toContain('duplicate')
    const sources = await runCli(['get', 'sources', '-o', 'wide', '--state-dir', join(dir, 'state')], { cwd: dir })
    expect(sources.stdout).toContain(`${repo.url} main`)
    expect(sources.stdout).toContain(`main@sha1:${sha}`)

    // an invalid commit: not applied, the previous revision keeps running, the source says so
    const bad = repo.commit({ 'apps/web.yaml': appYaml('web', { memory: 1024 }).replace('cores: 1', 'cores: lots') }, 'broken')
    const badBody = JSON.stringify({ ref: 'refs/heads/main', after: bad })
    expect((await push(url, badBody, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-5', 'X-Hub-Signature-256': signed(badBody) })).status).toBe(202)
    await until(s.clock, () => s.records().some((r) => String(r.msg).includes('manifest rejected') && String(r.msg).includes(bad.slice(0, 12))), { what: 'the rejected commit in the log', stepMs: 10 })
    expect(memoryOf(sim, 'web')).toBe(512)
    const revision = (await (await fetch(`${url}/api/v1/revision`, auth)).json()) as { revision: string; git: { head: string; lastAppliedRevision: string } }
    expect(revision.revision).toBe(`main@sha1:${sha}`)
    expect(revision.git.head).toBe(`main@sha1:${bad}`)

    // describe source: the rejected commit, its located errors, the fetch and the deliveries
    const described = await until(
      s.clock,
      async () => {
        const r = await runCli(['describe', 'source', 'git', '--state-dir', join(dir, 'state')], { cwd: dir })
        return r.stdout.includes('SourceInvalid') && r.stdout.includes('d-5') ? r : undefined
      },
      { what: 'describe source to show the rejected commit', stepMs: 10 },
    )
    expect(described.code).toBe(0)
    const d = described.stdout
    expect(d.split('\n').find((l) => l.startsWith('URL:'))?.replace(/^URL: +/, '')).toBe(repo.url)
    expect(d).toMatch(/Ref: +main\n/)
    expect(d).toMatch(/Path: +apps\n/)
    expect(d).toMatch(new RegExp(`Head: +main@sha1:${bad}\n`))
    expect(d).toMatch(/Last Fetch: +\S+ \(\S+ ago\), took \d+ ms, succeeded\n/)
    expect(d).toMatch(new RegExp(`Last Attempted Revision: +main@sha1:${bad}\n`))
    expect(d).toMatch(new RegExp(`Last Applied Revision: +main@sha1:${sha}\n`))
    expect(d).toMatch(new RegExp(`SourceInvalid +True +ValidationFailed +\\S+ +commit ${bad} not applied: `))
    // the file as it is named in the repository, with its line and column
    expect(d).toMatch(new RegExp(`\\n  apps/web\\.yaml:\\d+:\\d+: App/web: spec\\.resources\\.cores: .*\\(commit ${bad.slice(0, 12)}\\)`))
    expect(d).toMatch(/d-5 +refs\/heads\/main +accepted/)
    expect(d).not.toContain(SECRET)

    // notifications: signed, one per revision, the invalid one reported as such
    await until(s.clock, () => received.some((r) => JSON.parse(r.body).result === 'invalid'), { what: 'the invalid notification', stepMs: 10 })
    await until(s.clock, () => received.some((r) => JSON.parse(r.body).result === 'applied'), { what: 'the applied notification ' + JSON.stringify(received.map((r) => r.body)), stepMs: 10, rounds: 600 })
    for (const r of received) expect(r.signature).toBe(signed(r.body, NOTIFY_SECRET))
    const results = received.map((r) => JSON.parse(r.body) as { revision: string; result: string })
    expect(results).toContainEqual(expect.objectContaining({ revision: `main@sha1:${sha}`, result: 'applied' }))
    expect(results).toContainEqual(expect.objectContaining({ revision: `main@sha1:${bad}`, result: 'invalid' }))
  })

  it('serve -f cluster.yaml follows the repository of spec.git; a flag overrides its field', async () => {
    const { sim, repo, dir, cluster, notifyUrl, received } = await setup()
    await writeFile(join(dir, 'override.secret'), 'flag-secret\n')
    await appendFile(
      join(cluster, 'cluster.yaml'),
      [
        '  git:',
        `    url: ${JSON.stringify(repo.url)}`,
        '    ref: main',
        '    path: apps',
        '    interval: 1h',
        '    webhook:',
        '      secretFile: ../hook.secret',
        '    notify:',
        `      webhook: {url: ${JSON.stringify(notifyUrl)}, secretFile: ../notify.secret}`,
        '',
      ].join('\n'),
    )
    const s = serve(['-f', cluster, '--state-dir', join(dir, 'state'), '--listen', '127.0.0.1:0', '--webhook-secret-file', join(dir, 'override.secret')], dir)
    const url = await s.url()
    // the first revision comes from the repository's apps/ folder on main
    await until(s.clock, () => memoryOf(sim, 'web') === 256, { what: 'the first revision applied' })
    expect(s.records().some((r) => String(r.msg).includes('(git)'))).toBe(true)

    const sha = repo.commit({ 'apps/web.yaml': appYaml('web', { memory: 512 }) }, 'more memory')
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha })
    // --webhook-secret-file overrides spec.git.webhook.secretFile: the manifest's secret is refused
    const withManifestSecret = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'm-1', 'X-Hub-Signature-256': signed(body) })
    expect(withManifestSecret.status).toBe(401)
    const withFlagSecret = await push(url, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'm-2', 'X-Hub-Signature-256': signed(body, 'flag-secret') })
    expect(withFlagSecret.status).toBe(202)
    await until(s.clock, () => memoryOf(sim, 'web') === 512, { what: 'the pushed change', stepMs: 10 })

    // the notification receiver of spec.git.notify gets the outcome, signed with its secret file
    await until(s.clock, () => received.some((r) => JSON.parse(r.body).revision === `main@sha1:${sha}` && JSON.parse(r.body).result === 'applied'), { what: 'the applied notification', stepMs: 10, rounds: 600 })
    for (const r of received) expect(r.signature).toBe(signed(r.body, NOTIFY_SECRET))

    const described = await runCli(['describe', 'source', 'git', '--state-dir', join(dir, 'state')], { cwd: dir })
    expect(described.stdout.split('\n').find((l) => l.startsWith('URL:'))?.replace(/^URL: +/, '')).toBe(repo.url)
    expect(described.stdout).toMatch(/Path: +apps\n/)
  })

  it('serve refuses to start when a file named in spec.git cannot be read, and says which field', async () => {
    const { repo, dir, cluster } = await setup()
    await appendFile(join(cluster, 'cluster.yaml'), ['  git:', `    url: ${JSON.stringify(repo.url)}`, '    path: apps', '    tokenFile: ./no-such-token', ''].join('\n'))
    const r = await runCli(['serve', '-f', cluster, '--state-dir', join(dir, 'state'), '--listen', '127.0.0.1:0'], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/cluster\.yaml:\d+:\d+: Cluster\/sim: spec\.git\.tokenFile: cannot read \S*no-such-token \(ENOENT\)/)
    expect(existsSync(join(dir, 'state', 'git'))).toBe(false)
  })

  it('polling alone converges when no webhook is ever sent', async () => {
    const { sim, repo, dir, args } = await setup()
    const polling = args.map((a) => (a === '1h' ? '2s' : a))
    const s = serve(polling, dir)
    await s.url()
    await until(s.clock, () => memoryOf(sim, 'web') === 256, { what: 'the first revision applied' })
    repo.commit({ 'apps/web.yaml': appYaml('web', { memory: 768 }) }, 'polled change')
    await until(s.clock, () => memoryOf(sim, 'web') === 768, { what: 'the polled change', stepMs: 10, rounds: 3000 })
  })
})
