/**
 * Step 3b of loading: value rules a JSON Schema cannot say well, checked on a schema-valid
 * document before it is normalised, so nothing that passes `validate` is refused later by
 * Proxmox (a 400), by Linux or by the container step:
 *
 * - sizes in number and string form: memory ≥ 16 MiB and swap ≥ 0 in whole MiB, disks and
 *   volumes at least 1 MiB, every number finite and, when whole, exactly representable;
 * - durations that a timer can hold; hostnames whose labels fit DNS (≤ 63 octets) and, for the
 *   container's own name, Linux (≤ 64 octets); a non-empty `vmidRange`;
 * - template and backup volids in the shapes Proxmox accepts, mount paths away from `/`,
 *   `/proc`, `/sys` and `/dev`;
 * - env values that arrive unchanged: numbers YAML would rewrite (`022`, `1e3`, 2^53 + 1) must be
 *   quoted, values must be one line without a trailing backslash, and `__proto__` is refused as
 *   a key of any free-form mapping (labels, env, secrets, compose content).
 *
 * Pure apart from reading the document's YAML tree (parsed again lazily) to see how a number was
 * written. Every problem is a located error.
 */
import type { Kind, ManifestError } from '../model/types.js'
import { parseIpv4 } from '../model/ipv4.js'
import { checkHostnameLength, checkMountPath, HOSTNAME_PATTERN } from '../model/names.js'
import { checkCalendarBounds } from '../model/calendar-bounds.js'
import { checkBackupSchedule } from '../model/calendar-occurrence.js'
import { checkTemplate, checkVolid } from '../model/volid.js'
import { gitUrlProblem, repoPathProblem } from '../model/git-url.js'
import { parseDurationMs } from '../model/units.js'
import { describeValue } from './ajv-messages.js'
import { errorAt } from './located.js'
import { scalarSourceAt, type FieldPath } from './locate.js'
import type { ParsedDoc } from './yaml-docs.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v)
const own = (o: Obj, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k)

/** Proxmox's smallest container memory (`memory` minimum in the LXC API). */
export const MIN_MEMORY_MIB = 16
/** Longest duration a Node timer holds (2^31 - 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1
/** Mount points a container can have (`mp0` to `mp255`). */
export const MAX_VOLUMES = 256
/** Keys that would touch an object's prototype if assigned; refused in free-form mappings. */
export const PROTO_KEYS = new Set(['__proto__'])

const SIZE_RE = /^([0-9]+(?:\.[0-9]+)?)(Mi|Gi|Ti)$/
const MIB_PER: Record<string, number> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 }
const DURATION_PART = /([0-9]+)(ms|s|m|h)/g
const MS_PER: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v) : String(v))

/** A size in MiB: numbers are in `numberUnitMiB` (1 for memory, 1024 for disks); undefined if not a size. */
function toMiB(v: unknown, numberUnitMiB: number): number | undefined {
  if (typeof v === 'number') return v * numberUnitMiB
  if (typeof v !== 'string') return undefined
  const m = SIZE_RE.exec(v.trim())
  return m ? Number(m[1]) * MIB_PER[m[2]] : undefined
}

