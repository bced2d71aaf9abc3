import type { SimCore } from '../core.js'
import { permError } from '../errors.js'
import { parsePropertyString } from '../params.js'
import { methodSchema, lookupParam } from '../schema.js'
import type { ConfigValue, SimGuest } from '../state.js'

/** Parameters of create/PUT that are not config keys. */
const NOT_CONFIG = new Set(['node', 'vmid', 'digest', 'delete', 'revert', 'ostemplate', 'restore', 'force', 'storage', 'start', 'pool', 'ha-managed', 'unique', 'password', 'ssh-public-keys', 'ignore-unpack-errors', 'bwlimit'])

/** Whether a parameter name is an LXC config key (per the PUT config schema). */
export function isConfigKey(key: string): boolean {
  if (NOT_CONFIG.has(key)) return false
  const props = methodSchema('PUT', '/nodes/{node}/lxc/{vmid}/config')?.parameters?.properties ?? {}
  return lookupParam(props, key) !== undefined
}

/** The config keys among request parameters. */
export function configChanges(params: Record<string, unknown>): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {}
  for (const [k, v] of Object.entries(params)) if (isConfigKey(k) && (typeof v === 'string' || typeof v === 'number')) out[k] = v
  return out
}

/**
 * The root@pam-only feature rule (LXC.pm check_ct_modify_config_perm): anyone but literally
 * `root@pam` may change only `nesting`. An API token of root is not root@pam.
 */
export function checkFeaturePerm(user: string, next: ConfigValue | undefined, previous: ConfigValue | undefined): void {
  if (user === 'root@pam' || next === undefined) return
  const a = parsePropertyString(String(previous ?? '')) ?? {}
  const b = parsePropertyString(String(next)) ?? {}
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k !== 'nesting' && a[k] !== b[k]) throw permError('changing feature flags (except nesting) is only allowed for root@pam')
  }
}

/** New guest record with only `lock: create` (REFERENCE §4.2.1 step 2). */
export function placeholderGuest(core: SimCore, vmid: number, node: string): SimGuest {
  return {
    vmid,
    node,
    type: 'lxc',
    status: 'stopped',
    config: { lock: 'create' },
    pending: {},
    pendingDelete: [],
    snapshots: [],
    firewall: { rules: [], options: {} },
    runtime: {},
    rrd: { status: 'unknown', changedAt: core.now() },
    created: false,
  }
}

/** OS type guessed from a template file name. */
export function ostypeOf(template: string): string {
  const file = template.slice(template.lastIndexOf('/') + 1)
  const os = /^([a-z]+)/.exec(file)?.[1] ?? 'unmanaged'
  const known = ['debian', 'devuan', 'ubuntu', 'centos', 'fedora', 'opensuse', 'archlinux', 'alpine', 'gentoo', 'nixos']
  if (known.includes(os)) return os
  if (os === 'almalinux' || os === 'rockylinux') return 'centos'
  return 'unmanaged'
}
