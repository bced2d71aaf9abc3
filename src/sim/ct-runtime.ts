/**
 * What runs inside a simulated container when the node does `pct exec <vmid> -- <argv…>`:
 * BusyBox-style file commands, `apk`, OpenRC, the Docker CLI (ct-docker.ts), `wget`/`nc`
 * probes, with state in the guest's runtime slot (ct-state.ts). There is no shell: argv is run
 * as-is, and `sh -c` is refused, so nothing can be evaluated as script text.
 */
import { createHash } from 'node:crypto'
import type { CmdResult, CtContext, CtState } from './ct-state.js'
import { containerHealth, ctState, result } from './ct-state.js'
import { CtFilesystem, FsError } from './ct-fs.js'
import { runDocker } from './ct-docker.js'
import { runApk, runRcService, runRcUpdate, startService, stopService } from './ct-packages.js'
import { publishers } from './ct-docker-format.js'
import { APPLIANCE_SERVICES, applianceConnect, applianceHttp, refreshLeases, runApplianceService, runCaddy, runDnsmasq, runNft, runNslookup, runSysctl } from './ct-appliance.js'
import type { LanPeer } from './ct-appliance.js'

export type { CmdResult, CtContext } from './ct-state.js'
export { ctState } from './ct-state.js'

/** Longest `sleep` the simulated container honours (real time), in seconds. */
const MAX_SLEEP_S = 30

/** Builds the context for one command in container `vmid`. */
export function ctContext(opts: {
  vmid: number
  runtime: Record<string, unknown>
  config: Record<string, string | number>
  now: () => number
  hostLxcPveVersion: string
  readStdin: () => Promise<Buffer>
  lan?: { peers(): LanPeer[] }
}): CtContext {
  const state = ctState(opts.runtime, opts.now())
  return {
    ...(opts.lan ? { lan: opts.lan } : {}),
    vmid: opts.vmid,
    state,
    fs: new CtFilesystem(state.fs, opts.now),
    now: opts.now,
    config: opts.config,
    hostLxcPveVersion: opts.hostLxcPveVersion,
    readStdin: opts.readStdin,
  }
}

