/**
 * The health gate (runtime REFERENCE §2.4, §4): one non-blocking probe per call. The caller
 * requeues while the app is still starting and gives up after `health.timeout`.
 */
import type { AppManifest } from '../../src/model/types.js'
import { composeArgs } from './docker.js'
import { exec, tail, type GuestRef } from '../lxc/index.js'

export interface HealthProbe {
  healthy: boolean
  /** Short, lower-case reason when not healthy. */
  detail: string
}

interface PsEntry {
  Service?: string
  Name?: string
  State?: string
  Health?: string
  ExitCode?: number
}

/** Parses `compose ps -a --format json` (a JSON array on ≤ 2.20, JSON Lines after). */
export function parsePs(stdout: string): PsEntry[] {
  const text = stdout.trim()
  if (text === '') return []
  if (text.startsWith('[')) return JSON.parse(text) as PsEntry[]
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as PsEntry)
}

/** Judges compose containers: all running, and healthy where a healthcheck exists. */
export function judgePs(entries: PsEntry[], services: string[]): HealthProbe {
  if (entries.length === 0) return { healthy: false, detail: 'no containers yet' }
  for (const svc of services) {
    if (!entries.some((e) => e.Service === svc)) return { healthy: false, detail: `service ${svc} has no container` }
  }
  for (const e of entries) {
    const name = e.Name ?? e.Service ?? 'container'
    if (e.State !== 'running') return { healthy: false, detail: `${name} is ${e.State ?? 'unknown'}${e.State === 'exited' ? ` (${e.ExitCode ?? '?'})` : ''}` }
    if (e.Health && e.Health !== 'healthy') return { healthy: false, detail: `${name} is ${e.Health}` }
  }
  return { healthy: true, detail: 'all containers running' }
}

/** Runs the probe the manifest asks for (`http`, `tcp`, or compose status by default). */
export async function probeHealth(g: GuestRef, app: AppManifest): Promise<HealthProbe> {
  const h = app.spec.health
  if (h?.http) {
    const path = h.http.path.startsWith('/') ? h.http.path : `/${h.http.path}`
    const url = `http://127.0.0.1:${h.http.port}${path}`
    const expect = h.http.expectStatus
    if (expect >= 200 && expect < 300) {
      const r = await exec(g, ['wget', '-q', '-Y', 'off', '-T', '5', '-O', '-', url], 'health http')
      return r.code === 0 ? { healthy: true, detail: `GET ${path} answered` } : { healthy: false, detail: `GET ${path}: ${tail(r)}` }
    }
    const r = await exec(g, ['wget', '-S', '-q', '-Y', 'off', '-T', '5', '-O', '/dev/null', url], 'health http')
    const m = /HTTP\/[\d.]+ (\d{3})/.exec(`${r.stderr}\n${r.stdout}`)
    const got = m ? Number(m[1]) : undefined
    return got === expect ? { healthy: true, detail: `GET ${path} answered ${got}` } : { healthy: false, detail: `GET ${path}: expected ${expect}, got ${got ?? tail(r)}` }
  }
  if (h?.tcp) {
    const r = await exec(g, ['nc', '-z', '-w', '2', '127.0.0.1', String(h.tcp.port)], 'health tcp')
    return r.code === 0 ? { healthy: true, detail: `port ${h.tcp.port} open` } : { healthy: false, detail: `port ${h.tcp.port} closed` }
  }
  const r = await exec(g, [...composeArgs(app.metadata.name), 'ps', '-a', '--format', 'json'], 'health compose')
  if (r.code !== 0) return { healthy: false, detail: `compose ps failed: ${tail(r)}` }
  let entries: PsEntry[]
  try {
    entries = parsePs(r.stdout)
  } catch {
    return { healthy: false, detail: 'compose ps printed unreadable output' }
  }
  const services = Object.keys((app.spec.source.compose.services ?? {}) as Record<string, unknown>)
  return judgePs(entries, services)
}
