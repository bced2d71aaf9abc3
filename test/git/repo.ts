/** Test helper: a bare repository on disk and a clone to commit and push from, with the git CLI. */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'

export interface TestRepo {
  bare: string
  url: string
  /** Writes files (path → content; null deletes), commits and pushes; returns the new sha. */
  commit(files: Record<string, string | null>, message?: string, opts?: { branch?: string; force?: boolean }): string
  tag(name: string): void
  /** Rewrites the branch to a new root commit (a force-push that drops history). */
  forcePushNewHistory(files: Record<string, string>, branch?: string): string
  git(...args: string[]): string
}

export function createTestRepo(dir: string, branch = 'main'): TestRepo {
  const bare = join(dir, 'remote.git')
  const clone = join(dir, 'clone')
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' }
  const run = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim()
  mkdirSync(bare, { recursive: true })
  run(bare, 'init', '-q', '--bare', `--initial-branch=${branch}`)
  mkdirSync(clone, { recursive: true })
  run(clone, 'init', '-q', `--initial-branch=${branch}`)
  run(clone, 'remote', 'add', 'origin', bare)
  const write = (files: Record<string, string | null>) => {
    for (const [p, content] of Object.entries(files)) {
      const full = join(clone, p)
      if (content === null) rmSync(full, { force: true })
      else {
        mkdirSync(dirname(full), { recursive: true })
        writeFileSync(full, content)
      }
    }
  }
  return {
    bare,
    url: `file://${bare}`,
    commit(files, message = 'change', opts = {}) {
      const b = opts.branch ?? branch
      const current = run(clone, 'symbolic-ref', '--short', 'HEAD')
      if (current !== b) {
        try {
          run(clone, 'checkout', '-q', b)
        } catch {
          run(clone, 'checkout', '-q', '-b', b)
        }
      }
      write(files)
      run(clone, 'add', '-A')
      run(clone, 'commit', '-q', '--allow-empty', '-m', message)
      run(clone, 'push', '-q', ...(opts.force ? ['--force'] : []), 'origin', b)
      return run(clone, 'rev-parse', 'HEAD')
    },
    tag(name) {
      run(clone, 'tag', name)
      run(clone, 'push', '-q', 'origin', name)
    },
    forcePushNewHistory(files, b = branch) {
      run(clone, 'checkout', '-q', '--orphan', `rewrite-${Date.now()}`)
      run(clone, 'rm', '-rq', '--cached', '.')
      for (const f of run(clone, 'ls-files', '--others').split('\n').filter(Boolean)) rmSync(join(clone, f), { force: true })
      write(files)
      run(clone, 'add', '-A')
      run(clone, 'commit', '-q', '-m', 'rewritten')
      run(clone, 'push', '-q', '--force', 'origin', `HEAD:${b}`)
      const sha = run(clone, 'rev-parse', 'HEAD')
      run(clone, 'checkout', '-q', '-B', b, sha)
      return sha
    },
    git: (...args) => run(clone, ...args),
  }
}
