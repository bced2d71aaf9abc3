/** `serve --git`: the git source made from the command's flags (checked before anything runs). */
import { join, resolve } from 'node:path'
import type { CliContext } from './context.js'
import { err } from './context.js'
import type { GitSource } from '../engine/sources/git.js'
import type { ClusterGitSpec } from '../model/types.js'

export interface GitFlags {
  git?: string
  /** The https user name for the token (only from the Cluster manifest). @default git */
  gitUsername?: string
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
      ...(o.gitUsername ? { username: o.gitUsername } : {}),
      ...(o.gitSshKey ? { sshKeyFile: o.gitSshKey } : {}),
      ...(o.gitKnownHosts ? { knownHostsFile: o.gitKnownHosts } : {}),
    },
    keyFile: resolveKeyFile(ctx.env, ctx.cwd, stateDir).path,
    requireKey: true,
    intervalMs,
  })
}

/**
 * The `serve` flags a Cluster manifest's `spec.git` stands for, each flag given on the command
 * line taking precedence over its field. File fields are resolved against the manifest's folder.
 * Pure.
 */
export function gitFlagsFromCluster(git: ClusterGitSpec, manifestDir: string, flags: GitFlags): GitFlags {
  const file = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(manifestDir, p))
  const merged: GitFlags = {
    git: git.url,
    gitUsername: git.username,
    filename: flags.filename,
    ref: flags.ref ?? git.ref,
    path: flags.path ?? git.path,
    gitTokenFile: flags.gitTokenFile ?? file(git.tokenFile),
    gitSshKey: flags.gitSshKey ?? file(git.sshKeyFile),
    gitKnownHosts: flags.gitKnownHosts ?? file(git.knownHostsFile),
    webhookSecretFile: flags.webhookSecretFile ?? file(git.webhook?.secretFile),
    notifyWebhook: flags.notifyWebhook ?? git.notify?.webhook?.url,
    notifySecretFile: flags.notifySecretFile ?? file(git.notify?.webhook?.secretFile),
    commitStatusApi: flags.commitStatusApi ?? git.notify?.commitStatus?.api,
    commitStatusRepo: flags.commitStatusRepo ?? git.notify?.commitStatus?.repo,
    commitStatusTokenFile: flags.commitStatusTokenFile ?? file(git.notify?.commitStatus?.tokenFile),
  }
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as unknown as GitFlags
}

/**
 * The files of `spec.git` serve will read (those no flag overrides) that cannot be read, as
 * `spec.git.<field>: cannot read <path> (<code>)`.
 */
export async function unreadableGitFiles(git: ClusterGitSpec, manifestDir: string, flags: GitFlags): Promise<string[]> {
  const { access, constants } = await import('node:fs/promises')
  const fields: [string, string | undefined, string | undefined][] = [
    ['tokenFile', git.tokenFile, flags.gitTokenFile],
    ['sshKeyFile', git.sshKeyFile, flags.gitSshKey],
    ['knownHostsFile', git.knownHostsFile, flags.gitKnownHosts],
    ['webhook.secretFile', git.webhook?.secretFile, flags.webhookSecretFile],
    ['notify.webhook.secretFile', git.notify?.webhook?.secretFile, flags.notifySecretFile],
    ['notify.commitStatus.tokenFile', git.notify?.commitStatus?.tokenFile, flags.commitStatusTokenFile],
  ]
  const out: string[] = []
  for (const [field, p, flag] of fields) {
    if (p === undefined || flag !== undefined) continue
    const abs = resolve(manifestDir, p)
    await access(abs, constants.R_OK).catch((e: NodeJS.ErrnoException) => out.push(`spec.git.${field}: cannot read ${abs} (${e.code ?? e.message})`))
  }
  return out
}
