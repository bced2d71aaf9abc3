/** `serve --git`: the git source made from the command's flags (checked before anything runs). */
import { join } from 'node:path'
import type { CliContext } from './context.js'
import { err } from './context.js'
import type { GitSource } from '../engine/sources/git.js'

export interface GitFlags {
  git?: string
  ref?: string
  path?: string
  filename: string[]
  gitTokenFile?: string
  gitSshKey?: string
  gitKnownHosts?: string
  webhookSecretFile?: string
  notifyWebhook?: string
  notifySecretFile?: string
  commitStatusApi?: string
  commitStatusRepo?: string
  commitStatusTokenFile?: string
}

/** The git source of `serve --git`, or null after printing why it cannot be made. */
export async function openGitSource(ctx: CliContext, o: GitFlags, stateDir: string, intervalMs: number): Promise<GitSource | null> {
  const [{ createGitSource }, { checkRepoUrl, checkRef }, { resolveKeyFile }] = await Promise.all([
    import('../engine/sources/git.js'),
    import('../providers/git/git-cli.js'),
    import('../engine/key-file.js'),
  ])
  try {
    checkRepoUrl(o.git!)
    if (o.ref) checkRef(o.ref)
    if (o.path && (o.path.startsWith('/') || o.path.split('/').includes('..'))) throw new Error(`--path "${o.path}" must be a folder inside the repository`)
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return null
  }
  const token = ctx.env.PROXIMITY_GIT_TOKEN
  return createGitSource({
    url: o.git!,
    ...(o.ref ? { ref: o.ref } : {}),
    ...(o.path ? { path: o.path } : {}),
    paths: o.filename,
    cwd: ctx.cwd,
    dir: join(stateDir, 'git'),
    credentials: {
      ...(o.gitTokenFile ? { tokenFile: o.gitTokenFile } : token ? { token } : {}),
      ...(o.gitSshKey ? { sshKeyFile: o.gitSshKey } : {}),
      ...(o.gitKnownHosts ? { knownHostsFile: o.gitKnownHosts } : {}),
    },
    keyFile: resolveKeyFile(ctx.env, ctx.cwd, stateDir).path,
    requireKey: true,
    intervalMs,
  })
}