/** Runs every field rule on one schema-valid document of `kind`. */
export function checkFields(d: ParsedDoc, kind: Kind): ManifestError[] {
  const errors: ManifestError[] = []
  const err = (path: FieldPath, message: string, target: 'value' | 'key' = 'value'): void => {
    errors.push(errorAt(d, path, message, target))
  }
  const v = d.value
  const spec = isObj(v.spec) ? v.spec : {}
  checkNumbers(v, [], err)
  const meta = isObj(v.metadata) ? v.metadata : {}
  for (const m of ['labels', 'annotations']) if (isObj(meta[m])) protoKeys(meta[m], ['metadata', m], err)

  /** A size in MiB when it is a finite, exact size; reports one that is too large to be exact. */
  const sizeOf = (path: FieldPath, value: unknown, unitMiB: number): number | undefined => {
    const mib = toMiB(value, unitMiB)
    if (mib === undefined || !Number.isFinite(mib)) return undefined
    if (mib > Number.MAX_SAFE_INTEGER) {
      if (typeof value === 'string') err(path, `size ${shown(value)} is too large to be exact; no storage or host has that much`)
      return undefined
    }
    return mib
  }
  const memory = (path: FieldPath, value: unknown): void => {
    const mib = sizeOf(path, value, 1)
    if (mib === undefined) return
    if (mib < MIN_MEMORY_MIB) err(path, `memory must be at least ${MIN_MEMORY_MIB}Mi (Proxmox's minimum), got ${shown(value)}`)
    else if (!Number.isInteger(mib)) err(path, `memory must be a whole number of MiB, got ${shown(value)}`)
  }
  const swap = (path: FieldPath, value: unknown): void => {
    const mib = sizeOf(path, value, 1)
    if (mib !== undefined && !Number.isInteger(mib)) err(path, `swap must be a whole number of MiB, got ${shown(value)}`)
  }
  const disk = (path: FieldPath, value: unknown, what: string): void => {
    const mib = sizeOf(path, value, 1024)
    if (mib === undefined) return
    if (mib < 1) err(path, `${what} must be at least 1Mi, got ${shown(value)}; Proxmox cannot allocate ${mib === 0 ? 'an empty' : 'a sub-MiB'} volume`)
  }
  const resources = (base: FieldPath, r: unknown): void => {
    if (!isObj(r)) return
    if (own(r, 'memory')) memory([...base, 'memory'], r.memory)
    if (own(r, 'swap')) swap([...base, 'swap'], r.swap)
    if (own(r, 'disk')) disk([...base, 'disk'], r.disk, 'disk')
  }
  const duration = (path: FieldPath, value: unknown): void => {
    let ms: number | undefined
    if (typeof value === 'number') ms = value * 1000
    else if (typeof value === 'string') {
      ms = 0
      for (const m of value.trim().matchAll(DURATION_PART)) ms += Number(m[1]) * MS_PER[m[2]]
    }
    if (ms === undefined || !Number.isFinite(ms)) return
    if (ms > MAX_DURATION_MS) err(path, `duration is too long; use at most 24 days (e.g. "576h"), got ${shown(value)}`)
    else if (ms < 1000) err(path, `timeout must be at least 1s, got ${shown(value)}`)
  }
  const template = (path: FieldPath, value: unknown): void => {
    if (typeof value !== 'string') return
    const problem = checkTemplate(value)
    if (problem) err(path, problem)
  }

  switch (kind) {
    case 'App': {
      resources(['spec', 'resources'], spec.resources)
      template(['spec', 'template'], spec.template)
      const hostname = typeof spec.hostname === 'string' ? spec.hostname : undefined
      if (hostname) {
        const p = checkHostnameLength(hostname, 64)
        if (p) err(['spec', 'hostname'], p.startsWith('name is') ? `${p} (Linux limits a host name to 64)` : p)
      }
      if (Array.isArray(spec.expose)) {
        spec.expose.forEach((x, i) => {
          const p = isObj(x) && typeof x.host === 'string' ? checkHostnameLength(x.host, 253) : undefined
          if (p) err(['spec', 'expose', i, 'host'], p)
        })
      }
      if (Array.isArray(spec.volumes)) {
        if (spec.volumes.length > MAX_VOLUMES) err(['spec', 'volumes', MAX_VOLUMES], `an App can have at most ${MAX_VOLUMES} volumes (Proxmox mount points mp0 to mp255)`)
        spec.volumes.forEach((vol, i) => {
          if (!isObj(vol)) return
          disk(['spec', 'volumes', i, 'size'], vol.size, 'volume size')
          const p = typeof vol.path === 'string' ? checkMountPath(vol.path) : undefined
          if (p) err(['spec', 'volumes', i, 'path'], p)
        })
      }
      const health = isObj(spec.health) ? spec.health : undefined
      if (health && own(health, 'timeout')) duration(['spec', 'health', 'timeout'], health.timeout)
      if (isObj(spec.update) && own(spec.update, 'healthTimeout')) duration(['spec', 'update', 'healthTimeout'], spec.update.healthTimeout)
      if (isObj(spec.env)) {
        protoKeys(spec.env, ['spec', 'env'], err)
        for (const [k, value] of Object.entries(spec.env)) envValue(d, ['spec', 'env', k], value, err)
      }
      if (isObj(spec.secrets)) protoKeys(spec.secrets, ['spec', 'secrets'], err)
      const src = isObj(spec.source) ? spec.source : {}
      if (isObj(src.compose)) errors.push(...checkComposeData(d, src.compose, ['spec', 'source', 'compose']))
      errors.push(...notSupportedApp(d, spec))
      break
    }
    case 'Appliance': {
      resources(['spec', 'resources'], spec.resources)
      const proxy = isObj(spec.proxy) ? spec.proxy : {}
      if (proxy.tls === 'acme') {
        err(['spec', 'proxy', 'tls'], `${NOT_SUPPORTED}: proxy.tls: acme is not acted on, each App's expose[].tls picks the certificate of its own route (internal by default); remove proxy.tls and set tls: acme on the expose entries that need a public certificate (proxy.acmeEmail is used for them)`)
      }
      const dns = isObj(spec.dns) ? spec.dns : {}
      if (typeof dns.domain === 'string') {
        const p = checkHostnameLength(dns.domain, 190)
        if (p) err(['spec', 'dns', 'domain'], `${p} (app names are prefixed to it)`)
      }
      if (Array.isArray(dns.records)) {
        dns.records.forEach((r, i) => {
          const p = isObj(r) && typeof r.name === 'string' ? checkHostnameLength(r.name, 253) : undefined
          if (p) err(['spec', 'dns', 'records', i, 'name'], p)
        })
      }
      break
    }
    case 'Cluster': {
      const defaults = isObj(spec.defaults) ? spec.defaults : {}
      resources(['spec', 'defaults', 'resources'], defaults.resources)
      template(['spec', 'defaults', 'template'], defaults.template)
      if (typeof spec.endpoint === 'string') {
        const p = checkEndpoint(spec.endpoint)
        if (p) err(['spec', 'endpoint'], p)
      }
      const range = isObj(spec.vmidRange) ? spec.vmidRange : {}
      if (typeof range.min === 'number' && typeof range.max === 'number' && range.min > range.max) {
        err(['spec', 'vmidRange', own(range, 'max') ? 'max' : 'min'], `vmidRange is empty: min ${range.min} is above max ${range.max}; swap them or widen the range`)
      }
      const ssh = isObj(spec.ssh) ? spec.ssh : undefined
      if (ssh && typeof ssh.host === 'string') {
        const p = checkHostnameLength(ssh.host, 253)
        if (p) err(['spec', 'ssh', 'host'], p)
      }
      if (isObj(spec.git)) checkGit(spec.git, err)
      break
    }
    case 'BackupPolicy': {
      if (typeof spec.schedule === 'string') {
        const p = checkCalendarBounds(spec.schedule)
        if (p) err(['spec', 'schedule'], `schedule ${p}`)
      }
      const verify = isObj(spec.verify) ? spec.verify : {}
      if (typeof verify.schedule === 'string') {
        // Bounds first (the clearer sentence), then the grammar and "fires at all", as for schedule.
        const bounds = checkCalendarBounds(verify.schedule)
        const grammar = bounds ? undefined : checkBackupSchedule(verify.schedule)
        if (bounds) err(['spec', 'verify', 'schedule'], `verify schedule ${bounds}`)
        else if (grammar) err(['spec', 'verify', 'schedule'], `must be a Proxmox calendar event: ${grammar}`)
      }
      const sel = isObj(spec.selector) ? spec.selector : {}
      if (isObj(sel.matchLabels)) protoKeys(sel.matchLabels, ['spec', 'selector', 'matchLabels'], err)
      break
    }
    case 'Restore': {
      if (typeof spec.backup === 'string' && spec.backup !== 'latest') {
        const p = checkVolid(spec.backup, 'backup')
        if (p) err(['spec', 'backup'], `backup ${p}`)
      }
      break
    }
  }
  return errors
}

