/**
 * What is deployed inside an App's guest (compose services and images, env, secrets), reduced to
 * a small summary that can be stored in the App's status, and the pure diff of two summaries into
 * plan field changes (`services.web.image: "nginx:1.25" -> "nginx:1.27"`, `env.TZ` added, …).
 *
 * The summary holds no secret: secret values appear only as keyed digests (made by the caller's
 * `digest`, the same keyed digest the deploy hash uses), and a changed secret is rendered
 * `(sensitive)`. Env values are plain manifest data, already committed in git (secrets have their
 * own field and are refused in plaintext), so they are kept and shown as they are.
 */
import { createHash } from 'node:crypto'
import type { PlanFieldChange } from './types.js'

/** One compose service: its image, and a digest per other setting (`ports`, `environment`, …). */
export interface DeployedService {
  /** `image:` of the service, or null when it is built (`build:`) or missing. */
  image: string | null
  /** Compose key → sha256 of its value, for every key of the service but `image`. */
  settings: Record<string, string>
}

/** The deployed side of an App, small enough for the status store. No secret values. */
export interface DeploySummary {
  /** Format version of this summary (bumped if the shape changes). */
  version: 1
  services: Record<string, DeployedService>
  /** Top-level compose key other than `services` (networks, volumes, …) → sha256 of its value. */
  topLevel: Record<string, string>
  /** Env key → value (env is plain manifest data; secrets have their own field). */
  env: Record<string, string>
  /** Secret name → keyed digest (from the caller), never the value. */
  secrets: Record<string, string>
}

/** What `summarizeDeploy` reads: the resolved compose document, env and secret references. */
export interface DeployInput {
  compose: Record<string, unknown>
  env: Record<string, string>
  /** Secret references as written in the manifest (sealed/env/file/generate), never plaintext. */
  secrets: Record<string, unknown>
}

/** JSON with object keys sorted, so equal data digests equally. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/**
 * Summarises what a deploy pushes. Pure and deterministic; `digest` is the keyed digest used for
 * secret references (so a re-sealed value with the same plaintext may still differ: the caller
 * decides what it digests).
 */
export function summarizeDeploy(input: DeployInput, digest: (value: string) => string): DeploySummary {
  const services: Record<string, DeployedService> = {}
  const rawServices = input.compose.services
  if (rawServices && typeof rawServices === 'object' && !Array.isArray(rawServices)) {
    for (const name of Object.keys(rawServices).sort()) {
      const def = (rawServices as Record<string, unknown>)[name]
      const body = def && typeof def === 'object' && !Array.isArray(def) ? (def as Record<string, unknown>) : {}
      const { image, ...rest } = body
      services[name] = { image: typeof image === 'string' ? image : null, settings: digestEach(rest) }
    }
  }
  const { services: _services, ...topLevel } = input.compose
  const env: Record<string, string> = {}
  for (const k of Object.keys(input.env).sort()) env[k] = input.env[k]
  const secrets: Record<string, string> = {}
  for (const k of Object.keys(input.secrets).sort()) secrets[k] = digest(stableJson(input.secrets[k]))
  return { version: 1, services, topLevel: digestEach(topLevel), env, secrets }
}

function digestEach(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sha256(stableJson(o[k]))
  return out
}

/** True when two summaries describe the same deploy. */
export function sameDeploy(a: DeploySummary, b: DeploySummary): boolean {
  return stableJson(a) === stableJson(b)
}

/** Reads a summary back from stored status data; undefined when absent or of another shape. */
export function readDeploySummary(value: unknown): DeploySummary | undefined {
  if (!value || typeof value !== 'object') return undefined
  const v = value as Partial<DeploySummary>
  if (v.version !== 1 || !v.services || !v.env || !v.secrets || !v.topLevel) return undefined
  return v as DeploySummary
}

/** Lists the images of a summary as `web: nginx:1.27` (for a deploy whose previous state is unknown). */
function imageList(s: DeploySummary): string {
  const parts = Object.keys(s.services).map((n) => `${n}: ${s.services[n].image ?? '(built)'}`)
  return parts.length > 0 ? parts.join(', ') : '(no services)'
}

