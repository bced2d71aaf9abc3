/**
 * The real dnsmasq, caddy and nft as checkers of rendered files (REFERENCE §2.3, §3.3, §4.2).
 * Every call runs the binary directly (argv, never a shell). A missing binary is a test failure
 * with the command that installs it, never a skip.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'

/** Debian package that provides each binary (what .ci/run installs). */
export const PACKAGE_OF: Record<string, string> = {
  dnsmasq: 'dnsmasq-base',
  caddy: 'caddy',
  nft: 'nftables',
  unshare: 'util-linux',
  ip: 'iproute2',
  busybox: 'busybox',
}

/** Absolute path of `name` on PATH (plus the sbin folders), or a clear error saying how to install it. */
export function requireBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const dir of dirs) {
    if (!dir) continue
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // next folder
    }
  }
  const pkg = PACKAGE_OF[name] ?? name
  throw new Error(`${name} is not installed; the appliance tests run the real binary. Install it with \`apt-get install -y ${pkg}\` (.ci/run does this)${process.env.CI === 'true' ? ' — CI=true: .ci/run should have installed it' : ''}`)
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `file args…` without a shell and resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? (err.code as number) : 0, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** `dnsmasq --test --conf-file=FILE`: rc 0 and "syntax check OK" on stderr when valid. */
export function dnsmasqTest(file: string): Promise<RunResult> {
  return run(requireBinary('dnsmasq'), ['--test', `--conf-file=${file}`])
}

/**
 * `dnsmasq --test` does not read the dhcp-hostsfile or addn-hosts contents (REFERENCE §2.3), so
 * each line is rewritten into the equivalent main-file directive (`dhcp-host=MAC,IP,name`,
 * `host-record=NAME,IP`) in a scratch file the real binary does check: bad MACs, names, IPs
 * and duplicate lease IPs fail.
 */
export async function dnsmasqTestDataFiles(dhcpHosts: string, hosts: string, scratch: string): Promise<RunResult> {
  const lines = [
    ...dhcpHosts.split('\n').filter(Boolean).map((l) => `dhcp-host=${l}`),
    ...hosts
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        const [ip, ...names] = l.split(' ')
        return names.map((n) => `host-record=${n},${ip}`)
      }),
  ]
  await writeFile(scratch, `${lines.join('\n')}\n`)
  return dnsmasqTest(scratch)
}

/** Environment that keeps Caddy's storage (its local CA) inside `dir` (REFERENCE trap 9). */
export function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }
}

/** `caddy validate --config FILE --adapter caddyfile`: rc 0 and "Valid configuration" on stdout. */
export function caddyValidate(file: string, storage: string): Promise<RunResult> {
  return run(requireBinary('caddy'), ['validate', '--config', file, '--adapter', 'caddyfile'], { env: caddyEnv(storage) })
}

/** `caddy adapt --config FILE --adapter caddyfile`: the JSON config on stdout. */
export function caddyAdapt(file: string, storage: string): Promise<RunResult> {
  return run(requireBinary('caddy'), ['adapt', '--config', file, '--adapter', 'caddyfile'], { env: caddyEnv(storage) })
}

/** `caddy fmt FILE`: the formatted text on stdout. */
export function caddyFmt(file: string, storage: string): Promise<RunResult> {
  return run(requireBinary('caddy'), ['fmt', file], { env: caddyEnv(storage) })
}

/**
 * `nft -c -f FILE` in a throw-away network namespace, so the host ruleset plays no part
 * (REFERENCE §4.2): `unshare -n` as root, `unshare -rn` otherwise.
 */
export function nftCheck(file: string): Promise<RunResult> {
  const unshare = requireBinary('unshare')
  const nft = requireBinary('nft')
  const isRoot = process.getuid?.() === 0
  return run(unshare, [isRoot ? '-n' : '-rn', nft, '-c', '-f', file])
}
