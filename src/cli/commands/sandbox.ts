import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { stringify } from 'yaml'
import { err, out, type CliContext } from '../context.js'
import { parseDurationOption } from '../format.js'
import { stateDirOption } from '../state-dir.js'

interface StartOptions {
  listen: string
  sshListen?: string
  http?: boolean
  nodes: string
  state?: string
  stateDir: string
  faults?: boolean
  taskLatency?: string
  output?: string
  clusterManifest?: string
}

/**
 * Parses `200ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds (as every other duration of
 * the CLI and of manifests; see format.ts `parseDurationOption`).
 */
export function parseDuration(text: string): number {
  try {
    return parseDurationOption(text, '--task-latency')
  } catch {
    throw new Error(`invalid duration '${text}': use e.g. 200ms, 2s or a number of seconds`)
  }
}

/** Parses `--task-latency`: one duration, or `type=duration,…` (`default=` sets the rest). */
export function parseTaskLatency(text: string): number | Record<string, number> {
  if (!text.includes('=')) return parseDuration(text)
  const out: Record<string, number> = {}
  for (const part of text.split(',')) {
    const [k, v] = part.split('=')
    if (!k || v === undefined) throw new Error(`invalid --task-latency '${text}': use vzcreate=2s,vzstart=1s`)
    out[k.trim()] = parseDuration(v)
  }
  return out
}

/** Parses `HOST:PORT` (`[::1]:8006` for IPv6). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text.trim())
  if (!m) throw new Error(`invalid --listen '${text}': use HOST:PORT, e.g. 127.0.0.1:8006`)
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) }
}

/** Default sandbox state file under a state dir. */
export const sandboxStateFile = (stateDir: string): string => join(stateDir, 'sandbox', 'state.json')

/** SSH port used when the API listens on a fixed port (the sandbox's "port 22"). */
export const DEFAULT_SSH_PORT = 8022

/**
 * Writes a ready Cluster manifest for the running sandbox. The manifest loader only reads
 * `{file: …}` secrets from inside the manifest's folder, so the token secret and the SSH key
 * are copied (mode 0600) into `<name>.secrets/` beside the manifest, with a `.gitignore` that
 * keeps them out of git, and referenced by relative path. No secret is ever written inline.
 */
async function writeClusterManifest(path: string, sim: { endpoint: string; fingerprint: string; tokenId: string; tokenSecret: string; ssh: { host: string; port: number; user: string; privateKey: string; hostKey: string } }): Promise<void> {
  const dir = dirname(path)
  const secretsName = `${basename(path).replace(/\.ya?ml$/, '')}.secrets`
  const secretsDir = join(dir, secretsName)
  await mkdir(secretsDir, { recursive: true, mode: 0o700 })
  await writeFile(join(secretsDir, '.gitignore'), '*\n')
  for (const [name, text] of [['token-secret', `${sim.tokenSecret}\n`], ['ssh-key', sim.ssh.privateKey]] as const) {
    await writeFile(join(secretsDir, name), text, { mode: 0o600 })
    await chmod(join(secretsDir, name), 0o600)
  }
  const manifest = {
    apiVersion: 'proximity/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'sandbox' },
    spec: {
      endpoint: sim.endpoint,
      ...(sim.fingerprint ? { tls: { fingerprint: sim.fingerprint } } : {}),
      auth: { tokenId: sim.tokenId, tokenSecret: { file: `./${secretsName}/token-secret` } },
      ssh: { host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKey: { file: `./${secretsName}/ssh-key` }, hostKey: sim.ssh.hostKey },
    },
  }
  await mkdir(dir, { recursive: true })
  await writeFile(path, `# Written by proximity sandbox start; secrets are in ${secretsName}/ (git-ignored).\n${stringify(manifest)}`, { mode: 0o600 })
}

function waitForSignal(): Promise<string> {
  return new Promise((res) => {
    const on = (sig: string): void => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      res(sig)
    }
    const onInt = (): void => on('SIGINT')
    const onTerm = (): void => on('SIGTERM')
    process.once('SIGINT', onInt)
    process.once('SIGTERM', onTerm)
  })
}