/** The start of every refusal of a field that validates but would not be acted on (issue 9). */
export const NOT_SUPPORTED = 'not supported yet'

/**
 * App fields the schema accepts but no controller would act on in the combination written:
 * refused, located, with what to do instead (nothing accepted and then ignored).
 */
function notSupportedApp(d: ParsedDoc, spec: Obj): ManifestError[] {
  const errors: ManifestError[] = []
  const net = isObj(spec.network) ? spec.network : {}
  const onLan = typeof net.appliance === 'string'
  if (Array.isArray(spec.expose) && spec.expose.length > 0 && !onLan) {
    errors.push(
      errorAt(d, ['spec', 'expose'], `${NOT_SUPPORTED}: expose needs network.appliance (ports are published by an Appliance's reverse proxy); join an Appliance with network.appliance, or remove expose and publish the port with compose "ports" at the app's own address`, 'key'),
    )
  }
  if (onLan && net.gateway !== undefined) {
    errors.push(errorAt(d, ['spec', 'network', 'gateway'], `${NOT_SUPPORTED}: network.gateway is not used on an appliance LAN (the Appliance's lan.gateway is the app's gateway); remove it`, 'key'))
  }
  const health = isObj(spec.health) ? spec.health : undefined
  if (health && health.compose === false && health.http === undefined && health.tcp === undefined) {
    errors.push(errorAt(d, ['spec', 'health', 'compose'], `${NOT_SUPPORTED}: compose: false does not turn the health check off (compose status is the default check); use compose: true, or an http or tcp check`))
  }
  return errors
}

