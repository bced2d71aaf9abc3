/**
 * How `serve` combines a Cluster manifest's `spec.git` with its flags (gitFlagsFromCluster): each
 * flag given overrides its own field, nothing else; file fields resolve against the manifest's
 * folder, flags stay as given. The e2e run (test/e2e/gitops.test.ts) shows one override end to
 * end; this table covers every field.
 */
import { describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gitFlagsFromCluster, unreadableGitFiles, type GitFlags } from '../../src/cli/gitops.js'
import type { ClusterGitSpec } from '../../src/model/types.js'

const spec: ClusterGitSpec = {
  url: 'https://git.example.com/ops/homelab.git',
  ref: 'main',
  path: 'apps',
  interval: 60_000,
  tokenFile: './git-token',
  username: 'oauth2',
  sshKeyFile: 'keys/id_ed25519',
  knownHostsFile: '/etc/proximity/known_hosts',
  webhook: { secretFile: '../hook.secret' },
  notify: { webhook: { url: 'https://hooks.example.com/p', secretFile: './notify.secret' }, commitStatus: { api: 'https://api.github.com', repo: 'ops/homelab', tokenFile: './status-token' } },
}

const fromManifest: GitFlags = {
  git: spec.url,
  gitUsername: 'oauth2',
  filename: ['site/cluster.yaml'],
  ref: 'main',
  path: 'apps',
  gitTokenFile: '/srv/site/git-token',
  gitSshKey: '/srv/site/keys/id_ed25519',
  gitKnownHosts: '/etc/proximity/known_hosts',
  webhookSecretFile: '/srv/hook.secret',
  notifyWebhook: 'https://hooks.example.com/p',
  notifySecretFile: '/srv/site/notify.secret',
  commitStatusApi: 'https://api.github.com',
  commitStatusRepo: 'ops/homelab',
  commitStatusTokenFile: '/srv/site/status-token',
}

const cases: { name: string; reason: string; given: Partial<GitFlags>; want: Partial<GitFlags> }[] = [
  { name: 'no flags', reason: 'the manifest alone describes the source; relative files resolve against its folder', given: {}, want: {} },
  { name: '--ref', reason: 'following another branch for a test must not need a manifest edit', given: { ref: 'staging' }, want: { ref: 'staging' } },
  { name: '--path', reason: 'one field overridden leaves the others as the manifest says', given: { path: 'clusters/lab' }, want: { path: 'clusters/lab' } },
  { name: '--git-token-file', reason: 'a flag path is used as given, not against the manifest folder', given: { gitTokenFile: 'tok' }, want: { gitTokenFile: 'tok' } },
  { name: '--git-ssh-key and --git-known-hosts', reason: 'ssh credentials override one by one', given: { gitSshKey: '/k', gitKnownHosts: '/kh' }, want: { gitSshKey: '/k', gitKnownHosts: '/kh' } },
  { name: '--webhook-secret-file', reason: 'rotating the webhook secret from the command line wins over the manifest', given: { webhookSecretFile: '/run/new.secret' }, want: { webhookSecretFile: '/run/new.secret' } },
  { name: '--notify-webhook', reason: 'the receiver URL and its secret are separate fields', given: { notifyWebhook: 'https://other.example/p' }, want: { notifyWebhook: 'https://other.example/p' } },
  { name: '--commit-status-*', reason: 'commit status settings override field by field', given: { commitStatusRepo: 'ops/other', commitStatusTokenFile: '/t' }, want: { commitStatusRepo: 'ops/other', commitStatusTokenFile: '/t' } },
]

describe('spec.git and serve flags', () => {
  it.each(cases)('$name: $reason', ({ given, want }) => {
    const flags: GitFlags = { filename: ['site/cluster.yaml'], ...given }
    expect(gitFlagsFromCluster(spec, '/srv/site', flags)).toEqual({ ...fromManifest, ...want })
  })

  it('leaves out what neither the manifest nor a flag sets', () => {
    const out = gitFlagsFromCluster({ url: 'file:///srv/repo.git', interval: 60_000, username: 'git' }, '/srv/site', { filename: [] })
    expect(out).toEqual({ git: 'file:///srv/repo.git', gitUsername: 'git', filename: [] })
  })

  it('checks only the files serve will read: a field a flag overrides may name a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'proximity-git-flags-'))
    try {
      await writeFile(join(dir, 'hook.secret'), 'x')
      const git: ClusterGitSpec = { url: 'file:///srv/repo.git', interval: 60_000, username: 'git', tokenFile: './missing-token', webhook: { secretFile: './hook.secret' } }
      expect(await unreadableGitFiles(git, dir, { filename: [] })).toEqual([`spec.git.tokenFile: cannot read ${join(dir, 'missing-token')} (ENOENT)`])
      expect(await unreadableGitFiles(git, dir, { filename: [], gitTokenFile: '/run/token' })).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