/** Keys of two digest maps whose values differ (added, removed or changed), sorted. */
function changedKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort()
}

/**
 * The field changes of a re-deploy, from the previous summary (`before`, undefined when the
 * state store does not know it) to the desired one (`after`). Every change has impact `restart`:
 * compose recreates the affected containers (the guest itself keeps running).
 *
 * - a service whose image changed: `services.<name>.image` before → after,
 * - other settings of a service: `services.<name>.<key>` (`ports`, `environment`, …) without
 *   values (compose content may be long; the manifest diff in git shows it),
 * - a service added or removed: `services.<name>` with its image,
 * - the compose document outside services: `compose.<key>` (`networks`, `volumes`),
 * - env keys added, removed or changed: `env.<KEY>` with the values,
 * - secrets added, removed or changed: `secrets.<NAME>`, sensitive, with `(sensitive)` in place of
 *   any value (no digest ever reaches a plan).
 *
 * With no `before`, one `deploy` change lists the images that will run, so the plan still says
 * what happens. Returns [] when nothing differs.
 */
export function diffDeploy(before: DeploySummary | undefined, after: DeploySummary): PlanFieldChange[] {
  if (!before) {
    return [{ path: 'deploy', before: undefined, after: imageList(after), impact: 'restart', note: 'previous deploy not recorded: compose and .env are pushed again' }]
  }
  const out: PlanFieldChange[] = []
  const names = [...new Set([...Object.keys(before.services), ...Object.keys(after.services)])].sort()
  for (const n of names) {
    const b = before.services[n]
    const a = after.services[n]
    if (!b && a) out.push({ path: `services.${n}`, after: a.image ?? '(built)', impact: 'restart', note: `service ${n} is started` })
    else if (b && !a) out.push({ path: `services.${n}`, before: b.image ?? '(built)', impact: 'restart', note: `service ${n} is stopped and removed` })
    else if (a && b) {
      if (a.image !== b.image) out.push({ path: `services.${n}.image`, before: b.image ?? '(built)', after: a.image ?? '(built)', impact: 'restart', note: `service ${n} is recreated` })
      for (const k of changedKeys(b.settings, a.settings)) {
        out.push({ path: `services.${n}.${k}`, impact: 'restart', note: `${b.settings[k] === undefined ? 'added' : a.settings[k] === undefined ? 'removed' : 'changed'}; service ${n} is recreated` })
      }
    }
  }
  for (const k of changedKeys(before.topLevel, after.topLevel)) {
    out.push({ path: `compose.${k}`, impact: 'restart', note: before.topLevel[k] === undefined ? 'added' : after.topLevel[k] === undefined ? 'removed' : 'changed' })
  }
  for (const k of changedKeys(before.env, after.env)) {
    out.push({ path: `env.${k}`, before: before.env[k], after: after.env[k], impact: 'restart' })
  }
  for (const k of changedKeys(before.secrets, after.secrets)) {
    out.push({
      path: `secrets.${k}`,
      before: before.secrets[k] === undefined ? undefined : SENSITIVE,
      after: after.secrets[k] === undefined ? undefined : SENSITIVE,
      impact: 'restart',
      sensitive: true,
    })
  }
  return out
}

/** Stand-in value of a sensitive field; the digest never leaves the summary. */
const SENSITIVE = '(sensitive)'

/**
 * The plan lines of a deploy the controller decided to run (its deploy hash changed): the diff of
 * the stored summary (`stored`, as read from the App's status; anything else counts as unknown)
 * against `wanted`. Never empty: when the summaries agree (e.g. a state store written before
 * summaries existed) one `deploy` line says compose and .env are pushed again.
 */
export function deployChanges(stored: unknown, wanted: DeploySummary): PlanFieldChange[] {
  const changes = diffDeploy(readDeploySummary(stored), wanted)
  if (changes.length > 0) return changes
  return [{ path: 'deploy', after: imageList(wanted), impact: 'restart', note: 'compose and .env are pushed again' }]
}