/**
 * Checks inline or file compose content as data: no `__proto__` key anywhere, and environment
 * mapping values written as numbers YAML would rewrite must be quoted. `d` is the document that
 * holds the compose (the manifest, or the parsed compose file) and `base` its path there.
 */
export function checkComposeData(d: ParsedDoc, compose: Obj, base: FieldPath): ManifestError[] {
  const errors: ManifestError[] = []
  const err = (path: FieldPath, message: string, target: 'value' | 'key' = 'value'): void => {
    errors.push(errorAt(d, path, message, target))
  }
  protoKeysDeep(compose, base, err, 0)
  const services = compose.services
  if (isObj(services)) {
    for (const [name, svc] of Object.entries(services)) {
      const env = isObj(svc) ? svc.environment : undefined
      if (!isObj(env)) continue
      for (const [k, value] of Object.entries(env)) {
        if (typeof value === 'number' || typeof value === 'boolean') rewrittenScalar(d, [...base, 'services', name, 'environment', k], value, err)
      }
    }
  }
  return errors
}

/** Explains why an endpoint URL (already `scheme://host[:port][/]`) has an unusable host or port. */
function checkEndpoint(url: string): string | undefined {
  const m = /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:]+)(?::([0-9]+))?\/?$/.exec(url)
  if (!m) return undefined
  const [, host, port] = m
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is not a port; use 1 to 65535 (Proxmox listens on 8006)`
  if (host.startsWith('[')) return undefined
  if (/^[0-9.]+$/.test(host)) return parseIpv4(host) === undefined ? `host ${host} is not an IPv4 address` : undefined
  if (!HOSTNAME_PATTERN.test(host)) return `host "${host}" is not a DNS name (letters, digits and "-" in labels joined by ".")`
  return checkHostnameLength(host, 253)
}

type Err = (path: FieldPath, message: string, target?: 'value' | 'key') => void

/**
 * `Cluster.spec.git`: a repository URL without credentials (a token in it would be committed
 * and shown), a folder inside the repository, an interval of at least a second. The secret
 * file fields are paths by their schema pattern; their content is never read here (the files
 * live on the machine that serves, not where manifests are validated).
 */
function checkGit(git: Obj, err: Err): void {
  if (typeof git.url === 'string') {
    const p = gitUrlProblem(git.url, 'put the token in a file and name it in tokenFile')
    if (p) err(['spec', 'git', 'url'], `the repository URL ${p}`)
  }
  if (typeof git.path === 'string') {
    const p = repoPathProblem(git.path)
    if (p) err(['spec', 'git', 'path'], `path ${p}`)
  }
  if (git.interval !== undefined) {
    let ms: number | undefined
    try {
      ms = parseDurationMs(git.interval)
    } catch {
      ms = undefined // the schema reported it
    }
    if (ms !== undefined && ms < 1000) err(['spec', 'git', 'interval'], `interval ${shown(git.interval)} is shorter than 1s; poll at most once a second (webhooks bring pushes at once)`)
    if (ms !== undefined && ms > MAX_DURATION_MS) err(['spec', 'git', 'interval'], `interval ${shown(git.interval)} is too long; use at most 24 days (e.g. "576h")`)
  }
}

/** Every number in the document (outside compose content) is finite and, if whole, exact. */
function checkNumbers(v: unknown, path: FieldPath, err: Err): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) err(path, `must be a finite number, got ${describeValue(v, path)}`)
    else if (Number.isInteger(v) && !Number.isSafeInteger(v)) err(path, `number ${String(v)} is too large to be exact; use a smaller value`)
    return
  }
  if (!v || typeof v !== 'object' || path.length > 64) return
  if (path.length === 3 && path[0] === 'spec' && path[1] === 'source' && path[2] === 'compose') return // checked as compose
  if (path.length === 2 && path[0] === 'spec' && path[1] === 'env') return // checked as env values
  if (Array.isArray(v)) v.forEach((x, i) => checkNumbers(x, [...path, i], err))
  else for (const [k, x] of Object.entries(v)) checkNumbers(x, [...path, k], err)
}

function protoKeys(o: Obj, path: FieldPath, err: Err): void {
  for (const k of Object.keys(o)) if (PROTO_KEYS.has(k)) err([...path, k], `"${k}" cannot be used as a key (JavaScript would read it as the object's prototype); rename it`, 'key')
}

