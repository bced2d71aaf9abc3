/** The git provider against real repositories on disk, driven by the git CLI. */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkRepoUrl, displayUrl, fetchCheckout, GitError } from '../../src/providers/git/git-cli.js'
import { createTestRepo, type TestRepo } from './repo.js'

let dir: string
let repo: TestRepo

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-git-'))
  repo = createTestRepo(dir)
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('fetchCheckout', () => {
  it('follows the default branch, then a new commit, with revision <branch>@sha1:<sha>', async () => {
    const first = repo.commit({ 'apps/web.yaml': 'a: 1\n' })
    const out = join(dir, 'state-a')
    const c1 = await fetchCheckout({ url: repo.url, dir: out })
    expect(c1).toMatchObject({ sha: first, ref: 'main', refKind: 'branch', revision: `main@sha1:${first}` })
    expect(await readFile(join(c1.workTree, 'apps/web.yaml'), 'utf8')).toBe('a: 1\n')
    const second = repo.commit({ 'apps/web.yaml': 'a: 2\n', 'apps/old.yaml': null })
    const c2 = await fetchCheckout({ url: repo.url, dir: out })
    expect(c2.sha).toBe(second)
    expect(await readFile(join(c2.workTree, 'apps/web.yaml'), 'utf8')).toBe('a: 2\n')
    // shallow: only the wanted commit is there
    expect(repo.git('rev-list', '--count', 'HEAD')).toBe('2')
  })

  it('takes a force-push as the new truth (the old head vanished)', async () => {
    const out = join(dir, 'state-force')
    await fetchCheckout({ url: repo.url, dir: out })
    const rewritten = repo.forcePushNewHistory({ 'apps/web.yaml': 'a: rewritten\n' })
    const c = await fetchCheckout({ url: repo.url, dir: out })
    expect(c.sha).toBe(rewritten)
    expect(existsSync(join(c.workTree, 'apps/old.yaml'))).toBe(false)
    expect(await readFile(join(c.workTree, 'apps/web.yaml'), 'utf8')).toBe('a: rewritten\n')
  })

  it('checks out a tag and a full sha, and accepts a plain local path', async () => {
    const sha = repo.commit({ 'x.yaml': 'tagged\n' })
    repo.tag('v1.0.0')
    const t = await fetchCheckout({ url: repo.url, ref: 'v1.0.0', dir: join(dir, 'state-tag') })
    expect(t).toMatchObject({ sha, refKind: 'tag', revision: `v1.0.0@sha1:${sha}` })
    const s = await fetchCheckout({ url: repo.bare, ref: sha, dir: join(dir, 'state-sha') })
    expect(s).toMatchObject({ sha, refKind: 'sha' })
  })

  it('says a missing branch is missing', async () => {
    const e = await fetchCheckout({ url: repo.url, ref: 'nope', dir: join(dir, 'state-missing') }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(GitError)
    expect((e as GitError).kind).toBe('RefNotFound')
    expect((e as GitError).message).toContain('no branch or tag "nope"')
  })

  it('reports an unreachable repository without leaking user info', async () => {
    const e = await fetchCheckout({ url: 'file:///nonexistent/repo.git', dir: join(dir, 'state-unreach') }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(GitError)
    expect((e as GitError).kind).toBe('Unreachable')
  })
})

describe('input checks', () => {
  const bad: { url: string; reason: string }[] = [
    { url: 'https://user:hunter2@example.invalid/repo.git', reason: 'a password in the URL would show in process arguments' },
    { url: 'https://hunter2@example.invalid/repo.git', reason: 'a token as the user name would show in process arguments and logs' },
    { url: 'ext::sh -c touch% /tmp/pwned', reason: 'remote helpers run commands' },
    { url: '--upload-pack=touch /tmp/pwned', reason: 'an option, not a URL' },
    { url: 'ftp://example.invalid/repo', reason: 'unsupported scheme' },
    { url: 'https://example.invalid/a b', reason: 'whitespace' },
  ]
  for (const b of bad) {
    it(`refuses ${JSON.stringify(b.url)} (${b.reason})`, () => {
      expect(() => checkRepoUrl(b.url)).toThrow(GitError)
      try {
        checkRepoUrl(b.url)
      } catch (e) {
        expect((e as Error).message).not.toContain('hunter2')
      }
    })
  }

  it('refuses refs that could read as options or ranges', async () => {
    for (const ref of ['--upload-pack=x', 'a..b', 'main@{1}', 'x y', '']) {
      await expect(fetchCheckout({ url: repo.url, ref, dir: join(dir, 'state-ref') })).rejects.toBeInstanceOf(GitError)
    }
  })

  it('shows URLs without credentials', () => {
    expect(displayUrl('https://tok@example.invalid/r.git')).toBe('https://example.invalid/r.git')
    expect(displayUrl('git@example.invalid:team/r.git')).toBe('example.invalid:team/r.git')
  })
})
