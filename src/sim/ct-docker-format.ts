/**
 * Output formats of the simulated docker / compose CLI: `ps --format json` JSON Lines exactly as
 * compose ≥ 2.24 prints them (runtime REFERENCE §2.4: sorted keys, Go JSON escaping, truncated
 * quoted Command, human durations) and `images --format json` (§2.5, compose 2.36 shape).
 */
import type { CtContainer, CtImage } from './ct-state.js'
import { containerHealth } from './ct-state.js'

/** docker/go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(ms / 3_600_000)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(hours / 24 / 365)} years`
}

/** A Go duration string for whole seconds (`2m0s`, `30s`, `1h0m0s`). */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (h) return `${h}h${m}m${s}s`
  if (m) return `${m}m${s}s`
  return `${s}s`
}

/** JSON.stringify with Go's HTML escaping of `<`, `>`, `&` (and U+2028/9). */
export function goJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

/** `2026-03-02 09:14:07 +0000 UTC` */
export function goTime(ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000 UTC`
}

/** The engine's Status text. */
export function statusText(c: CtContainer, now: number): string {
  if (c.state === 'created') return 'Created'
  if (c.state === 'exited') return `Exited (${c.exitCode}) ${humanDuration(now - c.finishedAt)} ago`
  const h = containerHealth(c, now)
  const suffix = h === 'starting' ? ' (health: starting)' : h ? ` (${h})` : ''
  return `Up ${humanDuration(now - c.startedAt)}${suffix}`
}

interface Publisher {
  URL: string
  TargetPort: number
  PublishedPort: number
  Protocol: string
}

/** Port bindings as compose reports them (IPv4 + IPv6 when no host IP is given). */
export function publishers(c: CtContainer): Publisher[] {
  const out: Publisher[] = []
  for (const p of c.ports) {
    if (!p.published) out.push({ URL: '', TargetPort: p.target, PublishedPort: 0, Protocol: p.protocol })
    else if (p.hostIp) out.push({ URL: p.hostIp, TargetPort: p.target, PublishedPort: p.published, Protocol: p.protocol })
    else {
      out.push({ URL: '0.0.0.0', TargetPort: p.target, PublishedPort: p.published, Protocol: p.protocol })
      out.push({ URL: '::', TargetPort: p.target, PublishedPort: p.published, Protocol: p.protocol })
    }
  }
  return out
}

function portsText(pubs: Publisher[]): string {
  return pubs
    .map((p) => (p.PublishedPort ? `${p.URL.includes(':') ? `[${p.URL}]` : p.URL}:${p.PublishedPort}->${p.TargetPort}/${p.Protocol}` : `${p.TargetPort}/${p.Protocol}`))
    .join(', ')
}

function ellipsis(s: string, width: number): string {
  const chars = [...s]
  return chars.length <= width ? s : chars.slice(0, width - 1).join('') + '…'
}

/** One `ps --format json` line (without the newline). */
export function psJsonLine(c: CtContainer, now: number, noTrunc = false): string {
  const pubs = c.state === 'running' ? publishers(c) : []
  const obj: Record<string, unknown> = {
    Command: JSON.stringify(noTrunc ? c.command : ellipsis(c.command, 20)),
    CreatedAt: goTime(c.createdAt),
    ExitCode: c.state === 'exited' ? c.exitCode : 0,
    Health: containerHealth(c, now),
    ID: noTrunc ? c.id : c.id.slice(0, 12),
    Image: c.image,
    Labels: Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(','),
    LocalVolumes: String(c.volumes.length),
    Mounts: c.mounts.join(','),
    Name: c.name,
    Names: c.name,
    Networks: c.networks.join(','),
    Ports: portsText(pubs),
    Project: c.project,
    Publishers: pubs,
    RunningFor: `${humanDuration(now - c.createdAt)} ago`,
    Service: c.service,
    Size: '0B',
    State: c.state,
    Status: statusText(c, now),
  }
  return goJson(obj)
}

/** Splits an image reference into repository and tag. */
export function splitImageRef(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@')
  const base = at >= 0 ? ref.slice(0, at) : ref
  const slash = base.lastIndexOf('/')
  const colon = base.lastIndexOf(':')
  if (colon > slash) return { repository: base.slice(0, colon), tag: base.slice(colon + 1) }
  return { repository: base, tag: at >= 0 ? '<none>' : 'latest' }
}

/** `images --format json` (compose 2.36: ID, ContainerName, Repository, Tag, Size, LastTagTime). */
export function imagesJson(containers: CtContainer[], images: Record<string, CtImage>): string {
  const rows = containers
    .filter((c) => images[c.image])
    .map((c) => {
      const img = images[c.image]
      const { repository, tag } = splitImageRef(c.image)
      return { ID: img.id, ContainerName: c.name, Repository: repository, Tag: tag, Size: img.size, LastTagTime: new Date(img.pulledAt).toISOString().replace(/\.\d{3}Z$/, 'Z') }
    })
  return goJson(rows)
}