async function start(ctx: CliContext, o: StartOptions): Promise<void> {
  const { host, port } = parseListen(o.listen)
  const nodes = Number(o.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) throw new Error(`invalid --nodes '${o.nodes}': use a number from 1 to 32`)
  const stateDir = resolve(ctx.cwd, o.stateDir)
  const statePath = o.state ? resolve(ctx.cwd, o.state) : sandboxStateFile(stateDir)
  const taskLatencyMs = o.taskLatency ? parseTaskLatency(o.taskLatency) : 200
  // SSH gets a fixed port beside a fixed API port, so manifests stay valid across restarts.
  const ssh = o.sshListen ? parseListen(o.sshListen) : { host, port: port === 0 ? 0 : DEFAULT_SSH_PORT }
  const { startSimulator } = await import('../../sim/index.js')
  const sim = await startSimulator({ host, port, sshPort: ssh.port, http: o.http ?? false, nodes, statePath, faultsEndpoint: o.faults ?? false, taskLatencyMs })
  if (o.clusterManifest) await writeClusterManifest(resolve(ctx.cwd, o.clusterManifest), sim)
  const info = {
    endpoint: sim.endpoint,
    fingerprint: sim.fingerprint,
    tokenId: sim.tokenId,
    tokenSecret: sim.tokenSecret,
    password: sim.password,
    ssh: { host: sim.ssh.host, port: sim.ssh.port, user: sim.ssh.user, privateKeyFile: sim.ssh.privateKeyFile, hostKey: sim.ssh.hostKey },
  }
  if (o.output === 'json') out(ctx, JSON.stringify(info))
  else {
    out(ctx, `sandbox listening (nodes: ${sim.nodes.join(', ')}; state: ${statePath})`)
    out(ctx, `  endpoint:     ${info.endpoint}`)
    if (info.fingerprint) out(ctx, `  fingerprint:  ${info.fingerprint}`)
    out(ctx, `  token id:     ${info.tokenId}`)
    out(ctx, `  token secret: ${info.tokenSecret}`)
    out(ctx, `  password:     ${info.password} (root@pam)`)
    out(ctx, `  ssh:          ${info.ssh.user}@${info.ssh.host} port ${info.ssh.port}`)
    out(ctx, `  ssh key:      ${info.ssh.privateKeyFile}`)
    out(ctx, `  ssh host key: ${info.ssh.hostKey}`)
    if (o.faults) out(ctx, `  faults:       ${info.endpoint}/_sim/faults (loopback only)`)
    if (o.clusterManifest) out(ctx, `  manifest:     ${resolve(ctx.cwd, o.clusterManifest)}`)
    out(ctx, 'press Ctrl-C to stop')
  }
  const sig = await waitForSignal()
  await sim.stop()
  if (o.output !== 'json') err(ctx, `sandbox stopped (${sig}); state saved`)
}

/**
 * Registers `proximity sandbox start|reset`. `start` runs the simulator until SIGINT/SIGTERM and
 * saves its state on exit. `reset` deletes the guests/storage state but keeps the credentials and
 * keys (so Cluster manifests written by `--cluster-manifest` stay valid); `--keys` drops them too.
 */
export function registerSandbox(program: Command, ctx: CliContext): void {
  const sandbox = program.command('sandbox').description('run the built-in Proxmox VE simulator')
  sandbox
    .command('start')
    .description('start the sandbox (HTTPS API + SSH node) and keep it running until Ctrl-C')
    .option('--listen <host:port>', 'API address', '127.0.0.1:8006')
    .option('--ssh-listen <host:port>', `SSH node address (default: the API host, port ${DEFAULT_SSH_PORT}; a free port when --listen uses port 0)`)
    .option('--http', 'serve plain HTTP instead of HTTPS')
    .option('--nodes <n>', 'number of nodes', '1')
    .option('--state <file>', 'state file (default <state-dir>/sandbox/state.json)')
    .addOption(stateDirOption())
    .option('--faults', 'serve the fault-control endpoint /_sim/faults (loopback only)')
    .option('--task-latency <spec>', 'task duration: 200ms, 2s (a plain number is seconds), or per type vzcreate=2s,vzstart=1s')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .option('--cluster-manifest <file>', 'write a ready Cluster manifest (secrets by file reference)')
    .action(async (o: StartOptions) => {
      if (o.output !== 'text' && o.output !== 'json') throw new Error(`invalid -o '${o.output}': use text or json`)
      await start(ctx, o)
    })
  sandbox
    .command('reset')
    .description('delete the sandbox state (guests, backups, tasks); credentials are kept unless --keys')
    .option('--state <file>', 'state file (default <state-dir>/sandbox/state.json)')
    .addOption(stateDirOption())
    .option('--keys', 'also delete the TLS certificate, SSH keys, token and password')
    .action(async (o: { state?: string; stateDir: string; keys?: boolean }) => {
      const statePath = o.state ? resolve(ctx.cwd, o.state) : sandboxStateFile(resolve(ctx.cwd, o.stateDir))
      await rm(statePath, { force: true })
      if (o.keys) {
        const dir = dirname(statePath)
        for (const f of ['sim-keys.json', 'sim-client-key', 'token-secret']) await rm(join(dir, f), { force: true })
      }
      out(ctx, `sandbox state removed: ${statePath}${o.keys ? ' (keys too)' : ''}`)
    })
}
