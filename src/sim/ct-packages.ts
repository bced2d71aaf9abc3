/**
 * `apk` and OpenRC (`rc-update`, `rc-service`) inside a simulated Alpine 3.22 container, with the
 * exact outputs of runtime REFERENCE §1.2. Package versions are those of Alpine 3.22 (§1.1).
 */
import type { CmdResult, CtContext } from './ct-state.js'
import { result } from './ct-state.js'
import { dockerUp, startContainer } from './ct-docker.js'

interface PkgInfo {
  version: string
  repo: 'main' | 'community'
  deps?: string[]
  /** init script this package provides */
  service?: string
}

/** The package index the simulated `apk` knows (Alpine 3.22, x86_64). */
export const PACKAGE_INDEX: Record<string, PkgInfo> = {
  docker: { version: '28.3.3-r4', repo: 'community', deps: ['docker-engine', 'docker-cli', 'docker-cli-buildx'] },
  'docker-engine': { version: '28.3.3-r4', repo: 'community', deps: ['containerd', 'iptables', 'tini-static', 'ca-certificates', 'docker-openrc'] },
  'docker-openrc': { version: '28.3.3-r4', repo: 'community', deps: ['log_proxy'], service: 'docker' },
  'docker-cli': { version: '28.3.3-r4', repo: 'community' },
  'docker-cli-buildx': { version: '0.25.0-r3', repo: 'community' },
  'docker-cli-compose': { version: '2.36.2-r4', repo: 'community' },
  containerd: { version: '2.1.3-r3', repo: 'community', deps: ['runc'] },
  runc: { version: '1.3.3-r0', repo: 'community' },
  iptables: { version: '1.8.11-r1', repo: 'main' },
  'tini-static': { version: '0.19.0-r3', repo: 'community' },
  log_proxy: { version: '0.7.0-r0', repo: 'community' },
  'ca-certificates': { version: '20250619-r0', repo: 'main' },
  curl: { version: '8.14.1-r1', repo: 'main' },
  openrc: { version: '0.62.6-r0', repo: 'main' },
  dnsmasq: { version: '2.91-r0', repo: 'main', service: 'dnsmasq' },
  caddy: { version: '2.10.0-r3', repo: 'community', service: 'caddy' },
  'caddy-openrc': { version: '2.10.0-r3', repo: 'community' },
  nftables: { version: '1.1.3-r0', repo: 'main', service: 'nftables' },
  bash: { version: '5.2.37-r0', repo: 'main' },
  git: { version: '2.49.1-r0', repo: 'main' },
  jq: { version: '1.8.0-r0', repo: 'main' },
  tzdata: { version: '2025b-r0', repo: 'main' },
}

function resolveDeps(names: string[]): string[] {
  const order: string[] = []
  const visit = (n: string): void => {
    if (order.includes(n)) return
    for (const d of PACKAGE_INDEX[n]?.deps ?? []) visit(d)
    order.push(n)
  }
  for (const n of names) visit(n)
  return order
}

/** `apk add|info …` */
export function runApk(ctx: CtContext, args: string[]): CmdResult {
  const [sub, ...rest] = args
  const names = rest.filter((a) => !a.startsWith('-'))
  if (sub === 'add') {
    const repos = ctx.fs.isFile('/etc/apk/repositories') ? ctx.fs.read('/etc/apk/repositories').toString('utf8') : ''
    const hasCommunity = /\/community\s*$/m.test(repos)
    const unknown = names.filter((n) => !PACKAGE_INDEX[n] || (PACKAGE_INDEX[n].repo === 'community' && !hasCommunity))
    if (unknown.length) {
      const lines = unknown.map((n) => `  ${n} (no such package):\n    required by: world[${n}]`).join('\n')
      return result(1, '', `ERROR: unable to select packages:\n${lines}`)
    }
    const todo = resolveDeps(names).filter((n) => !(n in ctx.state.packages))
    let out = ''
    if (rest.includes('--no-cache') || todo.length) {
      out += 'fetch http://dl-cdn.alpinelinux.org/alpine/v3.22/main/x86_64/APKINDEX.tar.gz\n'
      if (hasCommunity) out += 'fetch http://dl-cdn.alpinelinux.org/alpine/v3.22/community/x86_64/APKINDEX.tar.gz\n'
    }
    todo.forEach((n, i) => {
      out += `(${i + 1}/${todo.length}) Installing ${n} (${PACKAGE_INDEX[n].version})\n`
      ctx.state.packages[n] = PACKAGE_INDEX[n].version
      if (n === 'docker-openrc') out += 'Executing docker-engine-28.3.3-r4.pre-install\n'
    })
    if (todo.length) out += 'Executing busybox-1.37.0-r18.trigger\n'
    const count = Object.keys(ctx.state.packages).length
    out += `OK: ${8 + count * 7} MiB in ${count} packages\n`
    return result(0, out)
  }
  if (sub === 'info') {
    if (rest.includes('-e')) {
      const present = names.filter((n) => n in ctx.state.packages)
      return result(names.length - present.length, present.map((n) => `${n}\n`).join(''))
    }
    const list = names.length ? names.filter((n) => n in ctx.state.packages) : Object.keys(ctx.state.packages).sort()
    const verbose = rest.includes('-v')
    return result(0, list.map((n) => (verbose ? `${n}-${ctx.state.packages[n]}\n` : `${n}\n`)).join(''))
  }
  return result(1, '', `apk-tools 2.14.9, compiled for x86_64.\n\nunsupported applet: ${sub ?? ''}`)
}

