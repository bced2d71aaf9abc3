/**
 * `proximity describe source [NAME]` over a state dir as `serve --git` leaves it (statuses in the
 * real store, the delivery log file). The end-to-end run with a real repository is in
 * test/e2e/gitops.test.ts; this covers what that run cannot easily produce: a stalled, stale
 * fetch, an old state file whose URL still carries credentials, and unknown names.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStateStore } from '../../src/store/state-store.js'
import type { ObjectStatus } from '../../src/store/types.js'
import { runCli, tempDir } from '../e2e/helpers.js'

const at = (minutesAgo: number): string => new Date(Date.now() - minutesAgo * 60_000).toISOString()
const sha = 'a'.repeat(40)

function gitStatus(extra: Record<string, unknown>, conditions: ObjectStatus['conditions']): ObjectStatus {
  return {
    key: 'Source/git',
    kind: 'Source',
    name: 'git',
    generation: 1,
    observedGeneration: 1,
    conditions,
    lastAppliedRevision: `main@sha1:${sha}`,
    lastAttemptedRevision: `main@sha1:${sha}`,
    history: [],
    createdAt: at(60),
    updatedAt: at(1),
    extra,
  }
}

const cond = (type: string, status: 'True' | 'False', reason: string, message: string) => ({ type, status, reason, message, lastTransitionTime: at(5), observedGeneration: 1 })

describe('describe source', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c()
  })

  async function stateWith(statuses: ObjectStatus[], deliveries?: unknown[]): Promise<{ dir: string; state: string }> {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const state = join(t.dir, 'state')
    await mkdir(state, { recursive: true })
    const store = await openStateStore(state)
    for (const s of statuses) store.putStatus(s)
    await store.close()
    if (deliveries) await writeFile(join(state, 'deliveries.json'), JSON.stringify({ items: deliveries }))
    return { dir: t.dir, state }
  }

  it('shows a stalled, stale git source with its fetch error, URL without credentials, and the newest deliveries', async () => {
    const error = 'git fetch failed: fatal: unable to access the repository: Could not resolve host: git.example'
    const { dir, state } = await stateWith(
      [
        gitStatus(
          // An old state file written before URLs were stripped: describe must strip it itself.
          { url: 'https://deploy:hunter2-token@git.example/ops/homelab.git', ref: 'main', path: 'apps', head: `main@sha1:${sha}`, lastFetchAt: at(2), lastFetchOkAt: at(300), lastFetchDurationMs: 1234, lastError: error, consecutiveFailures: 7 },
          [
            cond('Ready', 'False', 'FetchFailed', `${error}; still reconciling main@sha1:${sha}`),
            cond('SourceStale', 'True', 'NoRecentFetch', 'no fetch has succeeded for 5h'),
            cond('Stalled', 'True', 'FetchFailed', `7 fetches failed in a row: ${error}`),
          ],
        ),
      ],
      Array.from({ length: 8 }, (_, i) => ({ time: at(i), source: 'github', event: 'push', deliveryId: `d-${i}`, ref: 'refs/heads/main', verdict: 'accepted', error })),
    )
    const r = await runCli(['describe', 'source', 'git', '--state-dir', state], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/URL: +https:\/\/git\.example\/ops\/homelab\.git\n/)
    expect(r.stdout).not.toContain('hunter2')
    expect(r.stdout).not.toContain('deploy@')
    expect(r.stdout).toMatch(/Ref: +main\n/)
    expect(r.stdout).toMatch(/Path: +apps\n/)
    expect(r.stdout).toMatch(new RegExp(`Head: +main@sha1:${sha}\\n`))
    expect(r.stdout).toMatch(/Last Fetch: +\S+ \(2m ago\), took 1234 ms, failed\n/)
    expect(r.stdout).toMatch(new RegExp(`Last Fetch Error: +${error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`))
    expect(r.stdout).toMatch(/Failed Fetches In A Row: *7/)
    expect(r.stdout).toMatch(/SourceStale +True +NoRecentFetch/)
    expect(r.stdout).toMatch(/Stalled +True +FetchFailed +\S+ +7 fetches failed in a row/)
    // the five newest deliveries, newest first
    const shown = [...r.stdout.matchAll(/\bd-(\d)\b/g)].map((m) => m[1])
    expect(shown).toEqual(['0', '1', '2', '3', '4'])
  })

  it('without a name describes every recorded source; an unknown name exits 1', async () => {
    const manifests: ObjectStatus = {
      key: 'Source/manifests',
      kind: 'Source',
      name: 'manifests',
      generation: 1,
      observedGeneration: 1,
      conditions: [cond('Ready', 'True', 'Succeeded', 'loaded revision local@sha256:abc')],
      lastAppliedRevision: 'local@sha256:abc',
      history: [],
      createdAt: at(10),
      updatedAt: at(1),
      extra: { source: 'watch', inputs: ['/srv/manifests'], errors: [], errorCount: 0 },
    }
    const { dir, state } = await stateWith([manifests])
    const all = await runCli(['describe', 'source', '--state-dir', state], { cwd: dir })
    expect(all.code).toBe(0)
    expect(all.stdout).toMatch(/Name: +manifests\n/)
    expect(all.stdout).toMatch(/Type: +watch\n/)
    expect(all.stdout).toMatch(/Inputs: +\/srv\/manifests\n/)
    expect(all.stdout).not.toContain('Deliveries:')
    const git = await runCli(['describe', 'source', 'git', '--state-dir', state], { cwd: dir })
    expect(git.code).toBe(1)
    expect(git.stderr).toContain('Source/git not found in the state')
    const app = await runCli(['describe', 'app', '--state-dir', state], { cwd: dir })
    expect(app.code).toBe(1)
    expect(app.stderr).toContain('give the name of the app to describe')
  })
})
