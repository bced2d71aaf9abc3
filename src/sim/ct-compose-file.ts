/**
 * Loading a compose project inside a simulated container the way `docker compose` does for the
 * subset Proximity uses: `.env` parsing (compose-go dotenv rules, ./ct-dotenv.ts), `${VAR}` interpolation with
 * defaults and required variables, light schema validation (unknown keys are refused), and a
 * normalised service list with a config hash per service.
 */
import { createHash } from 'node:crypto'
import { parse as parseYaml } from 'yaml'
import type { CtFilesystem } from './ct-fs.js'
import { FsError, parentOf } from './ct-fs.js'
import { DotenvError, parseDotEnv } from './ct-dotenv.js'

export { parseDotEnv } from './ct-dotenv.js'

/** `docker compose` refused the project (message printed on stderr, exit 1). */
export class ComposeError extends Error {}

/** One port mapping; `published` 0 means exposed only. */
export interface PortSpec {
  hostIp?: string
  published: number
  target: number
  protocol: string
}

/** A service after interpolation and normalisation. */
export interface ServiceSpec {
  name: string
  image: string
  /** entrypoint + command as the engine shows it */
  command: string
  restart: string
  /** ms until a healthcheck first passes; undefined: no healthcheck */
  healthDelayMs?: number
  ports: PortSpec[]
  /** named volumes, project-prefixed */
  volumes: string[]
  /** mount sources for display (volume names and bind paths) */
  mounts: string[]
  networks: string[]
  labels: Record<string, string>
  /** resolved `environment:` (map or list form) */
  environment: Record<string, string>
  pullPolicy: string
  /** sha256 of the normalised definition (compose's config-hash label) */
  hash: string
}

/** A loaded project. */
export interface ComposeProject {
  file: string
  workingDir: string
  services: ServiceSpec[]
  volumes: string[]
  networks: string[]
  /** logrus-style warnings to print on stderr */
  warnings: string[]
}

const TOP_KEYS = new Set(['version', 'name', 'include', 'services', 'models', 'networks', 'volumes', 'secrets', 'configs'])
const SERVICE_KEYS = new Set(('develop deploy annotations attach build blkio_config cap_add cap_drop cgroup cgroup_parent command configs container_name cpu_count cpu_percent cpu_shares cpu_quota cpu_period cpu_rt_period cpu_rt_runtime cpus cpuset credential_spec depends_on device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file label_file environment expose extends provider external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit network_mode models networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged profiles pull_policy pull_refresh_after read_only restart runtime scale security_opt shm_size secrets sysctls stdin_open stop_grace_period stop_signal storage_opt tmpfs tty ulimits use_api_socket user uts userns_mode volumes volumes_from working_dir').split(' '))
const DEFAULT_HEALTH_DELAY_MS = 2000

/**
 * Interpolates `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?m}`, `${VAR?m}`, `${VAR:+a}`,
 * `${VAR+a}`, `$VAR` and `$$` in one string. Unset plain variables become '' with a warning.
 */
export function interpolate(text: string, env: Record<string, string>, where: string, warnings: Set<string>): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c !== '$') {
      out += c
      i++
      continue
    }
    const next = text[i + 1]
    if (next === '$') {
      out += '$'
      i += 2
      continue
    }
    if (next === '{') {
      let depth = 1
      let j = i + 2
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++
        else if (text[j] === '}') depth--
      }
      if (depth !== 0) throw new ComposeError(`invalid interpolation format for ${where}.\nYou may need to escape any $ with another $.\n${text}`)
      out += substitute(text.slice(i + 2, j - 1), env, where, warnings, text)
      i = j
      continue
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))
    if (!m) throw new ComposeError(`invalid interpolation format for ${where}.\nYou may need to escape any $ with another $.\n${text}`)
    out += lookupVar(m[0], env, warnings)
    i += 1 + m[0].length
  }
  return out
}

function lookupVar(name: string, env: Record<string, string>, warnings: Set<string>): string {
  const v = env[name]
  if (v === undefined) {
    warnings.add(`The "${name}" variable is not set. Defaulting to a blank string.`)
    return ''
  }
  return v
}

