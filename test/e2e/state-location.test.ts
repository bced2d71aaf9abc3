/**
 * Where state and keys live (issue 9, point 6), through the real CLI: nothing lands in the
 * folder a command runs from (a git repository), one state folder per target under the per-user
 * state home, `--state-dir`/`PROXIMITY_STATE_DIR` overrides, the old `./.proximity` still used
 * with a move notice, a warning for a state dir inside a git work tree, and sealed values made
 * in one folder applied from another.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { packageRoot } from '../../src/model/paths.js'
import { targetFolderName } from '../../src/cli/state-dir.js'
import type { RunningSimulator } from '../../src/sim/types.js'
import { appYaml, runCli, startSim, tempDir, writeClusterManifest } from './helpers.js'
import { startServe } from './serve-helpers.js'

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' })

/** A scratch folder that is a git repository with one committed manifest, as a user's would be. */
async function scratchRepo(): Promise<{ dir: string; apps: string; cleanup: () => Promise<void> }> {
  const t = await tempDir('proximity-repo-')
  git(t.dir, 'init', '-q')
  const apps = join(t.dir, 'apps')
  await mkdir(apps)
  await writeFile(join(apps, 'web.yaml'), appYaml('web'))
  git(t.dir, 'add', '.')
  git(t.dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qm', 'apps')
  return { ...t, apps }
}

describe('state outside the working folder', () => {
  let repo: Awaited<ReturnType<typeof scratchRepo>>
  let home: string
  let env: NodeJS.ProcessEnv
  beforeAll(async () => {
    repo = await scratchRepo()
    home = await mkdtemp(join(tmpdir(), 'proximity-user-'))
    // The user's own environment: HOME only, so the XDG defaults apply.
    env = { HOME: home, XDG_STATE_HOME: '' }
  })
  afterAll(async () => {
    await repo?.cleanup()
  })

  it('leaves no untracked file in a git repository after apply, get, serve and sandbox start', async () => {
    const applied = await runCli(['apply', '-f', 'apps'], { cwd: repo.dir, env })
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    const sandboxState = join(home, '.local', 'state', 'proximity', 'sandbox')
    expect(applied.stderr).toContain(`using the built-in sandbox (state in ${join(sandboxState, 'sandbox')})`)
    expect(existsSync(join(sandboxState, 'audit.log'))).toBe(true)
    expect(applied.stderr).not.toContain('warning:')

    const listed = await runCli(['get', 'apps', '--no-refresh'], { cwd: repo.dir, env })
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toMatch(/^web\s+True/m)

    const serve = startServe(['-f', 'apps', '--listen', '127.0.0.1:0'], { cwd: repo.dir, env })
    await serve.url()
    // while serve holds the sandbox, get shows the status it keeps current, without waiting
    const during = await runCli(['get', 'apps'], { cwd: repo.dir, env })
    expect(during.code, during.stderr).toBe(0)
    expect(during.stderr).toMatch(/^notice: the sandbox is in use by proximity serve by .*, which keeps this status current; not observed live$/m)
    expect(during.stdout).toMatch(/^web\s+True/m)
    expect((await serve.stop()).code).toBe(0)

    const out = new PassThrough()
    let text = ''
    out.on('data', (d: Buffer) => (text += d.toString()))
    const sandbox = main(['sandbox', 'start', '--listen', '127.0.0.1:0', '--http', '-o', 'json'], { stdout: out, stderr: new PassThrough(), cwd: repo.dir, env })
    for (let i = 0; i < 500 && !text.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10))
    process.emit('SIGTERM')
    expect(await sandbox).toBe(0)

    expect(git(repo.dir, 'status', '--porcelain', '--untracked-files=all', '--ignored')).toBe('')
  })

  it('applies values sealed in one folder from another folder; another user has no key', async () => {
    const sealer = await tempDir('proximity-sealer-')
    const other = await tempDir('proximity-other-')
    try {
      const sealed = await runCli(['secret', 'seal', '--name', 'API_TOKEN'], { cwd: sealer.dir, env, stdin: 's3cret-value\n' })
      expect(sealed.code, sealed.stderr).toBe(0)
      const app = appYaml('sealed').replace('  health:', `  secrets:\n    ${sealed.stdout.trim()}\n  health:`)
      await writeFile(join(sealer.dir, 'sealed.yaml'), app)

      const fromOther = await runCli(['apply', '-f', join(sealer.dir, 'sealed.yaml')], { cwd: other.dir, env })
      expect(fromOther.code, fromOther.stdout + fromOther.stderr).toBe(0)
      expect(fromOther.stdout + fromOther.stderr).not.toContain('s3cret-value')
      expect(readdirSync(other.dir)).toEqual([])

      const stranger = { HOME: await mkdtemp(join(tmpdir(), 'proximity-stranger-')) }
      const refused = await runCli(['apply', '-f', join(sealer.dir, 'sealed.yaml')], { cwd: other.dir, env: stranger })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/sealed\.yaml:\d+:\d+.*API_TOKEN/)
    } finally {
      await sealer.cleanup()
      await other.cleanup()
    }
  })
})

