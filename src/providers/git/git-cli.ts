/**
 * The git provider (DESIGN §1 `providers/git`): shallow fetches of one ref with the git CLI into a
 * folder under the state dir, and a detached checkout of the fetched commit.
 *
 * - Commands run with execFile (never a shell) and a timeout; git never prompts.
 * - Credentials never appear in process arguments: an https token reaches git through
 *   GIT_ASKPASS (bin/git-askpass.sh) from the child's environment; an SSH key and a pinned
 *   known_hosts reach ssh through GIT_SSH (bin/git-ssh.sh). A URL with a password in it is
 *   refused, and URLs are shown with any user info stripped.
 * - Only the wanted ref is fetched, at depth 1, with a forced refspec: a force-push or a commit
 *   that vanished from the branch simply moves the head (the remote is the truth).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../../model/paths.js'
import { displayGitUrl, GIT_SHA, gitRefProblem, gitUrlProblem } from '../../model/git-url.js'

/** How git authenticates. Files are read by git/ssh themselves, except the token file. */
export interface GitCredentials {
  /** A file holding an https token (or password); its content goes to git through the environment. */
  tokenFile?: string
  /** The token itself, from the environment (PROXIMITY_GIT_TOKEN). */
  token?: string
  /** The https user name for the token. @default git */
  username?: string
  /** A private key for ssh URLs. */
  sshKeyFile?: string
  /** A known_hosts file that pins the server's host key (required for ssh URLs). */
  knownHostsFile?: string
}

export interface GitFetchOptions {
  /** https, ssh (`ssh://` or `user@host:path`), `file://` or a local path. */
  url: string
  /** A branch, a tag or a full commit sha. @default the remote's default branch */
  ref?: string
  /** The folder that holds the checkout (created). */
  dir: string
  credentials?: GitCredentials
  /** Per git command. @default 60000 */
  timeoutMs?: number
}

/** A fetched and checked-out commit. */
export interface GitCheckout {
  sha: string
  /** The ref as resolved: a branch or tag name, or the sha itself. */
  ref: string
  refKind: 'branch' | 'tag' | 'sha'
  /** The work tree holding the commit's files. */
  workTree: string
  /** `<ref>@sha1:<sha>` (Flux's revision format). */
  revision: string
}

/** A git failure, with a message free of credentials. `kind` tells what to do about it. */
export class GitError extends Error {
  override readonly name = 'GitError'
  constructor(
    message: string,
    readonly kind: 'InvalidUrl' | 'RefNotFound' | 'AuthFailed' | 'Unreachable' | 'Failed',
  ) {
    super(message)
  }
}

const SHA = GIT_SHA

/** The URL as it may be shown: user info removed (see model/git-url.ts). */
export const displayUrl = displayGitUrl

/** Checks a repository URL; throws GitError for forms that would leak or could be misread. */
export function checkRepoUrl(url: string): void {
  const problem = gitUrlProblem(url, 'put the token in a file (--git-token-file) or PROXIMITY_GIT_TOKEN instead')
  if (problem) throw new GitError(`the repository URL "${displayUrl(url)}" ${problem}`, 'InvalidUrl')
}

/** Checks a ref given by the user. */
export function checkRef(ref: string): void {
  const problem = gitRefProblem(ref)
  if (problem) throw new GitError(problem, 'InvalidUrl')
}

/** Only the transports we document; no remote helpers (`ext::`), no repository hooks. */
const GIT_CONFIG = ['protocol.allow=never', 'protocol.https.allow=always', 'protocol.http.allow=always', 'protocol.ssh.allow=always', 'protocol.git.allow=always', 'protocol.file.allow=always', 'core.hooksPath=/dev/null'].flatMap((c) => ['-c', c])

interface RunResult {
  stdout: string
  stderr: string
}

/** Runs git (no shell) in `cwd` with the credential environment; rejects with a GitError. */
async function git(args: string[], cwd: string, opts: GitFetchOptions, secret: string | undefined): Promise<RunResult> {
  const root = packageRoot()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ASKPASS: join(root, 'bin', 'git-askpass.sh'),
    GIT_SSH: join(root, 'bin', 'git-ssh.sh'),
    PROXIMITY_GIT_USERNAME: opts.credentials?.username ?? 'git',
    ...(secret !== undefined ? { PROXIMITY_GIT_PASSWORD: secret } : {}),
    ...(opts.credentials?.sshKeyFile ? { PROXIMITY_GIT_SSH_KEY: opts.credentials.sshKeyFile } : {}),
    ...(opts.credentials?.knownHostsFile ? { PROXIMITY_GIT_KNOWN_HOSTS: opts.credentials.knownHostsFile } : {}),
  }
  return new Promise((resolve, reject) => {
    execFile('git', [...GIT_CONFIG, ...args], { cwd, env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr })
      const text = scrub(`${stderr || error.message}`, opts.url, secret)
      reject(new GitError(`git ${args[0]} failed: ${text.trim().split('\n').slice(-3).join('; ')}`, classify(text, error)))
    })
  })
}