/** Runs argv inside the container. Never throws for command failures (exit codes instead). */
export async function runInContainer(ctx: CtContext, argv: string[]): Promise<CmdResult> {
  const [prog0, ...args] = argv
  const prog = prog0?.replace(/^\/(usr\/)?s?bin\//, '') ?? ''
  refreshLeases(ctx)
  try {
    switch (prog) {
      case 'cat': return await cat(ctx, args)
      case 'echo': return result(0, (args[0] === '-n' ? args.slice(1).join(' ') : args.join(' ') + '\n'))
      case 'true': return result(0)
      case 'false': return result(1)
      case 'mkdir': return mkdir(ctx, args)
      case 'mv': return mv(ctx, args)
      case 'rm': return rm(ctx, args)
      case 'chmod': return chmod(ctx, args)
      case 'sha256sum': return await sha256sum(ctx, args)
      case 'test': return testCmd(ctx, args)
      case 'ls': return ls(ctx, args)
      case 'tail': return tail(ctx, args)
      case 'sleep': return await sleep(args)
      case 'sh': case 'ash': return result(2, '', `${prog}: proximity-sim does not run shell scripts; send argv commands`)
      case 'apk': return runApk(ctx, args)
      case 'rc-update': return runRcUpdate(ctx, args)
      case 'rc-service':
        if (APPLIANCE_SERVICES.has(args[0] ?? '') && serviceInstalled(ctx, args[0])) return await runApplianceService(ctx, args[0] as 'dnsmasq', args[1] ?? '', () => runRcService(ctx, args))
        return runRcService(ctx, args)
      case 'dnsmasq': if (!('dnsmasq' in ctx.state.packages)) break; return await runDnsmasq(ctx, args)
      case 'caddy': if (!('caddy' in ctx.state.packages)) break; return await runCaddy(ctx, args)
      case 'nft': if (!('nftables' in ctx.state.packages)) break; return await runNft(ctx, args)
      case 'sysctl': return runSysctl(ctx, args)
      case 'nslookup': return runNslookup(ctx, args)
      case 'docker': return await runDocker(ctx, args)
      case 'docker-compose': return await runDocker(ctx, ['compose', ...args])
      case 'runc':
        if (!('runc' in ctx.state.packages)) break
        return result(0, `runc version ${ctx.state.packages.runc.replace(/-r\d+$/, '')}\ncommit: v${ctx.state.packages.runc.replace(/-r\d+$/, '')}-0-g0000000\nspec: 1.2.1\ngo: go1.24.6\nlibseccomp: 2.6.0\n`)
      case 'wget': return wget(ctx, args)
      case 'nc': return nc(ctx, args)
      case 'hostname': return result(0, `CT${ctx.vmid}\n`)
    }
  } catch (e) {
    if (e instanceof FsError) return result(1, '', `${prog}: ${e.path}: ${e.message}`)
    throw e
  }
  return result(127, '', `lxc-attach: ${ctx.vmid}: ../src/lxc/attach.c: lxc_attach_run_command: 1841 No such file or directory - Failed to exec "${prog0 ?? ''}"`)
}

async function cat(ctx: CtContext, args: string[]): Promise<CmdResult> {
  const files = args.filter((a) => a !== '--')
  if (files.length === 0 || (files.length === 1 && files[0] === '-')) return result(0, await ctx.readStdin())
  const parts: Buffer[] = []
  let err = ''
  for (const f of files) {
    try {
      parts.push(ctx.fs.read(f))
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      err += e.code === 'EISDIR' ? `cat: read error: Is a directory\n` : `cat: can't open '${f}': ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, Buffer.concat(parts), err)
}

function splitFlags(args: string[]): { flags: Set<string>; rest: string[] } {
  const flags = new Set<string>()
  const rest: string[] = []
  let ended = false
  for (const a of args) {
    if (!ended && a === '--') ended = true
    else if (!ended && /^-[a-zA-Z]+$/.test(a)) for (const ch of a.slice(1)) flags.add(ch)
    else rest.push(a)
  }
  return { flags, rest }
}

function mkdir(ctx: CtContext, args: string[]): CmdResult {
  const { flags, rest } = splitFlags(args)
  let err = ''
  for (const d of rest) {
    try {
      ctx.fs.mkdir(d, flags.has('p'))
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      err += `mkdir: can't create directory '${d}': ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, '', err)
}

function mv(ctx: CtContext, args: string[]): CmdResult {
  const { rest } = splitFlags(args)
  if (rest.length !== 2) return result(1, '', 'BusyBox v1.37.0 (2025-07-18) multi-call binary.\n\nUsage: mv [-fin] SOURCE DEST')
  try {
    ctx.fs.move(rest[0], rest[1])
    return result(0)
  } catch (e) {
    if (!(e instanceof FsError)) throw e
    return result(1, '', `mv: can't rename '${rest[0]}': ${e.message}`)
  }
}

function rm(ctx: CtContext, args: string[]): CmdResult {
  const { flags, rest } = splitFlags(args)
  let err = ''
  for (const p of rest) {
    try {
      ctx.fs.remove(p, flags.has('r') || flags.has('R'))
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      if (e.code === 'ENOENT' && flags.has('f')) continue
      err += `rm: can't remove '${p}': ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, '', err)
}

function chmod(ctx: CtContext, args: string[]): CmdResult {
  const { rest } = splitFlags(args)
  const [mode, ...files] = rest
  if (!mode || !/^[0-7]{3,4}$/.test(mode)) return result(1, '', `chmod: invalid mode '${mode ?? ''}'`)
  let err = ''
  for (const f of files) {
    try {
      ctx.fs.chmod(f, parseInt(mode, 8))
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      err += `chmod: ${f}: ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, '', err)
}

async function sha256sum(ctx: CtContext, args: string[]): Promise<CmdResult> {
  const { rest } = splitFlags(args)
  if (rest.length === 0 || (rest.length === 1 && rest[0] === '-')) {
    return result(0, `${createHash('sha256').update(await ctx.readStdin()).digest('hex')}  -\n`)
  }
  let out = ''
  let err = ''
  for (const f of rest) {
    try {
      out += `${createHash('sha256').update(ctx.fs.read(f)).digest('hex')}  ${f}\n`
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      err += `sha256sum: ${f}: ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, out, err)
}

function testCmd(ctx: CtContext, args: string[]): CmdResult {
  if (args.length !== 2) return result(2, '', 'sh: test: unsupported expression')
  const [op, p] = args
  const abs = p.startsWith('/') && !p.includes('\0')
  const ok = abs && (op === '-f' ? ctx.fs.isFile(p) : op === '-d' ? ctx.fs.isDir(p) : op === '-e' ? ctx.fs.exists(p) : false)
  if (!['-f', '-d', '-e'].includes(op)) return result(2, '', `sh: test: ${op}: unknown operand`)
  return result(ok ? 0 : 1)
}

function ls(ctx: CtContext, args: string[]): CmdResult {
  const { rest } = splitFlags(args)
  const paths = rest.length ? rest : ['/root']
  let out = ''
  let err = ''
  for (const p of paths) {
    try {
      out += ctx.fs.list(p).map((n) => `${n}\n`).join('')
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      err += `ls: ${p}: ${e.message}\n`
    }
  }
  return result(err ? 1 : 0, out, err)
}

function tail(ctx: CtContext, args: string[]): CmdResult {
  let n = 10
  const files: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-n') n = Number(args[++i])
    else files.push(args[i])
  }
  if (files.length !== 1 || !Number.isInteger(n)) return result(1, '', 'tail: unsupported arguments')
  if (!ctx.fs.isFile(files[0])) return result(1, '', `tail: can't open '${files[0]}': No such file or directory`)
  const lines = ctx.fs.read(files[0]).toString('utf8').split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return result(0, lines.slice(-n).map((l) => `${l}\n`).join(''))
}

async function sleep(args: string[]): Promise<CmdResult> {
  const s = Number(args[0])
  if (!Number.isFinite(s) || s < 0) return result(1, '', `sleep: invalid number '${args[0] ?? ''}'`)
  await new Promise((r) => setTimeout(r, Math.min(s, MAX_SLEEP_S) * 1000))
  return result(0)
}

function serviceInstalled(ctx: CtContext, svc: string | undefined): boolean {
  return svc === 'nftables' ? 'nftables' in ctx.state.packages : svc !== undefined && svc in ctx.state.packages
}

/** Finds the running container publishing `port` on the CT's loopback. */
export function listener(ctx: CtContext, port: number): { health: string } | undefined {
  for (const p of Object.values(ctx.state.projects)) {
    for (const c of Object.values(p.containers)) {
      if (c.state !== 'running') continue
      if (publishers(c).some((pub) => pub.PublishedPort === port && ['0.0.0.0', '127.0.0.1', '::'].includes(pub.URL))) {
        return { health: containerHealth(c, ctx.now()) }
      }
    }
  }
  return undefined
}

function wget(ctx: CtContext, args: string[]): CmdResult {
  let output: string | undefined
  let headers = false
  let url: string | undefined
  let hostHeader: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '-O') output = args[++i]
    else if (a === '--header') {
      const h = /^host:\s*(\S+)$/i.exec(args[++i] ?? '')
      if (h) hostHeader = h[1]
    } else if (a === '-Y' || a === '-T' || a === '-U') i++
    else if (a === '-S') headers = true
    else if (a === '-q' || a === '--spider') continue
    else if (a.startsWith('-')) return result(1, '', `wget: unrecognized option '${a}'`)
    else url = a
  }
  const m = url ? /^http:\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url) : null
  if (!m) return result(1, '', `wget: bad address '${url ?? ''}'`)
  const [, host, portText = '80', path = '/'] = m
  const viaAppliance = applianceHttp(ctx, host, Number(portText), path, hostHeader)
  if (viaAppliance === 'refused') return result(1, '', `wget: can't connect to remote host (${host}): Connection refused`)
  if (!viaAppliance && host !== '127.0.0.1' && host !== 'localhost') return result(1, '', `wget: bad address '${host}'`)
  const l = viaAppliance ? { health: viaAppliance.status === 200 ? '' : 'unhealthy' } : listener(ctx, Number(portText))
  if (!l) return result(1, '', `wget: can't connect to remote host (127.0.0.1): Connection refused`)
  const ok = l.health === '' || l.health === 'healthy'
  const status = ok ? 'HTTP/1.1 200 OK' : viaAppliance ? `HTTP/1.1 ${viaAppliance.status} ${viaAppliance.status === 502 ? 'Bad Gateway' : 'Not Found'}` : 'HTTP/1.1 503 Service Unavailable'
  const body = ok ? (viaAppliance?.body ?? 'ok\n') : 'unavailable\n'
  let stderr = headers ? `  ${status}\n  Content-Type: text/plain; charset=utf-8\n  Content-Length: ${body.length}\n  Connection: close\n` : ''
  if (!ok) return result(1, '', `${stderr}wget: server returned error: ${status}`)
  if (output === '-') return result(0, body, stderr)
  if (output && output !== '/dev/null') {
    try {
      ctx.fs.write(output, body)
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      stderr += `wget: can't open '${output}': ${e.message}\n`
      return result(1, '', stderr)
    }
  }
  return result(0, '', stderr)
}

function nc(ctx: CtContext, args: string[]): CmdResult {
  const rest: string[] = []
  let zero = false
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-z') zero = true
    else if (args[i] === '-w' || args[i] === '-s') i++
    else if (args[i] === '-v') continue
    else rest.push(args[i])
  }
  if (!zero || rest.length !== 2) return result(1, '', 'nc: proximity-sim supports only nc -z [-w N] [-s ADDR] HOST PORT')
  const [host, port] = rest
  if (host !== '127.0.0.1' && host !== 'localhost') return result(applianceConnect(ctx, host, Number(port)) ? 0 : 1)
  return result(listener(ctx, Number(port)) ? 0 : 1)
}

/**
 * Fault injection: makes the containers of `service` in compose project `project` report
 * `health` (sticky until the container is recreated). No-op when the project or service does not
 * exist. The caller persists the runtime (markDirty).
 */
export function setServiceHealth(runtime: Record<string, unknown>, project: string, service: string, health: 'healthy' | 'unhealthy' | 'starting'): void {
  if (runtime.ctVersion !== 1) return
  const c = (runtime as unknown as CtState).projects[project]?.containers[service]
  if (c) c.healthOverride = health
}

/**
 * Applies a power change of the CT to its insides. Stopping stops every service and container
 * (exit 0); starting runs the `default` runlevel (docker comes back if enabled, and with it the
 * containers whose restart policy is `always`, or `unless-stopped` unless stopped by hand).
 * Idempotent per state. The simulator calls it on start/stop/reboot; the SSH node also calls it
 * when it sees a state different from the last one recorded.
 */
export function applyPowerChange(runtime: Record<string, unknown>, status: 'running' | 'stopped', config: Record<string, string | number>, now: () => number): void {
  const state = ctState(runtime, now())
  if (state.power === status) return
  const ctx = ctContext({ vmid: 0, runtime, config, now, hostLxcPveVersion: '6.0.5-2', readStdin: async () => Buffer.alloc(0) })
  state.power = status
  if (status === 'stopped') {
    for (const svc of [...state.started]) stopService(ctx, svc)
    return
  }
  for (const [svc, levels] of Object.entries(state.runlevels)) {
    if (levels.includes('default') || levels.includes('boot') || levels.includes('sysinit')) startService(ctx, svc)
  }
}
