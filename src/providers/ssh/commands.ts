/**
 * Builders for the fixed vocabulary of node commands (REFERENCE §8.2). Each validates every
 * argument and shell-quotes it, producing the single command string ssh2 sends to the node's
 * login shell. Nothing from a manifest is ever interpolated unquoted: a value can only ever be
 * one literal argv word.
 */
import { SshError } from './errors.js'

/** Feature flags `pct set --features` may carry (pve-container `$features_desc`). */
export const FEATURE_KEYS = ['nesting', 'keyctl', 'fuse', 'mknod', 'mount', 'force_rw_sys'] as const

const SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/

/** POSIX single-quote `s` (`'` becomes `'\''`); plain safe words stay unquoted. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw invalid('argument contains a NUL byte')
  if (SAFE_WORD.test(s)) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

function invalid(message: string): SshError {
  return new SshError('invalid-argument', message)
}

/** Throws unless `vmid` is an integer in 100..999999999. */
export function checkVmid(vmid: number): number {
  if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) throw invalid(`invalid vmid ${String(vmid)}: expected an integer 100..999999999`)
  return vmid
}

/** Throws unless `path` is absolute, without NUL or newline, and without `..` segments. */
export function checkPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid('invalid path: must be absolute')
  if (/[\0\n\r]/.test(path)) throw invalid('invalid path: contains a control character')
  if (path.split('/').includes('..')) throw invalid('invalid path: must not contain ..')
  if (path.length > 4096) throw invalid('invalid path: too long')
  return path
}

/** Throws unless `perms` is an octal mode like `0644`. */
export function checkPerms(perms: string): string {
  if (!/^0[0-7]{3}$/.test(perms)) throw invalid(`invalid perms ${JSON.stringify(perms)}: expected 0NNN octal`)
  return perms
}

/** `pct exec <vmid> --keep-env 0 -- <argv…>` */
export function pctExecCommand(vmid: number, argv: string[]): string {
  checkVmid(vmid)
  if (!Array.isArray(argv) || argv.length === 0 || !argv[0]) throw invalid('pct exec needs a command')
  for (const a of argv) if (typeof a !== 'string') throw invalid('pct exec arguments must be strings')
  return ['pct', 'exec', String(vmid), '--keep-env', '0', '--', ...argv.map(shellQuote)].join(' ')
}

/** `pct push <vmid> <hostFile> <ctPath> --perms <perms>` */
export function pctPushCommand(vmid: number, hostFile: string, ctPath: string, perms: string): string {
  return ['pct', 'push', String(checkVmid(vmid)), shellQuote(checkPath(hostFile)), shellQuote(checkPath(ctPath)), '--perms', checkPerms(perms)].join(' ')
}

/** Renders features as pct's property string, validating keys and values. */
export function featuresString(features: Record<string, string | number>): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(features)) {
    if (!(FEATURE_KEYS as readonly string[]).includes(k)) throw invalid(`unknown container feature ${JSON.stringify(k)}; allowed: ${FEATURE_KEYS.join(', ')}`)
    const value = String(v)
    const ok = k === 'mount' ? /^[a-z0-9]+(;[a-z0-9]+)*$/.test(value) : /^[01]$/.test(value)
    if (!ok) throw invalid(`invalid value for feature ${k}: ${k === 'mount' ? 'expected fs types like nfs;cifs' : 'expected 0 or 1'}`)
    parts.push(`${k}=${value}`)
  }
  if (parts.length === 0) throw invalid('no features given')
  return parts.join(',')
}

/** `pct set <vmid> --features <k=v,…>` */
export function pctSetFeaturesCommand(vmid: number, features: Record<string, string | number>): string {
  return ['pct', 'set', String(checkVmid(vmid)), '--features', shellQuote(featuresString(features))].join(' ')
}

/** `pct unlock <vmid>` */
export function pctUnlockCommand(vmid: number): string {
  return `pct unlock ${checkVmid(vmid)}`
}

/** `dpkg-query -W -f='${Version}' <package>` (node package version, e.g. lxc-pve preflight). */
export function dpkgVersionCommand(pkg: string): string {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(pkg)) throw invalid(`invalid package name ${JSON.stringify(pkg)}`)
  return `dpkg-query -W ${shellQuote('-f=${Version}')} ${pkg}`
}

/** Options of `composeLogsArgv`. */
export interface ComposeLogsOptions {
  /** Only this compose service (a name from the app's compose file). @default every service */
  service?: string
  /** Lines per container from the end. @default every line */
  tail?: number
  /** Keep streaming new lines (`--follow`). @default false */
  follow?: boolean
}

/**
 * The argv (for `pct exec`) of `docker compose --project-directory <dir> logs --no-color
 * [--tail N] [--follow] [SERVICE]`. The directory must be absolute, the service a compose service
 * name (letters, digits, `.`, `_`, `-`, not starting with `-`, so it can never become a flag), the
 * tail a whole number.
 */
export function composeLogsArgv(projectDir: string, o: ComposeLogsOptions = {}): string[] {
  const argv = ['docker', 'compose', '--project-directory', checkPath(projectDir), 'logs', '--no-color']
  if (o.tail !== undefined) {
    if (!Number.isInteger(o.tail) || o.tail < 0 || o.tail > 1_000_000) throw invalid(`invalid tail ${String(o.tail)}: expected a whole number 0..1000000`)
    argv.push('--tail', String(o.tail))
  }
  if (o.follow) argv.push('--follow')
  if (o.service !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(o.service)) throw invalid(`invalid service name ${JSON.stringify(o.service)}: expected letters, digits, ".", "_" or "-"`)
    argv.push(o.service)
  }
  return argv
}