function protoKeysDeep(v: unknown, path: FieldPath, err: Err, depth: number): void {
  if (!v || typeof v !== 'object' || depth > 64) return
  if (Array.isArray(v)) {
    v.forEach((x, i) => protoKeysDeep(x, [...path, i], err, depth + 1))
    return
  }
  protoKeys(v as Obj, path, err)
  for (const [k, x] of Object.entries(v)) protoKeysDeep(x, [...path, k], err, depth + 1)
}

/** One App env value: written as data that survives the trip to `.env` unchanged. */
function envValue(d: ParsedDoc, path: FieldPath, value: unknown, err: Err): void {
  if (typeof value === 'number' || typeof value === 'boolean') {
    if (rewrittenScalar(d, path, value, err)) return
  }
  const text = String(value)
  if (/[\r\n]/.test(text)) err(path, 'env value must be one line (a .env file cannot hold line breaks); use a secret file or put it in the compose file')
  else if (text.includes('\0')) err(path, 'env value must not contain a NUL character')
  else if (text.endsWith('\\')) err(path, 'env value must not end with a backslash (it would escape the closing quote in .env); remove it or add a character after it')
}

/**
 * True (and an error) when a number or boolean scalar was written in a form YAML rewrites:
 * `022` → 22, `1e3` → 1000, `1.10` → 1.1, `True` → true, 12345678901234567890 → …000.
 */
function rewrittenScalar(d: ParsedDoc, path: FieldPath, value: number | boolean, err: Err): boolean {
  const written = scalarSourceAt(d.doc, d.text, path)
  if (written === undefined || written === String(value)) return false
  const quoted = /^["']/.test(written)
  if (quoted) return false
  err(path, `YAML reads ${written} as the ${typeof value === 'number' ? 'number' : 'boolean'} ${String(value)}; quote it ("${written}") to keep the value as written`)
  return true
}
