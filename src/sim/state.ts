import { mkdir, rename, writeFile, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** A config value as the API returns it. */
export type ConfigValue = string | number

/** One container snapshot (config copy plus metadata). */
export interface SimSnapshot {
  name: string
  snaptime: number
  description: string
  parent?: string
  config: Record<string, ConfigValue>
  runtime?: Record<string, unknown>
  /** `prepare` while a vzdump snapshot is being taken. */
  snapstate?: string
}

/** One firewall rule (fields as PVE returns them, `pos` is derived). */
export type SimFirewallRule = Record<string, string | number>

/** A guest (only LXC is simulated; qemu ids may be seeded to occupy the registry). */
export interface SimGuest {
  vmid: number
  node: string
  type: 'lxc' | 'qemu'
  status: 'running' | 'stopped'
  /** Current config (includes `lock`). */
  config: Record<string, ConfigValue>
  /** Pending values and deletions (`[pve:pending]`). */
  pending: Record<string, ConfigValue>
  pendingDelete: string[]
  snapshots: SimSnapshot[]
  /** Name of the snapshot `current` derives from. */
  parent?: string
  firewall: { rules: SimFirewallRule[]; options: Record<string, ConfigValue> }
  /** Container internals owned by the SSH side (ct-runtime.ts). Travels with backups. */
  runtime: Record<string, unknown>
  /** When the guest last started (ms), for uptime. */
  startedAt?: number
  /** What `/cluster/resources` showed before the last status/name change, and when it changed. */
  rrd: { status: string; name?: string; changedAt: number }
  /** Whether the create task finished (false while `lock: create` of a fresh create). */
  created: boolean
}

/** A volume on a `dir` storage (templates, backups, snippets). */
export interface SimVolume {
  volid: string
  content: 'vztmpl' | 'backup' | 'iso' | 'snippets'
  size: number
  ctime: number
  vmid?: number
  notes?: string
  protected?: number
  /** For backups: the guest as it was (config + runtime + firewall). */
  guest?: { config: Record<string, ConfigValue>; runtime: Record<string, unknown>; firewall?: SimGuest['firewall'] }
}

/** One host network interface (fields as `GET /nodes/{node}/network` returns them). */
export type SimIface = Record<string, string | number | string[]>

/** Per-node state. */
export interface SimNode {
  name: string
  /** Volumes of the `local` dir storage by volid. */
  volumes: Record<string, SimVolume>
  network: Record<string, SimIface>
  /** Pending `/etc/network/interfaces.new`, or null when none. */
  networkPending: Record<string, SimIface> | null
}

/** Everything the simulator persists. JSON-serialisable. */
export interface SimState {
  version: 1
  nodes: Record<string, SimNode>
  guests: Record<string, SimGuest>
  pools: Record<string, { comment?: string; members: number[] }>
  ha: Record<string, Record<string, ConfigValue>>
  backupJobs: Record<string, Record<string, ConfigValue>>
  /** User groups (`/access/groups`); absent in states saved before groups existed. */
  groups?: Record<string, { comment?: string; users: string[] }>
  /** Monotonic counter for task pids. */
  pidCounter: number
}

/** The template every node starts with so the sandbox works offline. */
export const SEED_TEMPLATE = 'alpine-3.22-default_20250617_amd64.tar.xz'

/** Node names for `count` nodes: `pve` for one, `pve1..pveN` otherwise. */
export const nodeNames = (count: number): string[] =>
  count <= 1 ? ['pve'] : Array.from({ length: count }, (_, i) => `pve${i + 1}`)

/** The default bridge every node is installed with. */
export function defaultBridge(): SimIface {
  return {
    iface: 'vmbr0',
    type: 'bridge',
    method: 'static',
    method6: 'manual',
    families: ['inet'],
    autostart: 1,
    active: 1,
    priority: 3,
    address: '192.168.1.10',
    netmask: '24',
    cidr: '192.168.1.10/24',
    gateway: '192.168.1.1',
    bridge_ports: 'eno1',
    bridge_stp: 'off',
    bridge_fd: '0',
  }
}

/** A fresh node with `vmbr0` and the seed template. */
export function newNode(name: string, now: number): SimNode {
  const volid = `local:vztmpl/${SEED_TEMPLATE}`
  return {
    name,
    volumes: { [volid]: { volid, content: 'vztmpl', size: 3_145_728, ctime: Math.floor(now / 1000) } },
    network: { vmbr0: defaultBridge() },
    networkPending: null,
  }
}

/** A fresh state for the given nodes. */
export function newState(nodes: string[], now: number): SimState {
  return {
    version: 1,
    nodes: Object.fromEntries(nodes.map((n) => [n, newNode(n, now)])),
    guests: {},
    pools: {},
    ha: {},
    backupJobs: {},
    groups: {},
    pidCounter: 0x1a2b0,
  }
}

/** Reads a state file; undefined when it does not exist. Throws a located error when corrupt. */
export async function loadState(path: string): Promise<SimState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  try {
    const s = JSON.parse(text) as SimState
    if (s.version !== 1 || typeof s.nodes !== 'object') throw new Error('unknown version')
    return s
  } catch (e) {
    throw new Error(`cannot read simulator state ${path}: ${(e as Error).message}; run 'proximity sandbox reset'`)
  }
}

/** Writes the state atomically (temp file + rename). */
export async function saveState(path: string, state: SimState): Promise<void> {
  await saveStateText(path, JSON.stringify(state))
}

/** Writes an already-serialised state atomically (temp file + rename). */
export async function saveStateText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  await rename(tmp, path)
}
