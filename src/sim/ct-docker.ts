/**
 * The simulated Docker CLI inside a container: `docker version|info|image inspect`,
 * `docker compose version`, and `docker compose -p P -f F … config|pull|up|ps|images|down|logs`
 * (or `--project-directory DIR` instead of `-p`/`-f`)
 * operating on the compose file inside the container's filesystem (runtime REFERENCE §1.3, §2, §7).
 *
 * Test hooks (documented behaviour of the simulator, not of Docker): an image whose tag is
 * `doesnotexist` fails to pull with "manifest unknown", a repository containing `invalid` fails
 * with "pull access denied", an image containing `crash` exits (1) right after start, and one
 * containing `unhealthy` turns unhealthy instead of healthy. `up --wait` completes a pending
 * health transition at once when it falls within `--wait-timeout` (the wait "took" that time).
 */
import { createHash } from 'node:crypto'
import { stringify as stringifyYaml } from 'yaml'
import type { CmdResult, CtContainer, CtContext, CtProject } from './ct-state.js'
import { containerHealth, result } from './ct-state.js'
import type { ComposeProject, ServiceSpec } from './ct-compose-file.js'
import { ComposeError, loadComposeProject } from './ct-compose-file.js'
import { goDuration, imagesJson, psJsonLine, splitImageRef } from './ct-docker-format.js'
import { followLogs, parseLogsArgs, renderHistory, selectContainers } from './ct-docker-logs.js'

export const DOCKER_VERSION = '28.3.3'
export const COMPOSE_VERSION = '2.36.2'
const CANNOT_CONNECT = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'
const RUNC_APPARMOR = 'Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: open sysctl net.ipv4.ip_unprivileged_port_start file: reopen fd 8: permission denied: unknown'

/** Whether the guest config allows Docker to run (unprivileged CTs need `features: nesting=1`). */
export function nestingAllowed(config: Record<string, string | number>): boolean {
  if (Number(config.unprivileged ?? 0) !== 1) return true
  return /(^|,)nesting=1(,|$)/.test(String(config.features ?? ''))
}

/** True when dockerd is started and able to run. */
export function dockerUp(ctx: CtContext): boolean {
  return ctx.state.started.includes('docker') && 'docker-engine' in ctx.state.packages && nestingAllowed(ctx.config)
}

/** Compares Debian versions like `6.0.5-2` (numeric parts only; enough for lxc-pve). */
export function debVersionAtLeast(v: string, min: string): boolean {
  const a = v.split(/[.\-+~]/).map((x) => parseInt(x, 10) || 0)
  const b = min.split(/[.\-+~]/).map((x) => parseInt(x, 10) || 0)
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

/** Runs `docker …` (argv without the leading `docker`). */
export async function runDocker(ctx: CtContext, args: string[]): Promise<CmdResult> {
  if (!('docker-cli' in ctx.state.packages)) return result(127, '', `lxc-attach: ${ctx.vmid}: attach.c: lxc_attach_run_command: Failed to exec "docker"`)
  const [sub, ...rest] = args
  if (sub === 'compose') return runCompose(ctx, rest)
  if (sub === 'version') {
    if (!dockerUp(ctx)) return result(1, '', CANNOT_CONNECT)
    const fmt = flagValue(rest, '--format') ?? flagValue(rest, '-f')
    if (fmt === '{{.Server.Version}}') return result(0, `${DOCKER_VERSION}\n`)
    if (fmt === '{{.Client.Version}}') return result(0, `${DOCKER_VERSION}\n`)
    return result(0, `Client:\n Version:           ${DOCKER_VERSION}\n\nServer:\n Engine:\n  Version:          ${DOCKER_VERSION}\n`)
  }
  if (sub === 'info') {
    if (!dockerUp(ctx)) return result(1, '', `ERROR: ${CANNOT_CONNECT}`)
    const fmt = flagValue(rest, '--format') ?? flagValue(rest, '-f')
    if (fmt === '{{.Driver}}') return result(0, 'overlay2\n')
    if (fmt === '{{.ServerVersion}}') return result(0, `${DOCKER_VERSION}\n`)
    return result(0, `Server:\n Server Version: ${DOCKER_VERSION}\n Storage Driver: overlay2\n Cgroup Version: 2\n`)
  }
  if (sub === 'image' && rest[0] === 'inspect' && rest[1]) {
    if (!dockerUp(ctx)) return result(1, '', CANNOT_CONNECT)
    const img = ctx.state.images[rest[1]]
    if (!img) return result(1, '[]\n', `Error response from daemon: No such image: ${rest[1]}`)
    return result(0, `[{"Id":"${img.id}","RepoTags":["${rest[1]}"],"Size":${img.size}}]\n`)
  }
  return result(1, '', `docker: unknown command: docker ${sub ?? ''}\n\nRun 'docker --help' for more information`)
}

function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i >= 0) return args[i + 1]
  const eq = args.find((a) => a.startsWith(`${name}=`))
  return eq?.slice(name.length + 1)
}