function substitute(inner: string, env: Record<string, string>, where: string, warnings: Set<string>, whole: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner)
  if (!m) throw new ComposeError(`invalid interpolation format for ${where}.\nYou may need to escape any $ with another $.\n${whole}`)
  const [, name, op, arg = ''] = m
  if (!op) return lookupVar(name, env, warnings)
  const v = env[name]
  const unset = op.startsWith(':') ? v === undefined || v === '' : v === undefined
  const kind = op.slice(-1)
  if (kind === '-') return unset ? interpolate(arg, env, where, warnings) : (v as string)
  if (kind === '+') return unset ? '' : interpolate(arg, env, where, warnings)
  if (unset) throw new ComposeError(`required variable ${name} is missing a value: ${interpolate(arg, env, where, warnings)}`)
  return v as string
}

function interpolateTree(node: unknown, env: Record<string, string>, where: string, warnings: Set<string>): unknown {
  if (typeof node === 'string') return interpolate(node, env, where, warnings)
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, env, `${where}[${i}]`, warnings))
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, env, where ? `${where}.${k}` : k, warnings)
    return out
  }
  return node
}

/** Parses a Go duration (`30s`, `1m30s`, `500ms`) into ms; undefined for bad input. */
export function parseGoDuration(text: unknown): number | undefined {
  if (typeof text === 'number') return text / 1e6
  if (typeof text !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let total = 0
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]]
  return total
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads the compose file and its env file, interpolates and validates it. Throws ComposeError. */
export function loadComposeProject(fs: CtFilesystem, file: string, opts: { project: string; envFile?: string }): ComposeProject {
  let text: string
  try {
    text = fs.read(file).toString('utf8')
  } catch (e) {
    const msg = e instanceof FsError ? e.message.toLowerCase() : String(e)
    throw new ComposeError(`open ${file}: ${msg}`)
  }
  const workingDir = parentOf(file)
  const envPath = opts.envFile ?? `${workingDir === '/' ? '' : workingDir}/.env`
  let env: Record<string, string> = {}
  if (fs.isFile(envPath)) {
    try {
      env = parseDotEnv(fs.read(envPath).toString('utf8'))
    } catch (e) {
      if (e instanceof DotenvError) throw new ComposeError(`failed to read ${envPath}: ${e.message}`)
      throw e
    }
  } else if (opts.envFile) throw new ComposeError(`env file ${envPath} not found: stat ${envPath}: no such file or directory`)

  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new ComposeError(`yaml: ${(e as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) throw new ComposeError(`empty compose file`)
  if (!isMap(doc)) throw new ComposeError(`Top-level object must be a mapping`)
  const warnings = new Set<string>()
  const root = interpolateTree(doc, env, '', warnings) as Record<string, unknown>
  const invalid = (msg: string): ComposeError => new ComposeError(`validating ${file}: ${msg}`)
  for (const k of Object.keys(root)) if (!TOP_KEYS.has(k) && !k.startsWith('x-')) throw invalid(`additional properties '${k}' not allowed`)
  if (!isMap(root.services) || Object.keys(root.services).length === 0) {
    throw new ComposeError(root.services === undefined ? 'no service selected' : invalid('services must be a mapping').message)
  }
  const topVolumes = isMap(root.volumes) ? Object.keys(root.volumes) : []
  const topNetworks = isMap(root.networks) ? Object.keys(root.networks) : []
  const services: ServiceSpec[] = []
  for (const [name, raw] of Object.entries(root.services)) {
    if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw invalid(`services additional properties '${name}' not allowed`)
    if (!isMap(raw)) throw invalid(`services.${name} must be a mapping`)
    for (const k of Object.keys(raw)) if (!SERVICE_KEYS.has(k) && !k.startsWith('x-')) throw invalid(`services.${name} additional properties '${k}' not allowed`)
    services.push(normaliseService(opts.project, name, raw, topVolumes, invalid))
  }
  return {
    file,
    workingDir,
    services,
    volumes: topVolumes.map((v) => `${opts.project}_${v}`),
    networks: (topNetworks.length ? topNetworks : ['default']).map((n) => `${opts.project}_${n}`),
    warnings: [...warnings],
  }
}

function normaliseService(project: string, name: string, raw: Record<string, unknown>, topVolumes: string[], invalid: (m: string) => ComposeError): ServiceSpec {
  const image = typeof raw.image === 'string' ? raw.image : raw.build !== undefined ? `${project}-${name}` : ''
  if (!image) throw invalid(`services.${name} has neither an image nor a build context specified`)
  const words = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : [])
  const entry = words(raw.entrypoint)
  const cmd = words(raw.command)
  const command = [...entry, ...cmd].join(' ') || 'docker-entrypoint.sh'
  const restart = typeof raw.restart === 'string' ? raw.restart : 'no'
  if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(restart)) throw invalid(`services.${name}.restart invalid restart policy '${restart}'`)
  let healthDelayMs: number | undefined
  if (isMap(raw.healthcheck) && raw.healthcheck.disable !== true) {
    const test = raw.healthcheck.test
    const none = Array.isArray(test) && test[0] === 'NONE'
    if (test !== undefined && !none) {
      const sp = raw.healthcheck.start_period === undefined ? undefined : parseGoDuration(raw.healthcheck.start_period)
      if (raw.healthcheck.start_period !== undefined && sp === undefined) throw invalid(`services.${name}.healthcheck.start_period invalid duration`)
      healthDelayMs = sp && sp > 0 ? sp : DEFAULT_HEALTH_DELAY_MS
    }
  }
  const ports: PortSpec[] = []
  for (const p of Array.isArray(raw.ports) ? raw.ports : []) ports.push(parsePort(p, `services.${name}.ports`, invalid))
  for (const e of Array.isArray(raw.expose) ? raw.expose : []) {
    const [t, proto = 'tcp'] = String(e).split('/')
    ports.push({ published: 0, target: Number(t), protocol: proto })
  }
  const volumes: string[] = []
  const mounts: string[] = []
  for (const v of Array.isArray(raw.volumes) ? raw.volumes : []) {
    const src = typeof v === 'string' ? v.split(':')[0] : isMap(v) ? String(v.source ?? '') : ''
    if (!src) continue
    if (src.startsWith('/') || src.startsWith('.')) mounts.push(src)
    else {
      if (!topVolumes.includes(src)) throw new ComposeError(`service "${name}" refers to undefined volume ${src}: invalid compose project`)
      volumes.push(`${project}_${src}`)
      mounts.push(`${project}_${src}`)
    }
  }
  const netNames = Array.isArray(raw.networks) ? raw.networks.map(String) : isMap(raw.networks) ? Object.keys(raw.networks) : ['default']
  const labels: Record<string, string> = {}
  if (isMap(raw.labels)) for (const [k, v] of Object.entries(raw.labels)) labels[k] = String(v ?? '')
  else if (Array.isArray(raw.labels)) for (const l of raw.labels) { const [k, ...r] = String(l).split('='); labels[k] = r.join('=') }
  const environment: Record<string, string> = {}
  if (isMap(raw.environment)) for (const [k, v] of Object.entries(raw.environment)) environment[k] = v === null || v === undefined ? '' : String(v)
  else if (Array.isArray(raw.environment)) for (const l of raw.environment) { const [k, ...r] = String(l).split('='); environment[k] = r.join('=') }
  const pullPolicy = typeof raw.pull_policy === 'string' ? raw.pull_policy : 'missing'
  const hash = createHash('sha256').update(stableJson(raw)).digest('hex')
  return { name, image, command, restart, healthDelayMs, ports, volumes, mounts, networks: netNames.map((n) => `${project}_${n}`), labels, environment, pullPolicy, hash }
}

function parsePort(p: unknown, where: string, invalid: (m: string) => ComposeError): PortSpec {
  if (isMap(p)) {
    const target = Number(p.target)
    if (!Number.isInteger(target)) throw invalid(`${where} target is required`)
    return { hostIp: typeof p.host_ip === 'string' ? p.host_ip : undefined, published: Number(p.published ?? 0), target, protocol: String(p.protocol ?? 'tcp') }
  }
  const text = String(p)
  const [spec, protocol = 'tcp'] = text.split('/')
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec)
  const parts = v6 ? [v6[1], ...v6[2].split(':')] : spec.split(':')
  const nums = parts.slice(-2)
  const ok = (s: string): boolean => /^\d{1,5}$/.test(s) && Number(s) <= 65535
  if (parts.length === 1) {
    if (!ok(parts[0])) throw invalid(`${where} invalid port "${text}"`)
    return { published: 0, target: Number(parts[0]), protocol }
  }
  if (!nums.every(ok) || parts.length > 3) throw invalid(`${where} invalid port "${text}"`)
  return { hostIp: parts.length === 3 ? parts[0] : undefined, published: Number(nums[0]), target: Number(nums[1]), protocol }
}

/** JSON with sorted keys (for hashing). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}
