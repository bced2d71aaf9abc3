/**
 * The git manifest source (GitOps): a repository fetched with the git CLI (providers/git) into
 * the state dir, one ref, an optional sub-folder, plus `-f` paths for what lives outside the
 * repository (such as the Cluster manifest). Each revision is loaded and validated as a whole;
 * the engine applies only a valid one and keeps the last good revision otherwise.
 *
 * Polling always runs (the safety net, even with webhooks); a webhook `nudge()` fetches at once.
 * A failed fetch never changes what is reconciled: the last good load is returned again, the
 * failure is counted, fetches back off, and the source reports `Stalled` after a threshold and
 * `SourceStale` when no fetch has succeeded for several intervals, so a stopped poller is an
 * alert, not a mystery.
 */
import { join, relative, resolve, sep } from 'node:path'
import { displayUrl, fetchCheckout, GitError, type GitCredentials } from '../../providers/git/git-cli.js'
import type { ManifestError } from '../../model/types.js'
import type { ManifestSource, SourceLoad, SourceLoaded } from './types.js'
import { loadPaths } from './paths.js'

export interface GitSourceOptions {
  url: string
  /** Branch, tag or full sha. @default the remote's default branch */
  ref?: string
  /** Sub-folder of the repository holding the manifests. @default the whole repository */
  path?: string
  /** Extra files and folders outside the repository (`-f`). */
  paths: string[]
  cwd: string
  /** Where the checkout lives (under the state dir). */
  dir: string
  credentials?: GitCredentials
  keyFile?: string
  requireKey?: boolean
  /** Poll interval. @default 60000 */
  intervalMs?: number
  /** Consecutive failed fetches before the source is Stalled. @default 5 */
  stallAfter?: number
  /** Intervals without a successful fetch before SourceStale. @default 3 */
  staleAfterIntervals?: number
  now?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (t: unknown) => void
}

/** What the source knows about the repository, for status, the API and metrics. */
export interface GitSourceStatus {
  url: string
  ref?: string
  path?: string
  /** The last fetched head (`<ref>@sha1:<sha>`), valid or not. */
  head?: string
  /** The last revision that loaded and validated. */
  lastGood?: string
  lastFetchAt?: string
  lastFetchOkAt?: string
  /** How long the last fetch (the git commands, not the manifest load) took. */
  lastFetchDurationMs?: number
  lastError?: string
  consecutiveFailures: number
  stalled: boolean
  stale: boolean
  /** The commit of the latest rejected revision, when the head is invalid. */
  invalidCommit?: string
}

export interface GitSource extends ManifestSource {
  /** Fetch now (a webhook arrived); `done` gets the revision it led to, or the error. */
  nudge(done?: (revision: string | undefined, error?: string) => void): void
  status(): GitSourceStatus
}

export function createGitSource(o: GitSourceOptions): GitSource {
  const now = o.now ?? Date.now
  const interval = o.intervalMs ?? 60_000
  const stallAfter = o.stallAfter ?? 5
  const staleAfter = o.staleAfterIntervals ?? 3
  const setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
  const clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout))
  const extra = o.paths.map((p) => resolve(o.cwd, p))
  const shownUrl = displayUrl(o.url)
  const st: GitSourceStatus = { url: shownUrl, ...(o.ref ? { ref: o.ref } : {}), ...(o.path ? { path: o.path } : {}), consecutiveFailures: 0, stalled: false, stale: false }
  let lastGood: SourceLoaded | undefined
  let onChange: (() => void) | undefined
  /**
   * Nudges waiting for their fetch, with the number of fetches started before each arrived: a
   * fetch already running when a webhook came may predate its push, so only a fetch started
   * after it answers it (the delivery log must show the revision the push led to).
   */
  let waiters: { since: number; done: (revision: string | undefined, error?: string) => void }[] = []
  let fetchesStarted = 0
  const answer = (fetch: number, revision: string | undefined, error?: string): void => {
    const due = waiters.filter((w) => w.since < fetch)
    waiters = waiters.filter((w) => w.since >= fetch)
    for (const w of due) w.done(revision, error)
  }

  const refresh = (): void => {
    const okAt = st.lastFetchOkAt ? Date.parse(st.lastFetchOkAt) : undefined
    st.stalled = st.consecutiveFailures >= stallAfter
    st.stale = okAt === undefined ? st.consecutiveFailures > 0 : now() - okAt > staleAfter * interval
  }

  const fetchError = (message: string): ManifestError => ({ file: shownUrl, line: 1, column: 1, path: '', message })

  const load = async (): Promise<SourceLoad> => {
    const fetch = ++fetchesStarted
    st.lastFetchAt = new Date(now()).toISOString()
    // Wall time, not the (possibly manual) clock: this measures the git commands themselves.
    const started = performance.now()
    let checkout
    try {
      checkout = await fetchCheckout({ url: o.url, ...(o.ref ? { ref: o.ref } : {}), dir: o.dir, ...(o.credentials ? { credentials: o.credentials } : {}) })
    } catch (e) {
      st.lastFetchDurationMs = Math.round(performance.now() - started)
      st.consecutiveFailures++
      st.lastError = e instanceof GitError ? e.message : `git fetch failed: ${(e as Error).message}`
      refresh()
      answer(fetch, undefined, st.lastError)
      // A failed fetch changes nothing: the last good revision keeps being reconciled.
      if (lastGood) return lastGood
      return { ok: false, errors: [fetchError(st.lastError)], warnings: [] }
    }
    st.lastFetchDurationMs = Math.round(performance.now() - started)
    st.consecutiveFailures = 0
    st.lastError = undefined
    st.lastFetchOkAt = st.lastFetchAt
    st.head = checkout.revision
    refresh()
    const root = o.path ? join(checkout.workTree, o.path) : checkout.workTree
    // The revision is the fetched commit: looking for it again in the work tree would cost four
    // git processes on the webhook path (most of its latency on a busy machine).
    const res = await loadPaths([root, ...extra], { cwd: o.cwd, ...(o.keyFile ? { keyFile: o.keyFile } : {}), requireKey: o.requireKey === true, revision: checkout.revision })
    answer(fetch, checkout.revision)
    if (!res.ok) {
      st.invalidCommit = checkout.sha
      // Name the commit in every error, so the log and `get sources` say which revision failed,
      // and files inside the checkout by their path in the repository (what the user edits).
      const inRepo = (f: string): string => (f.startsWith(checkout.workTree + sep) ? relative(checkout.workTree, f) : f)
      return { ...res, errors: res.errors.map((e) => ({ ...e, file: inRepo(e.file), message: `${e.message} (commit ${checkout.sha.slice(0, 12)})` })) }
    }
    st.invalidCommit = undefined
    lastGood = { ...res, revision: checkout.revision }
    st.lastGood = checkout.revision
    return lastGood
  }

  return {
    kind: 'git',
    inputs: [shownUrl, ...extra],
    load,
    async watch(cb) {
      onChange = cb
      let timer: unknown
      let stopped = false
      // Back off on failures (double per failure, at most 8 intervals), never stop polling.
      const arm = (): void => {
        if (stopped) return
        const factor = Math.min(8, 2 ** Math.max(0, st.consecutiveFailures - 1))
        timer = setTimer(() => {
          onChange?.()
          arm()
        }, interval * factor)
      }
      arm()
      return async () => {
        stopped = true
        clearTimer(timer)
        onChange = undefined
      }
    },
    nudge(done) {
      if (done) waiters.push({ since: fetchesStarted, done })
      onChange?.()
    },
    status() {
      refresh()
      return { ...st }
    },
  }
}