interface Globals {
  project?: string
  files: string[]
  envFile?: string
  projectDir?: string
}

async function runCompose(ctx: CtContext, args: string[]): Promise<CmdResult> {
  if (!('docker-cli-compose' in ctx.state.packages)) return result(1, '', "docker: unknown command: docker compose\n\nRun 'docker --help' for more information")
  const g: Globals = { files: [] }
  let i = 0
  const takes = new Set(['-p', '--project-name', '-f', '--file', '--env-file', '--progress', '--project-directory', '--ansi', '--profile', '--parallel'])
  for (; i < args.length && args[i].startsWith('-'); i++) {
    let a = args[i]
    let v: string | undefined
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1)
      a = a.slice(0, eq)
    } else if (takes.has(a)) v = args[++i]
    if (!takes.has(a)) return result(1, '', `unknown flag: ${a}`)
    if (v === undefined) return result(1, '', `flag needs an argument: ${a}`)
    if (a === '-p' || a === '--project-name') g.project = v
    else if (a === '-f' || a === '--file') g.files.push(v)
    else if (a === '--env-file') g.envFile = v
    else if (a === '--project-directory') g.projectDir = v
  }
  const [sub, ...rest] = args.slice(i)
  if (sub === 'version') {
    if (rest.includes('--short')) return result(0, `${COMPOSE_VERSION}\n`)
    if (flagValue(rest, '--format') === 'json') return result(0, `{"version":"v${COMPOSE_VERSION}"}\n`)
    return result(0, `Docker Compose version v${COMPOSE_VERSION}\n`)
  }
  if (g.project !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(g.project)) {
    return result(1, '', `invalid project name "${g.project}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`)
  }
  let project: ComposeProject | undefined
  const needsFile = sub === 'config' || sub === 'pull' || sub === 'up'
  if (g.files.length > 0 || needsFile) {
    if (g.files.length === 0) return result(1, '', 'no configuration file provided: not found')
    if (g.files.length > 1) return result(1, '', 'proximity-sim: only one -f file is supported')
    try {
      project = loadComposeProject(ctx.fs, g.files[0], { project: g.project ?? '', envFile: g.envFile })
    } catch (e) {
      if (e instanceof ComposeError) return result(1, '', e.message)
      throw e
    }
  }
  // `--project-directory DIR` alone: the project is DIR's compose.yaml, named after DIR (compose's rule).
  if (!project && !g.project && g.projectDir !== undefined && !ctx.fs.isFile(`${g.projectDir.replace(/\/+$/, '')}/compose.yaml`)) {
    return result(1, '', 'no configuration file provided: not found')
  }
  const name = g.project ?? (project ? project.workingDir.split('/').pop() || 'root' : g.projectDir?.replace(/\/+$/, '').split('/').pop() || undefined)
  if (!name) return result(1, '', 'no configuration file provided: not found')
  if (project && !g.project) project = loadComposeProject(ctx.fs, g.files[0], { project: name, envFile: g.envFile })
  const warn = project ? project.warnings.map((w) => logrusWarning(ctx, w)).join('') : ''
  if (sub === 'config') {
    if (rest.includes('-q') || rest.includes('--quiet')) return result(0, '', warn)
    if (rest.includes('--services')) return result(0, project!.services.map((s) => `${s.name}\n`).join(''), warn)
    if (rest.includes('--images')) return result(0, project!.services.map((s) => `${s.image}\n`).join(''), warn)
    const services: Record<string, unknown> = {}
    for (const s of project!.services) services[s.name] = { image: s.image, ...(Object.keys(s.environment).length ? { environment: s.environment } : {}) }
    return result(0, stringifyYaml({ name, services }), warn)
  }
  if (sub !== 'version' && !dockerUp(ctx)) return result(1, '', warn + CANNOT_CONNECT)
  const out = { stdout: '', stderr: warn }
  const done = (code: number): CmdResult => result(code, out.stdout, out.stderr)
  switch (sub) {
    case 'pull': {
      const quiet = rest.includes('-q') || rest.includes('--quiet')
      for (const s of project!.services) {
        const err = pullImage(ctx, s, quiet, out)
        if (err && !rest.includes('--ignore-pull-failures')) return done(1)
      }
      return done(0)
    }
    case 'up':
      return done(up(ctx, name, project!, rest, out))
    case 'ps': {
      const all = rest.includes('-a') || rest.includes('--all')
      const list = containersOf(ctx, name).filter((c) => all || c.state === 'running')
      if (rest.includes('-q') || rest.includes('--quiet')) return result(0, list.map((c) => `${c.id.slice(0, 12)}\n`).join(''), warn)
      if (flagValue(rest, '--format') === 'json') {
        const noTrunc = rest.includes('--no-trunc')
        return result(0, list.map((c) => psJsonLine(c, ctx.now(), noTrunc) + '\n').join(''), warn)
      }
      return result(0, ['NAME\tIMAGE\tSERVICE\tSTATUS', ...list.map((c) => `${c.name}\t${c.image}\t${c.service}\t${c.state}`)].join('\n') + '\n', warn)
    }
    case 'images': {
      const list = containersOf(ctx, name)
      if (flagValue(rest, '--format') === 'json') return result(0, imagesJson(list, ctx.state.images) + '\n', warn)
      return result(0, list.map((c) => `${c.name}\t${c.image}\n`).join(''), warn)
    }
    case 'down':
      return done(down(ctx, name, rest, out))
    case 'logs':
      return logs(ctx, name, rest, warn)
    default:
      return result(1, '', `unknown docker command: "compose ${sub ?? ''}"`)
  }
}

