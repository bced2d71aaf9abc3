/**
 * The git manifest source over a real bare repository: a webhook's nudge is answered with the
 * revision of a fetch that started after it (never by a fetch already running, which may predate
 * the push), an invalid commit names its files by their path in the repository, and each fetch
 * is timed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGitSource } from '../../src/engine/sources/git.js'
import { createTestRepo, type TestRepo } from './repo.js'

const app = (name: string, memory: number | string): string =>
  ['apiVersion: proximity/v1alpha1', 'kind: App', `metadata: {name: ${name}}`, 'spec:', '  source:', '    compose:', '      services:', '        web: {image: "nginx:1.27"}', `  resources: {memory: ${memory}}`, ''].join('\n')

let dir: string
let repo: TestRepo

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-git-source-'))
  repo = createTestRepo(join(dir, 'repo'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('git source', () => {
  it('answers a nudge with a fetch that started after it, not with the one already running', async () => {
    const first = repo.commit({ 'apps/web.yaml': app('web', 256) })
    const src = createGitSource({ url: repo.url, ref: 'main', path: 'apps', paths: [], cwd: dir, dir: join(dir, 'state-nudge') })
    const answers: (string | undefined)[] = []
    const running = src.load()
    // The push and its webhook arrive while that fetch runs.
    const second = repo.commit({ 'apps/web.yaml': app('web', 512) })
    src.nudge((revision) => answers.push(revision))
    const r1 = await running
    expect(r1.ok).toBe(true)
    expect(answers).toEqual([])
    const r2 = await src.load()
    expect(r2.ok && r2.revision).toBe(`main@sha1:${second}`)
    expect(answers).toEqual([`main@sha1:${second}`])
    expect(first).not.toBe(second)
    expect(src.status().lastFetchDurationMs).toBeGreaterThanOrEqual(0)
  })

  it('rejects an invalid commit naming the file by its path in the repository and the commit', async () => {
    const good = repo.commit({ 'apps/web.yaml': app('web', 256) })
    const src = createGitSource({ url: repo.url, ref: 'main', path: 'apps', paths: [], cwd: dir, dir: join(dir, 'state-invalid') })
    expect((await src.load()).ok).toBe(true)
    const bad = repo.commit({ 'apps/web.yaml': app('web', '"lots"') })
    const r = await src.load()
    // The last good revision is returned only by a failed fetch; a fetched invalid commit is an error.
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors[0]).toMatchObject({ file: join('apps', 'web.yaml') })
    expect(r.errors[0]!.message).toContain(`(commit ${bad.slice(0, 12)})`)
    expect(src.status()).toMatchObject({ head: `main@sha1:${bad}`, lastGood: `main@sha1:${good}`, invalidCommit: bad })
  })
})
