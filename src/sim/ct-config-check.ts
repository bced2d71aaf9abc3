/**
 * The simulator's config checks for the appliance's services (issue 12 §6): instead of a model
 * of what dnsmasq, Caddy and nft accept, the simulator runs the REAL binaries' check commands on
 * the content a guest holds, when they are installed on the host (they are in CI, see .ci/run):
 * `dnsmasq --test --conf-file=F`, `caddy validate --config F --adapter caddyfile` with a scratch
 * storage dir, `nft -c -f F` inside a throw-away network namespace (`unshare -n` as root,
 * `unshare -rn` otherwise). A config the real binary rejects fails in the simulator with the
 * binary's own message (scratch paths replaced by the guest path). Argv only, never a shell.
 *
 * WARNING: without the binaries on the host every file is accepted (`checked: false`); the
 * simulator says so in the result so tests can insist on real checks.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/** The verdict of one check. */
export interface ConfigCheck {
  ok: boolean
  /** The binary's message (last meaningful line), guest paths in place of scratch paths. */
  message: string
  /** false when the binary is not installed on the host and nothing was checked. */
  checked: boolean
}

/** What a check is about. */
export type CheckedService = 'dnsmasq' | 'caddy' | 'nftables'

/** Absolute path of a host binary, or undefined. */
export function hostBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (!dir) continue
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // next folder
    }
  }
  return undefined
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      resolve({ code: err ? (err.code as number) : 0, out: `${String(stderr)}\n${String(stdout)}` })
    })
  })
}

/** Lines that would make the host binary read host files; the simulator refuses them. */
const HOST_READS: Record<CheckedService, RegExp> = {
  dnsmasq: /^\s*(conf-file|conf-dir|conf-script|servers-file)\s*=/m,
  caddy: /^\s*import\s/m,
  nftables: /^\s*include\s/m,
}

/**
 * Checks `content` (the file at `guestPath` in a guest) for `service` with the real binary.
 * Never throws for a rejected config; rejects only when the binary cannot be run at all.
 */
export async function checkConfig(service: CheckedService, content: string, guestPath: string): Promise<ConfigCheck> {
  if (HOST_READS[service].test(content)) return { ok: false, checked: true, message: `${guestPath}: file inclusion is not simulated; keep the whole config in one file` }
  const bin = hostBinary(service === 'nftables' ? 'nft' : service)
  const unshare = service === 'nftables' ? hostBinary('unshare') : 'x'
  if (!bin || !unshare) return { ok: true, checked: false, message: `${service} is not installed on the simulator host; ${guestPath} accepted unchecked` }
  const dir = await mkdtemp(join(tmpdir(), 'proximity-sim-check-'))
  try {
    const file = join(dir, service === 'caddy' ? 'Caddyfile' : 'config')
    await writeFile(file, content)
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }
    let r: { code: number; out: string }
    if (service === 'dnsmasq') r = await run(bin, ['--test', `--conf-file=${file}`], env)
    else if (service === 'caddy') r = await run(bin, ['validate', '--config', file, '--adapter', 'caddyfile'], env)
    else r = await run(unshare!, [process.getuid?.() === 0 ? '-n' : '-rn', bin, '-c', '-f', file], env)
    const lines = r.out
      .split('\n')
      .map((l) => l.split(file).join(guestPath).trim())
      .filter((l) => l !== '' && !l.startsWith('{"level"'))
    const errorLine = lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? `exit ${r.code}`
    return r.code === 0 ? { ok: true, checked: true, message: service === 'dnsmasq' ? 'dnsmasq: syntax check OK.' : service === 'caddy' ? 'Valid configuration' : '' } : { ok: false, checked: true, message: errorLine }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