function logs(ctx: CtContext, project: string, args: string[], warn: string): CmdResult {
  const parsed = parseLogsArgs(args)
  if (parsed.error !== undefined) return result(1, '', warn + parsed.error)
  const picked = selectContainers(containersOf(ctx, project), parsed.req.services)
  if (typeof picked === 'string') return result(1, '', warn + picked)
  const r = result(0, renderHistory(picked, parsed.req), warn)
  if (parsed.req.follow) r.follow = (emit, closed) => followLogs(ctx, picked, emit, closed)
  return r
}

function logrusWarning(ctx: CtContext, msg: string): string {
  const t = new Date(ctx.now()).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return `time="${t}" level=warning msg=${JSON.stringify(msg)}\n`
}

function containersOf(ctx: CtContext, project: string): CtContainer[] {
  const p = ctx.state.projects[project]
  return p ? Object.values(p.containers).sort((a, b) => a.name.localeCompare(b.name)) : []
}

function pullImage(ctx: CtContext, s: ServiceSpec, quiet: boolean, out: { stderr: string }): string | undefined {
  const { repository, tag } = splitImageRef(s.image)
  let err: string | undefined
  if (tag === 'doesnotexist') err = `manifest for ${repository}:${tag} not found: manifest unknown: manifest unknown`
  else if (repository.includes('invalid')) err = `pull access denied for ${repository}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`
  if (err) {
    out.stderr += ` ${s.name} Error ${err}\nError response from daemon: ${err}\n`
    return err
  }
  if (!quiet) out.stderr += ` ${s.name} Pulling \n ${s.name} Pulled \n`
  const digest = createHash('sha256').update(s.image).digest()
  ctx.state.images[s.image] = { id: `sha256:${digest.toString('hex')}`, size: 10_000_000 + digest.readUInt32BE(0) % 190_000_000, pulledAt: ctx.now() }
  return undefined
}

