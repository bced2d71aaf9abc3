/**
 * The seam between the simulator's HTTP side (state, API routes) and its SSH node (ssh-node.ts,
 * ct-runtime.ts). The HTTP side owns guests and their configs; the SSH side owns what happens
 * inside a running container (packages, services, files, compose projects), stored in the
 * guest's `runtime` slot so it persists with the rest of the state and travels with backups.
 */

export interface SimGuestView {
  vmid: number
  node: string
  type: 'lxc' | 'qemu'
  status: 'running' | 'stopped'
  lock?: string
  /** Current (non-pending) config values as the API returns them. */
  config: Record<string, string | number>
}

/** Raised by SimNodeAccess operations; `message` is what pct would print on stderr. */
export class SimCommandError extends Error {
  constructor(message: string, readonly exitCode = 255) {
    super(message)
  }
}

export interface SimRequestLogEntry {
  time: number
  /** `GET`, `POST`, … or `SSH` for node commands */
  method: string
  /** Route template such as `/nodes/{node}/lxc/{vmid}/config`, or the command name (`pct exec`). */
  route: string
  path: string
  status: number
  durationMs: number
  /** Authenticated user id, e.g. `root@pam!proximity` */
  user?: string
}

export interface SimNodeAccess {
  nodeNames(): string[]
  /** Looks a guest up cluster-wide. */
  getGuest(vmid: number): SimGuestView | undefined
  /** Every guest of `node` (the LAN peers of a container). */
  guestsOn(node: string): SimGuestView[]
  /** `pct set` as root@pam (may set keyctl). Throws SimCommandError with pct's message. */
  setConfigAsRoot(node: string, vmid: number, changes: Record<string, string>): void
  /** `pct unlock` */
  unlock(node: string, vmid: number): void
  /**
   * The mutable runtime slot of a guest (created empty on first use). The SSH side owns its
   * shape (ct-runtime.ts); call `markDirty` after changing it so the state is persisted.
   */
  runtime(vmid: number): Record<string, unknown>
  markDirty(): void
  /** Records a node command in the simulator's request log. */
  log(entry: Omit<SimRequestLogEntry, 'time'>): void
  /** Current time in ms (the simulator's clock, so tests can control it). */
  now(): number
}
