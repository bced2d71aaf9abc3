/**
 * Docker inside the guest (runtime REFERENCE §1–§3): install and start the engine, push the
 * project files, validate and start the compose project. Every step is idempotent.
 */
import { stringify } from 'yaml'
import type { AppManifest } from '../../src/model/types.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { exec, push, tail, type GuestRef } from '../lxc/index.js'
import { DOTENV_KEY, DotenvValueError, quoteDotenvValue, unquoteDotenvValue } from '../../src/model/dotenv.js'

/** `/opt/proximity/<app>` */
export const projectDir = (app: string): string => `/opt/proximity/${app}`
/** The compose arguments every command uses: `docker compose -p <app> -f … --progress plain`. */
export const composeArgs = (app: string): string[] => ['docker', 'compose', '-p', app, '-f', `${projectDir(app)}/compose.yaml`, '--progress', 'plain']

export interface DockerOptions {
  /** Poll interval while the daemon starts. @default 500 */
  pollMs?: number
  /** Polls before giving up. @default 120 */
  polls?: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Installs, enables and starts Docker unless it already answers. Returns the server version. */
export async function ensureDocker(g: GuestRef, opts: DockerOptions = {}): Promise<string> {
  const probe = ['docker', 'version', '--format', '{{.Server.Version}}']
  const first = await exec(g, probe, 'docker version')
  if (first.code === 0 && first.stdout.trim() !== '') return first.stdout.trim()
  g.ctx.progress(g.key, 'installing', 'docker')
  const add = await exec(g, ['apk', 'add', '--no-cache', 'docker-engine', 'docker-cli', 'docker-cli-compose'], 'apk add docker', { timeoutMs: 600_000 })
  if (add.code !== 0) throw new TransientError(`cannot install docker in guest ${g.vmid}: ${tail(add)}`)
  const enable = await exec(g, ['rc-update', 'add', 'docker', 'default'], 'rc-update add docker')
  if (enable.code !== 0) throw new TransientError(`cannot enable docker in guest ${g.vmid}: ${tail(enable)}`)
  const start = await exec(g, ['rc-service', 'docker', 'start'], 'rc-service docker start')
  if (start.code !== 0) throw new TransientError(`cannot start docker in guest ${g.vmid}: ${tail(start)}`)
  const polls = opts.polls ?? 120
  for (let i = 0; i < polls; i++) {
    const r = await exec(g, probe, 'docker version')
    if (r.code === 0 && r.stdout.trim() !== '') return r.stdout.trim()
    await sleep(opts.pollMs ?? 500)
  }
  throw new TransientError(`docker in guest ${g.vmid} did not answer after starting; see /var/log/docker.log in the guest`)
}

/**
 * Renders `.env`: one `KEY=value` per line, sorted, each value quoted so docker compose
 * (compose-go's dotenv parser) reads back exactly that value, whatever quotes, backslashes, `$`,
 * `#` or line breaks it holds (rules in src/model/dotenv.ts). Throws StalledError for keys that
 * are not identifiers and values with a NUL character.
 */
export function renderEnv(app: string, values: Record<string, string>): string {
  const lines: string[] = []
  for (const k of Object.keys(values).sort()) {
    if (!DOTENV_KEY.test(k)) throw new StalledError('InvalidEnv', `cannot write .env of App ${app}: "${k}" is not a valid variable name; use letters, digits and _`)
    try {
      lines.push(`${k}=${quoteDotenvValue(values[k])}`)
    } catch (e) {
      if (!(e instanceof DotenvValueError)) throw e
      throw new StalledError('InvalidEnv', `cannot write .env of App ${app}: the value of ${k}: ${e.message}; change it`)
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}

/** Parses a `.env` written by renderEnv (and plain `KEY=value` lines). */
export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!m) continue
    out[m[1]] = unquoteDotenvValue(m[2])
  }
  return out
}

/** Reads the guest's current `.env` (empty when there is none). */
export async function readExistingEnv(g: GuestRef, app: string): Promise<Record<string, string>> {
  const r = await exec(g, ['cat', `${projectDir(app)}/.env`], 'read existing .env', { raw: true })
  return r.code === 0 ? parseEnv(r.stdout) : {}
}

/**
 * Pushes compose.yaml (0644) and .env (0600), validates with `config -q`, then `up -d
 * --remove-orphans`. `env` holds env values and resolved secrets (in memory only).
 */
export async function deployProject(g: GuestRef, app: AppManifest, env: Record<string, string>): Promise<void> {
  const name = app.metadata.name
  const dir = projectDir(name)
  g.ctx.progress(g.key, 'deploying', 'compose up')
  await push(g, `${dir}/compose.yaml`, stringify(app.spec.source.compose), '0644')
  await push(g, `${dir}/.env`, renderEnv(name, env), '0600')
  const cfg = await exec(g, [...composeArgs(name), 'config', '-q'], 'compose config')
  if (cfg.code !== 0) throw new StalledError('InvalidCompose', `compose rejected the project of App ${name}: ${tail(cfg)}; fix spec.source`)
  const up = await exec(g, [...composeArgs(name), 'up', '-d', '--remove-orphans'], 'compose up', { timeoutMs: 900_000 })
  if (up.code !== 0) {
    const text = `${up.stderr}\n${up.stdout}`
    if (/ip_unprivileged_port_start/.test(text) && /permission denied/i.test(text)) {
      throw new StalledError('RuntimeBlocked', `containers of App ${name} cannot start: upgrade lxc-pve on node ${g.node} (runc in the guest fails under its apparmor profile)`)
    }
    throw new TransientError(`compose up failed for App ${name}: ${tail(up)}`)
  }
}

/**
 * Starts the project as the guest now has it — its own compose.yaml and .env, nothing pushed —
 * after a restore or a rollback brought back an earlier state. Containers without a restart
 * policy stay exited across the guest's restart, so `up -d` is needed; it is idempotent.
 */
export async function upExistingProject(g: GuestRef, app: string): Promise<void> {
  await ensureDocker(g)
  const up = await exec(g, [...composeArgs(app), 'up', '-d'], 'compose up (restored project)', { timeoutMs: 900_000 })
  if (up.code !== 0) throw new TransientError(`compose up of the restored project of App ${app} failed: ${tail(up)}`)
}