function up(ctx: CtContext, name: string, project: ComposeProject, args: string[], out: { stderr: string }): number {
  if (!args.includes('-d') && !args.includes('--detach') && !args.includes('--wait')) {
    out.stderr += 'proximity-sim: attached `up` is not supported; pass -d\n'
    return 1
  }
  const pull = flagValue(args, '--pull')
  const quietPull = args.includes('--quiet-pull')
  for (const s of project.services) {
    const policy = pull ?? s.pullPolicy
    const have = s.image in ctx.state.images
    if (policy === 'never' && !have) {
      out.stderr += `Error response from daemon: No such image: ${s.image}\n`
      return 1
    }
    if (policy === 'always' || !have) if (pullImage(ctx, s, quietPull, out)) return 1
  }
  const now = ctx.now()
  const p: CtProject = (ctx.state.projects[name] ??= { name, workingDir: project.workingDir, configFiles: project.file, containers: {}, networks: [], volumes: [] })
  for (const n of project.networks) {
    if (!p.networks.includes(n)) {
      p.networks.push(n)
      out.stderr += ` Network ${n}  Creating\n Network ${n}  Created\n`
    }
  }
  for (const v of project.volumes) {
    if (!p.volumes.includes(v)) {
      p.volumes.push(v)
      out.stderr += ` Volume "${v}"  Creating\n Volume "${v}"  Created\n`
    }
  }
  const wanted = new Set(project.services.map((s) => s.name))
  const orphans = Object.values(p.containers).filter((c) => !wanted.has(c.service))
  if (orphans.length && args.includes('--remove-orphans')) {
    for (const c of orphans) {
      out.stderr += ` Container ${c.name}  Stopping\n Container ${c.name}  Stopped\n Container ${c.name}  Removing\n Container ${c.name}  Removed\n`
      delete p.containers[c.service]
    }
  } else if (orphans.length) {
    const msg = `Found orphan containers ([${orphans.map((c) => c.name).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`
    out.stderr += logrusWarning(ctx, msg)
  }
  const force = args.includes('--force-recreate')
  for (const s of project.services) {
    const old = p.containers[s.name]
    let c = old
    if (old && old.hash === s.hash && old.image === s.image && !force) {
      if (old.state === 'running') {
        out.stderr += ` Container ${old.name}  Running\n`
        continue
      }
    } else {
      c = newContainer(ctx, name, project, s, now)
      out.stderr += old ? ` Container ${c.name}  Recreate\n Container ${c.name}  Recreated\n` : ` Container ${c.name}  Creating\n Container ${c.name}  Created\n`
      p.containers[s.name] = c
    }
    out.stderr += ` Container ${c!.name}  Starting\n`
    const err = startContainer(ctx, c!, now)
    if (err) {
      out.stderr += `Error response from daemon: ${err.replace(/^Error response from daemon: /, '')}\n`
      return 1
    }
    out.stderr += ` Container ${c!.name}  Started\n`
  }
  if (!args.includes('--wait')) return 0
  const timeout = Number(flagValue(args, '--wait-timeout') ?? 0)
  for (const s of project.services) {
    const c = p.containers[s.name]
    out.stderr += ` Container ${c.name}  Waiting\n`
    if (c.state === 'exited') {
      out.stderr += `container ${c.name} exited (${c.exitCode})\n`
      return 1
    }
    let h = containerHealth(c, now)
    if (h === 'starting' && !c.healthOverride) {
      const due = c.healthyAt ?? c.startedAt + (c.healthDelayMs ?? 0)
      if (timeout === 0 || due - now <= timeout * 1000) {
        c.healthyAt = now
        h = containerHealth(c, now)
      }
    }
    if (h === 'unhealthy') {
      out.stderr += `container ${c.name} is unhealthy\n`
      return 1
    }
    if (h === 'starting') {
      out.stderr += `application not healthy after ${goDuration(timeout)}\n`
      return 1
    }
    out.stderr += ` Container ${c.name}  ${h === 'healthy' ? 'Healthy' : 'Started'}\n`
  }
  return 0
}