function scrub(text: string, url: string, secret: string | undefined): string {
  let out = text.split(url).join(displayUrl(url))
  if (secret) out = out.split(secret).join('(sensitive)')
  return out.replace(/(https?:\/\/)[^/@\s]+@/g, '$1')
}

function classify(text: string, error: Error & { killed?: boolean }): GitError['kind'] {
  if (error.killed) return 'Unreachable'
  if (/couldn't find remote ref|not our ref|no such ref|unadvertised object/i.test(text)) return 'RefNotFound'
  if (/authentication failed|could not read username|permission denied|host key verification failed|terminal prompts disabled/i.test(text)) return 'AuthFailed'
  if (/could not resolve host|connection refused|timed out|unable to access|does not appear to be a git repository|could not read from remote/i.test(text)) return 'Unreachable'
  return 'Failed'
}

async function readToken(c: GitCredentials | undefined): Promise<string | undefined> {
  if (c?.token) return c.token
  if (!c?.tokenFile) return undefined
  const text = await readFile(c.tokenFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new GitError(`cannot read the git token file ${c.tokenFile}: ${e.code ?? e.message}`, 'AuthFailed')
  })
  return text.trim()
}

/** Checkout folders whose `remote.origin.url` this process has set, and to what. */
const remoteSet = new Map<string, string>()

/**
 * Fetches `ref` at depth 1 and checks the commit out, detached, in `<dir>/work`. Idempotent:
 * the same remote state gives the same checkout. Throws GitError.
 */
export async function fetchCheckout(opts: GitFetchOptions): Promise<GitCheckout> {
  checkRepoUrl(opts.url)
  if (opts.ref !== undefined) checkRef(opts.ref)
  const secret = await readToken(opts.credentials)
  const work = join(opts.dir, 'work')
  if (!existsSync(join(work, '.git'))) {
    await mkdir(work, { recursive: true })
    await git(['init', '-q'], work, opts, secret)
    remoteSet.delete(work)
  }
  // The remote URL lives in the repository's config (no credentials in it); set once per process
  // and checkout folder, so a changed --git URL takes effect after a restart without costing a
  // git process on every fetch.
  if (remoteSet.get(work) !== opts.url) {
    await git(['config', 'remote.origin.url', opts.url], work, opts, secret)
    remoteSet.set(work, opts.url)
  }

  let ref = opts.ref
  if (ref === undefined) {
    const head = await git(['ls-remote', '--symref', 'origin', 'HEAD'], work, opts, secret)
    const m = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(head.stdout)
    if (!m) throw new GitError(`the remote ${displayUrl(opts.url)} has no default branch; pass --ref`, 'RefNotFound')
    ref = m[1]!
  }

  let refKind: GitCheckout['refKind']
  let sha: string
  if (SHA.test(ref)) {
    await git(['fetch', '-q', '--depth', '1', '--no-tags', 'origin', ref], work, opts, secret)
    refKind = 'sha'
    sha = ref
  } else {
    try {
      await git(['fetch', '-q', '--depth', '1', '--no-tags', 'origin', `+refs/heads/${ref}:refs/remotes/origin/${ref}`], work, opts, secret)
      refKind = 'branch'
    } catch (e) {
      if (!(e instanceof GitError) || e.kind !== 'RefNotFound') throw e
      try {
        await git(['fetch', '-q', '--depth', '1', '--no-tags', 'origin', `+refs/tags/${ref}:refs/tags/${ref}`], work, opts, secret)
      } catch (e2) {
        if (e2 instanceof GitError && e2.kind === 'RefNotFound') throw new GitError(`no branch or tag "${ref}" in ${displayUrl(opts.url)}`, 'RefNotFound')
        throw e2
      }
      refKind = 'tag'
    }
    sha = (await git(['rev-parse', 'FETCH_HEAD^{commit}'], work, opts, secret)).stdout.trim()
  }
  await git(['checkout', '-q', '--force', '--detach', sha], work, opts, secret)
  await git(['clean', '-q', '-ffdx'], work, opts, secret)
  return { sha, ref, refKind, workTree: work, revision: `${ref}@sha1:${sha}` }
}