describe('choosing the state folder', () => {
  let sim: RunningSimulator
  let work: { dir: string; cleanup: () => Promise<void> }
  let cluster: string
  let home: string
  beforeAll(async () => {
    sim = await startSim()
    work = await tempDir()
    cluster = await writeClusterManifest(work.dir, sim, { owner: 'homelab' })
    await mkdir(join(work.dir, 'apps'))
    await writeFile(join(work.dir, 'apps', 'web.yaml'), appYaml('web'))
    home = await mkdtemp(join(tmpdir(), 'proximity-user-'))
  })
  afterAll(async () => {
    await sim?.stop()
    await work?.cleanup()
  })

  it('keeps one folder per target, named for owner, host and port, under XDG_STATE_HOME', async () => {
    const xdg = join(home, 'xdg-state')
    const r = await runCli(['apply', '-f', cluster, '-f', 'apps'], { cwd: work.dir, env: { HOME: home, XDG_STATE_HOME: xdg } })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const folder = targetFolderName({ owner: 'homelab', endpoint: sim.endpoint })
    expect(folder).toMatch(new RegExp(`^homelab-127\\.0\\.0\\.1-${new URL(sim.endpoint).port}-[0-9a-f]{4}$`))
    expect(readdirSync(join(xdg, 'proximity'))).toEqual([folder])
    expect(existsSync(join(xdg, 'proximity', folder, 'audit.log'))).toBe(true)
    // get takes no manifests: it reads the target used most recently
    const listed = await runCli(['get', 'apps', '--no-refresh'], { cwd: work.dir, env: { HOME: home, XDG_STATE_HOME: xdg } })
    expect(listed.stdout).toMatch(/^web\s+True/m)
    expect(listed.stderr).toBe('')
    // a second target gets its own folder; get then shows the one used last and names the other
    await writeFile(join(work.dir, 'apps', 'extra.yaml'), appYaml('extra'))
    const sandbox = await runCli(['apply', '-f', join(work.dir, 'apps', 'extra.yaml')], { cwd: work.dir, env: { HOME: home, XDG_STATE_HOME: xdg } })
    expect(sandbox.code, sandbox.stderr).toBe(0)
    expect(readdirSync(join(xdg, 'proximity')).sort()).toEqual([folder, 'sandbox'].sort())
    const both = await runCli(['get', 'apps', '--no-refresh'], { cwd: work.dir, env: { HOME: home, XDG_STATE_HOME: xdg } })
    expect(both.stdout).toMatch(/^extra\s+True/m)
    expect(both.stdout).not.toMatch(/^web\s/m)
    expect(both.stderr).toBe(`notice: showing ${join(xdg, 'proximity', 'sandbox')} (used most recently); other targets: ${join(xdg, 'proximity', folder)}; choose one with -f (its Cluster manifest) or --state-dir\n`)
    await rm(join(work.dir, 'apps', 'extra.yaml'))
  })

  it('takes --state-dir over PROXIMITY_STATE_DIR over the default', async () => {
    const fromEnv = join(home, 'env-state')
    const byEnv = await runCli(['plan', '-f', cluster, '-f', 'apps'], { cwd: work.dir, env: { HOME: home, PROXIMITY_STATE_DIR: fromEnv } })
    expect(byEnv.code, byEnv.stderr).toBe(0)
    expect(existsSync(fromEnv)).toBe(true)
    const byFlag = await runCli(['plan', '-f', cluster, '-f', 'apps', '--state-dir', 'flag-state'], { cwd: work.dir, env: { HOME: home, PROXIMITY_STATE_DIR: join(home, 'unused') } })
    expect(byFlag.code, byFlag.stderr).toBe(0)
    expect(existsSync(join(work.dir, 'flag-state'))).toBe(true)
    expect(existsSync(join(home, 'unused'))).toBe(false)
  })

  it('uses an old ./.proximity with a notice giving the exact move command', async () => {
    const old = await tempDir('proximity-old-')
    try {
      const env = { HOME: home, XDG_STATE_HOME: join(home, 'xdg-old') }
      const made = await runCli(['apply', '-f', cluster, '-f', join(work.dir, 'apps'), '--state-dir', '.proximity'], { cwd: old.dir, env })
      expect(made.code, made.stderr).toBe(0)
      const r = await runCli(['get', 'apps', '--no-refresh'], { cwd: old.dir, env })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^web\s+True/m)
      const wanted = join(home, 'xdg-old', 'proximity', 'sandbox')
      expect(r.stderr).toContain(`notice: using the state in ./.proximity (the old default); state now lives in ${wanted}.`)
      expect(r.stderr).toContain(`mkdir -p -m 700 ${join(home, 'xdg-old', 'proximity')} && mv ./.proximity ${wanted}`)
      // apply names its own target's folder
      const again = await runCli(['plan', '-f', cluster, '-f', join(work.dir, 'apps')], { cwd: old.dir, env })
      expect(again.stderr).toContain(`mv ./.proximity ${join(home, 'xdg-old', 'proximity', targetFolderName({ owner: 'homelab', endpoint: sim.endpoint }))}`)
      expect(again.stdout).toContain('No changes.')
    } finally {
      await old.cleanup()
    }
  })

  it('warns once when the state dir is inside a git work tree', async () => {
    const repo = await scratchRepo()
    try {
      const r = await runCli(['plan', '-f', cluster, '-f', 'apps', '--state-dir', 'state'], { cwd: repo.dir, env: { HOME: home, XDG_STATE_HOME: '' } })
      expect(r.code, r.stderr).toBe(0)
      const warnings = r.stderr.split('\n').filter((l) => l.includes('inside the git work tree'))
      expect(warnings).toEqual([
        `warning: the state directory ${join(repo.dir, 'state')} is inside the git work tree ${repo.dir}; state (store, audit log, sandbox) does not belong in a repository: ` +
          `leave --state-dir and PROXIMITY_STATE_DIR unset to use ${join(home, '.local', 'state', 'proximity')}, or add the folder to .gitignore`,
      ])
    } finally {
      await repo.cleanup()
    }
  })
})

describe('the npm start flow from the package folder', () => {
  it('runs examples/homelab from the checkout without writing into it', async () => {
    const home = await mkdtemp(join(tmpdir(), 'proximity-user-'))
    const root = packageRoot()
    const before = git(root, 'status', '--porcelain', '--untracked-files=all', '--ignored')
    const r = await runCli(['plan', '-f', 'examples/homelab'], { cwd: root, env: { HOME: home } })
    expect(r.code, r.stderr).toBe(0)
    expect(git(root, 'status', '--porcelain', '--untracked-files=all', '--ignored')).toBe(before)
  })
})
