/**
 * Manifests the benches write against a running simulator: the Cluster manifest (token and SSH
 * key as 0600 files beside it) and the small whoami App they all converge. Not a bench itself
 * (it exports no `run`).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningSimulator } from '../src/sim/types.js'

/** Writes `cluster.yaml`, `token` and `ssh-key` into `dir` for `sim`. */
export async function writeBenchCluster(dir: string, sim: RunningSimulator, perNode: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'token'), sim.tokenSecret, { mode: 0o600 })
  await writeFile(join(dir, 'ssh-key'), sim.ssh.privateKey, { mode: 0o600 })
  await writeFile(
    join(dir, 'cluster.yaml'),
    [
      'apiVersion: proximity/v1alpha1',
      'kind: Cluster',
      'metadata: {name: bench}',
      'spec:',
      `  endpoint: ${JSON.stringify(sim.endpoint)}`,
      `  tls: {fingerprint: ${JSON.stringify(sim.fingerprint)}}`,
      `  auth: {tokenId: ${JSON.stringify(sim.tokenId)}, tokenSecret: {file: token}}`,
      `  ssh: {host: ${JSON.stringify(sim.ssh.host)}, port: ${sim.ssh.port}, user: ${JSON.stringify(sim.ssh.user)}, privateKey: {file: ssh-key}, hostKey: ${JSON.stringify(sim.ssh.hostKey)}}`,
      '  vmidRange: {min: 1000, max: 9999}',
      `  concurrency: {perNode: ${perNode}}`,
      '',
    ].join('\n'),
  )
}

/** One small App (whoami, 1 core, 128 MiB, 1 GiB disk, tcp health) with optional labels. */
export function benchAppDoc(name: string, labels?: Record<string, string>): string {
  return [
    'apiVersion: proximity/v1alpha1',
    'kind: App',
    'metadata:',
    `  name: ${name}`,
    ...(labels ? [`  labels: ${JSON.stringify(labels)}`] : []),
    'spec:',
    '  source:',
    '    compose:',
    '      services:',
    '        web:',
    '          image: traefik/whoami:v1.10.3',
    '          ports: ["80:80"]',
    '  resources: {cores: 1, memory: 128, disk: 1}',
    '  health:',
    '    tcp: {port: 80}',
    '  deletionPolicy: Delete',
    '',
  ].join('\n')
}
