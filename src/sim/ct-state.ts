/**
 * Shape of the state kept inside a simulated container (the guest's runtime slot, see
 * contracts.ts `SimNodeAccess.runtime`): filesystem, installed packages, OpenRC runlevels and
 * started services, pulled images and compose projects with their containers. JSON-serialisable.
 */
import type { CtFs } from './ct-fs.js'
import { seedFs } from './ct-fs.js'
import type { PortSpec } from './ct-compose-file.js'

/** One compose-managed container. */
export interface CtContainer {
  /** 64 hex */
  id: string
  name: string
  project: string
  service: string
  image: string
  command: string
  hash: string
  restart: string
  state: 'created' | 'running' | 'exited'
  exitCode: number
  createdAt: number
  startedAt: number
  finishedAt: number
  /** ms after start until the healthcheck passes; absent: no healthcheck */
  healthDelayMs?: number
  /** set by `up --wait` (the wait consumed the time) */
  healthyAt?: number
  /** fault injection (setServiceHealth) */
  healthOverride?: 'healthy' | 'unhealthy' | 'starting'
  stoppedByUser?: boolean
  ports: PortSpec[]
  mounts: string[]
  volumes: string[]
  networks: string[]
  labels: Record<string, string>
}

/** One compose project (`-p NAME`). */
export interface CtProject {
  name: string
  workingDir: string
  configFiles: string
  containers: Record<string, CtContainer>
  networks: string[]
  volumes: string[]
}

/** A pulled image. */
export interface CtImage {
  id: string
  size: number
  pulledAt: number
}

/** Everything inside one container. */
export interface CtState {
  ctVersion: 1
  fs: CtFs
  /** package → version */
  packages: Record<string, string>
  /** service → runlevels */
  runlevels: Record<string, string[]>
  /** services currently started */
  started: string[]
  images: Record<string, CtImage>
  projects: Record<string, CtProject>
  /** last power state this side saw (to apply boot effects once) */
  power: 'running' | 'stopped'
  /** counter for deterministic ids */
  seq: number
}

/** Packages present in a fresh Alpine 3.22 template. */
export const BASE_PACKAGES: Record<string, string> = {
  'alpine-baselayout': '3.7.0-r0',
  'alpine-base': '3.22.1-r0',
  'apk-tools': '2.14.9-r2',
  busybox: '1.37.0-r18',
  'ca-certificates-bundle': '20250619-r0',
  musl: '1.2.5-r10',
  openrc: '0.62.6-r0',
}

/**
 * Returns the container state stored in `runtime`, seeding a fresh Alpine 3.22 rootfs on first
 * use. The returned object IS the runtime slot (mutations persist; callers mark dirty).
 */
export function ctState(runtime: Record<string, unknown>, now: number): CtState {
  if (runtime.ctVersion !== 1) {
    const fresh: CtState = {
      ctVersion: 1,
      fs: seedFs(now),
      packages: { ...BASE_PACKAGES },
      runlevels: {},
      started: [],
      images: {},
      projects: {},
      power: 'running',
      seq: 0,
    }
    Object.assign(runtime, fresh)
  }
  return runtime as unknown as CtState
}

/** Current health of a container as `docker ps` shows it ('' without healthcheck or when not running). */
export function containerHealth(c: CtContainer, now: number): '' | 'starting' | 'healthy' | 'unhealthy' {
  if (c.state !== 'running') return ''
  if (c.healthOverride) return c.healthOverride
  if (c.healthDelayMs === undefined) return ''
  const due = c.healthyAt ?? c.startedAt + c.healthDelayMs
  if (now < due) return 'starting'
  return /unhealthy/.test(c.image) ? 'unhealthy' : 'healthy'
}

/** What a command inside the container returns. */
export interface CmdResult {
  code: number
  stdout: string | Buffer
  stderr: string
  /**
   * A command that keeps running after its first output (`docker compose logs --follow`): the
   * node writes `stdout`, then calls this with a writer and a "client gone" probe, and sends the
   * exit status it resolves with.
   */
  follow?: (emit: (chunk: string) => void, closed: () => boolean) => Promise<number>
}

/** What a command inside the container may use. */
export interface CtContext {
  vmid: number
  state: CtState
  fs: import('./ct-fs.js').CtFilesystem
  now(): number
  /** guest config (features, unprivileged) as the API shows it */
  config: Record<string, string | number>
  /** `lxc-pve` version of the node (for the runc/AppArmor trap) */
  hostLxcPveVersion: string
  /** resolves with all stdin once the client closed it */
  readStdin(): Promise<Buffer>
  /** The other running containers of the node, as the LAN sees them (ct-appliance.ts). */
  lan?: { peers(): import('./ct-appliance.js').LanPeer[] }
}

/** Shorthand for a result. */
export function result(code: number, stdout: string | Buffer = '', stderr = ''): CmdResult {
  return { code, stdout, stderr }
}