function newContainer(ctx: CtContext, project: string, file: ComposeProject, s: ServiceSpec, now: number): CtContainer {
  ctx.state.seq += 1
  const id = createHash('sha256').update(`${ctx.vmid}/${project}/${s.name}/${ctx.state.seq}/${now}`).digest('hex')
  const labels: Record<string, string> = {
    'com.docker.compose.config-hash': s.hash,
    'com.docker.compose.container-number': '1',
    'com.docker.compose.oneoff': 'False',
    'com.docker.compose.project': project,
    'com.docker.compose.project.config_files': file.file,
    'com.docker.compose.project.working_dir': file.workingDir,
    'com.docker.compose.service': s.name,
    'com.docker.compose.version': COMPOSE_VERSION,
    ...s.labels,
  }
  return {
    id, name: `${project}-${s.name}-1`, project, service: s.name, image: s.image, command: s.command, hash: s.hash,
    restart: s.restart, state: 'created', exitCode: 0, createdAt: now, startedAt: 0, finishedAt: 0,
    healthDelayMs: s.healthDelayMs, ports: s.ports, mounts: s.mounts, volumes: s.volumes, networks: s.networks, labels,
  }
}

/**
 * Starts a container (engine semantics: a `crash` image exits (1) at once). Returns the daemon
 * error text when the runc/AppArmor trap of runtime REFERENCE §1.6 applies.
 */
export function startContainer(ctx: CtContext, c: CtContainer, now: number): string | undefined {
  const runc = ctx.state.packages.runc
  if (runc && debVersionAtLeast(runc, '1.3.3') && !debVersionAtLeast(ctx.hostLxcPveVersion, '6.0.5-2')) return RUNC_APPARMOR
  c.startedAt = now
  c.healthyAt = undefined
  c.stoppedByUser = false
  if (/crash/.test(c.image)) {
    c.state = 'exited'
    c.exitCode = 1
    c.finishedAt = now
  } else {
    c.state = 'running'
    c.exitCode = 0
  }
  return undefined
}

function down(ctx: CtContext, name: string, args: string[], out: { stderr: string }): number {
  const p = ctx.state.projects[name]
  if (!p || (Object.keys(p.containers).length === 0 && p.networks.length === 0)) {
    out.stderr += `Warning: No resource found to remove for project "${name}".\n`
    return 0
  }
  for (const c of Object.values(p.containers)) {
    if (c.state === 'running') out.stderr += ` Container ${c.name}  Stopping\n Container ${c.name}  Stopped\n`
    out.stderr += ` Container ${c.name}  Removing\n Container ${c.name}  Removed\n`
  }
  for (const n of p.networks) out.stderr += ` Network ${n}  Removing\n Network ${n}  Removed\n`
  if (args.includes('-v') || args.includes('--volumes')) {
    for (const v of p.volumes) out.stderr += ` Volume ${v}  Removing\n Volume ${v}  Removed\n`
    delete ctx.state.projects[name]
  } else {
    p.containers = {}
    p.networks = []
  }
  return 0
}