/** Services whose init script is installed. */
function serviceExists(ctx: CtContext, svc: string): boolean {
  return Object.keys(ctx.state.packages).some((p) => PACKAGE_INDEX[p]?.service === svc)
}

/** `rc-update add|del <svc> [runlevel]` */
export function runRcUpdate(ctx: CtContext, args: string[]): CmdResult {
  const [op, svc, level = 'default'] = args
  if ((op !== 'add' && op !== 'del') || !svc) return result(1, '', ' * rc-update: usage: rc-update [add|del] service [runlevel]')
  if (!serviceExists(ctx, svc)) return result(1, '', ` * rc-update: service \`${svc}' does not exist`)
  const levels = (ctx.state.runlevels[svc] ??= [])
  if (op === 'add') {
    if (levels.includes(level)) return result(0, ` * rc-update: ${svc} already installed in runlevel \`${level}'; skipping\n`)
    levels.push(level)
    return result(0, ` * service ${svc} added to runlevel ${level}\n`)
  }
  if (!levels.includes(level)) return result(1, '', ` * rc-update: service \`${svc}' is not in the runlevel \`${level}'`)
  levels.splice(levels.indexOf(level), 1)
  return result(0, ` * service ${svc} removed from runlevel ${level}\n`)
}

/** `rc-service <svc> start|stop|restart|status` */
export function runRcService(ctx: CtContext, args: string[]): CmdResult {
  const [svc, op] = args
  if (!svc || !op) return result(1, '', ' * rc-service: usage: rc-service service command')
  if (!serviceExists(ctx, svc)) return result(1, '', ` * rc-service: service \`${svc}' does not exist`)
  const started = ctx.state.started.includes(svc)
  const title = svc === 'docker' ? 'Docker Daemon' : svc
  switch (op) {
    case 'start':
      if (started) return result(0, '', ` * WARNING: ${svc} has already been started`)
      startService(ctx, svc)
      return result(0, ` * Starting ${title} ...\n [ ok ]\n`)
    case 'stop':
      if (!started) return result(0, '', ` * WARNING: ${svc} is already stopped`)
      stopService(ctx, svc)
      return result(0, ` * Stopping ${title} ...\n [ ok ]\n`)
    case 'restart':
      if (started) stopService(ctx, svc)
      startService(ctx, svc)
      return result(0, ` * Stopping ${title} ...\n [ ok ]\n * Starting ${title} ...\n [ ok ]\n`)
    case 'status':
      return started ? result(0, ' * status: started\n') : result(3, ' * status: stopped\n')
    default:
      return result(1, '', ` * rc-service: ${svc}: unknown function \`${op}'`)
  }
}

/** Starts a service; for docker, brings back containers whose restart policy says so. */
export function startService(ctx: CtContext, svc: string): void {
  if (!ctx.state.started.includes(svc)) ctx.state.started.push(svc)
  if (svc === 'docker') {
    if (!dockerUp(ctx)) {
      if (ctx.fs.isDir('/var/log')) ctx.fs.write('/var/log/docker.log', 'failed to start daemon: error initializing graphdriver: operation not permitted (is features: nesting=1 set?)\n')
      return
    }
    const now = ctx.now()
    for (const p of Object.values(ctx.state.projects)) {
      for (const c of Object.values(p.containers)) {
        const back = c.restart === 'always' || (c.restart === 'unless-stopped' && !c.stoppedByUser)
        if (back && c.state !== 'running') startContainer(ctx, c, now)
      }
    }
  }
}

/** Stops a service; stopping docker stops every container (exit 0, graceful). */
export function stopService(ctx: CtContext, svc: string): void {
  ctx.state.started = ctx.state.started.filter((s) => s !== svc)
  if (svc === 'docker') {
    const now = ctx.now()
    for (const p of Object.values(ctx.state.projects)) {
      for (const c of Object.values(p.containers)) {
        if (c.state === 'running') {
          c.state = 'exited'
          c.exitCode = 0
          c.finishedAt = now
        }
      }
    }
  }
}
