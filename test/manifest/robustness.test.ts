/**
 * No input may crash the loader, and the loader must not accept what it should refuse. Bounded
 * loops with fixed seeds, so failures reproduce:
 *
 * - random bytes, truncated and mutated manifests, absurd nesting: always a result; every error
 *   located (file, line ≥ 1, column ≥ 1, a one-line message) and never an internal message;
 *   whenever a mutated manifest is accepted, the set must satisfy the invariants below and mean
 *   the same when the file is forced through the full YAML parser;
 * - generated values known to be invalid (by the rules of DESIGN §2 and Proxmox's limits) must
 *   be refused, located on the line of the value; generated values known to be valid must be
 *   accepted and arrive exactly as written.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadManifests } from '../../src/manifest/index.js'
import { parseManifestText } from '../../src/manifest/yaml-docs.js'
import type { LoadResult, ManifestSet } from '../../src/model/types.js'

/** mulberry32: a tiny seeded PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prox-fuzz-'))
})
afterAll(async () => rm(dir, { recursive: true }))

/** Words that only an internal failure would print. */
const INTERNAL = /call stack|TypeError|RangeError|Cannot read prop|is not a function|\bundefined\b|\bNaN\b|\bInfinity\b|\[object /

/** What every accepted set must satisfy, whatever the input was. */
function assertInvariants(set: ManifestSet, what: string): void {
  for (const a of set.apps) {
    const r = a.spec.resources
    expect(Number.isInteger(r.memory) && r.memory >= 16, `${what}: memory ${r.memory}`).toBe(true)
    expect(Number.isInteger(r.swap) && r.swap >= 0, `${what}: swap ${r.swap}`).toBe(true)
    expect(Number.isInteger(r.cores) && r.cores >= 1 && r.cores <= 8192, `${what}: cores ${r.cores}`).toBe(true)
    for (const size of [r.disk, ...a.spec.volumes.map((v) => v.size)]) expect(Number.isFinite(size) && size * 1024 >= 0.999, `${what}: size ${size}`).toBe(true)
    const ports = [...a.spec.expose.map((x) => x.port), a.spec.health?.http?.port, a.spec.health?.tcp?.port].filter((p) => p !== undefined)
    for (const p of ports) expect(Number.isInteger(p) && p >= 1 && p <= 65535, `${what}: port ${p}`).toBe(true)
    for (const [k, v] of Object.entries(a.spec.env)) {
      expect(k, what).not.toBe('__proto__')
      expect(typeof v === 'string' && !/[\r\n\0]/.test(v) && !v.endsWith('\\'), `${what}: env ${k}=${JSON.stringify(v)}`).toBe(true)
    }
    for (const label of a.spec.hostname.split('.')) expect(label.length, what).toBeLessThanOrEqual(63)
    for (const v of a.spec.volumes) expect(v.path, what).not.toMatch(/^\/+((proc|sys|dev)(\/.*)?)?$/)
  }
  for (const ap of set.appliances) {
    for (const f of ap.spec.nat.portForwards) {
      const port = Number(f.to.split(':')[1])
      expect(port >= 1 && port <= 65535, `${what}: forward ${f.to}`).toBe(true)
    }
  }
}

/** Sets compared without their file positions. */
const meaning = (s: ManifestSet): string => JSON.stringify([s.cluster, ...s.apps, ...s.appliances, ...s.backupPolicies, ...s.restores].map((m) => m && { ...m, source: undefined }))

async function check(name: string, content: string | Buffer): Promise<LoadResult> {
  const file = join(dir, name)
  await writeFile(file, content)
  const r = await loadManifests([file], { cwd: dir })
  if (r.ok) {
    assertInvariants(r.set, name)
    // The same bytes through the full parser (a `&` anywhere forces it) must mean the same.
    const forced = join(dir, `forced-${name}`)
    await writeFile(forced, Buffer.concat([Buffer.from(content), Buffer.from('\n# & full parser\n')]))
    const again = await loadManifests([forced], { cwd: dir })
    expect(again.ok, `${name}: accepted by one parser only`).toBe(true)
    if (again.ok) expect(meaning(again.set), name).toBe(meaning(r.set))
    return r
  }
  expect(r.errors.length).toBeGreaterThan(0)
  for (const e of r.errors) {
    expect(typeof e.file).toBe('string')
    expect(e.line, JSON.stringify(e)).toBeGreaterThanOrEqual(1)
    expect(e.column, JSON.stringify(e)).toBeGreaterThanOrEqual(1)
    expect(e.message.length).toBeGreaterThan(0)
    expect(e.message).not.toMatch(/\n|\bat .+:\d+:\d+/)
    expect(e.message, JSON.stringify(e)).not.toMatch(INTERNAL)
  }
  return r
}

/** One self-contained valid set (an appliance and two apps), so mutations can be accepted. */
const BASE = `apiVersion: proximity/v1alpha1
kind: Appliance
metadata:
  name: edge
spec:
  lan:
    subnet: 10.10.0.0/24
  nat:
    portForwards:
      - {port: 2222, to: "10.10.0.20:22"}
---
apiVersion: proximity/v1alpha1
kind: App
metadata:
  name: web
  labels: {tier: frontend}
spec:
  source:
    compose:
      services:
        web:
          image: nginx:1.27
          ports: ["8080:80"]
  resources:
    cores: 2
    memory: 512Mi
    disk: 8Gi
  network:
    appliance: edge
    ip: 10.10.0.20/24
  expose:
    - port: 8080
  env:
    TZ: Europe/Paris
    WORKERS: 4
  volumes:
    - {name: data, path: /srv/data, size: 1Gi}
  health:
    http: {port: 8080}
---
apiVersion: proximity/v1alpha1
kind: App
metadata:
  name: api
spec:
  source:
    compose: {services: {api: {image: "ghcr.io/example/api:2"}}}
`

/** An App with `block` appended to its spec (and `meta` to its metadata); `line` is the line holding `@`. */
function appWith(block: string, meta = ''): { text: string; line: number } {
  const text = `apiVersion: proximity/v1alpha1\nkind: App\nmetadata:\n  name: web\n${meta}spec:\n  source:\n    compose: {services: {web: {image: "nginx:1.27"}}}\n${block}\n`
  return { text, line: text.split('\n').findIndex((l) => l.includes('#@')) + 1 }
}

const pick = <T,>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
const int = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))

/** Generators of values that must be refused, each placed on the line marked by @. */
const INVALID: { field: string; make: (rand: () => number) => string }[] = [
  { field: 'memory', make: (r) => `  resources:\n    memory: ${pick(r, [String(int(r, -5, 15)), `${int(r, 0, 15)}Mi`, `0.00${int(r, 1, 9)}Gi`, `${int(r, 16, 9999)}.${int(r, 1, 9)}Mi`, '.inf', '-.inf', '.nan', '0b10000', '1e400'])} #@` },
  { field: 'cores', make: (r) => `  resources:\n    cores: ${pick(r, [String(int(r, 8193, 99999)), String(-int(r, 0, 9)), `${int(r, 1, 8)}.5`, '0b11', '-0x1', '.inf', '+0o7'])} #@` },
  { field: 'disk', make: (r) => `  resources:\n    disk: ${pick(r, ['0', '0Mi', '0Gi', `0.${int(r, 1, 9)}Mi`, `-${int(r, 1, 9)}`, '0.0001', '.inf', '.nan'])} #@` },
  { field: 'swap', make: (r) => `  resources:\n    swap: ${pick(r, [`${int(r, 0, 999)}.5Mi`, String(-int(r, 1, 99)), '.inf'])} #@` },
  { field: 'port', make: (r) => `  health:\n    tcp:\n      port: ${pick(r, ['0', String(int(r, 65536, 999999)), String(-int(r, 1, 99)), '80.5', '.inf'])} #@` },
  { field: 'expose', make: (r) => `  expose:\n    - port: ${pick(r, ['0', String(int(r, 65536, 999999))])} #@` },
  {
    field: 'env number',
    make: (r) => `  env:\n    V: ${pick(r, [`0${int(r, 0, 7)}${int(r, 0, 7)}`, `${int(r, 1, 9)}e${int(r, 1, 9)}`, `${int(r, 1, 9)}.${int(r, 0, 9)}0`, `${int(r, 1, 9)}${'0'.repeat(int(r, 16, 25))}${int(r, 1, 9)}`, `0x${int(r, 10, 255).toString(16)}`, `0o${int(r, 1, 7)}`, `+${int(r, 1, 99)}`, 'TRUE', 'False', '-0', '.5'])} #@`,
  },
  { field: 'env text', make: (r) => `  env:\n    V: ${pick(r, ['"a\\nb"', '"line\\r"', "'ends with \\'", '"nul\\0"', '~'])} #@` },
  { field: 'template', make: (r) => `  template: "${pick(r, ['local:vztmpl/', 'local:backup/', 'loc al:vztmpl/', 'local:vztmpl/..'])}${pick(r, ['a', 'x.tar.zst', ''])}${pick(r, [',size=1', ';id', '=x', ' x', "'", '\\"', '$x', '`id`', '/../x', '..'])}" #@` },
  { field: 'volume path', make: (r) => `  volumes:\n    - name: data\n      size: 1Gi\n      path: ${pick(r, ['/', '/proc', '/sys', '/dev', '//proc', '/./sys', '/dev/', '/proc/a/b', '/sys/fs/cgroup', '/data/../proc'])} #@` },
  { field: 'hostname', make: (r) => `  hostname: ${'h'.repeat(int(r, 64, 90))} #@` },
  { field: 'storage', make: (r) => `  resources:\n    storage: "${pick(r, ['local-', '1local', 'loc al', 'a', 'local;x', 'local:x'])}" #@` },
  { field: 'node', make: (r) => `  node: "${pick(r, ['pve.lan', 'pve 1', '-pve', 'pve-', 'p_ve'])}" #@` },
  { field: 'env key', make: () => `  env:\n    __proto__: x #@` },
]

/** Generators of valid values with the value the App must arrive with. */
const VALID: { field: string; make: (rand: () => number) => { block: string; meta?: string; check: (set: ManifestSet) => void } }[] = [
  {
    field: 'memory',
    make: (r) => {
      const mib = int(r, 16, 65536)
      const text = pick(r, [String(mib), `${mib}Mi`, ...(mib % 1024 === 0 ? [`${mib / 1024}Gi`] : [])])
      return { block: `  resources:\n    memory: ${text}\n`, check: (s) => expect(s.apps[0].spec.resources.memory).toBe(mib) }
    },
  },
  {
    field: 'cores and port',
    make: (r) => {
      const cores = int(r, 1, 8192)
      const port = int(r, 1, 65535)
      return { block: `  resources:\n    cores: ${cores}\n  health:\n    tcp: {port: ${port}}\n`, check: (s) => expect([s.apps[0].spec.resources.cores, s.apps[0].spec.health?.tcp?.port]).toEqual([cores, port]) }
    },
  },
  {
    field: 'env text',
    make: (r) => {
      const alphabet = [...'abcXYZ019 _-=:#$`\'"\\/{}[],&*!|>%@?~éü世👋\t']
      let v = ''
      for (let i = int(r, 0, 24); i > 0; i--) v += pick(r, alphabet)
      if (v.endsWith('\\')) v += 'x'
      return { block: `  env:\n    V: ${JSON.stringify(v)}\n`, check: (s) => expect(s.apps[0].spec.env.V).toBe(v) }
    },
  },
  {
    field: 'env canonical number',
    make: (r) => {
      const n = pick(r, [int(r, -99999, 99999), int(r, 1, 9999) / 4, Number.MAX_SAFE_INTEGER - int(r, 0, 9)])
      return { block: `  env:\n    V: ${String(n)}\n`, check: (s) => expect(s.apps[0].spec.env.V).toBe(String(n)) }
    },
  },
  {
    field: 'label text',
    make: (r) => {
      const v = pick(r, ['yes', 'NO', 'on', '0x10', '2024-01-01', '1e3', 'a: b', '#x', 'é', '']) + String(int(r, 0, 9))
      return { block: '', meta: `  labels:\n    k: ${JSON.stringify(v)}\n`, check: (s) => expect(s.apps[0].metadata.labels?.k).toBe(v) }
    },
  },
  {
    field: 'volume path',
    make: (r) => {
      const path = pick(r, ['/data', '/srv/app', '/procs', '/device', '/system/x', '/var/lib/docker', '/opt/dev']) + pick(r, ['', '/', '/sub'])
      return { block: `  volumes:\n    - {name: v, path: ${path}, size: ${int(r, 1, 4096)}Mi}\n`, check: (s) => expect(s.apps[0].spec.volumes[0].path).toBe(path) }
    },
  },
]

describe('loader robustness', () => {
  it('survives random bytes', async () => {
    const rand = rng(42)
    for (let i = 0; i < 120; i++) {
      const len = Math.floor(rand() * 400)
      const buf = Buffer.alloc(len)
      // Half the cases are printable ASCII so the YAML parser (not the binary check) sees them.
      for (let j = 0; j < len; j++) buf[j] = i % 2 ? Math.floor(rand() * 256) : 9 + Math.floor(rand() * 118)
      await check(`rand-${i}.yaml`, buf)
    }
  })

  it('survives truncated and mutated manifests, and whatever it accepts is sound', async () => {
    const rand = rng(7)
    const alphabet = ':-[]{}&*!|>\'"#%@` \n\t,?0aZ.~+'
    let accepted = 0
    for (let i = 0; i < 120; i++) {
      let text = BASE.slice(0, Math.floor(rand() * BASE.length))
      if (i % 2) {
        const chars = [...BASE]
        for (let k = 0; k < 1 + Math.floor(rand() * 2); k++) chars[Math.floor(rand() * chars.length)] = alphabet[Math.floor(rand() * alphabet.length)]
        text = chars.join('')
      }
      if ((await check(`mut-${i}.yaml`, text)).ok) accepted++
    }
    // The oracle must see both outcomes, or the loop proves nothing.
    expect(accepted).toBeGreaterThan(3)
    expect(accepted).toBeLessThan(115)
  })

  it('refuses generated values that Proxmox, Linux or .env would not take, on their line', async () => {
    const rand = rng(1234)
    for (let i = 0; i < 200; i++) {
      const g = INVALID[i % INVALID.length]
      const { text, line } = appWith(g.make(rand))
      const r = await check(`bad-${i}.yaml`, text)
      expect(r.ok, `${g.field} accepted:\n${text}`).toBe(false)
      if (!r.ok) expect(r.errors.map((e) => e.line), `${g.field}:\n${text}\n${JSON.stringify(r.errors)}`).toContain(line)
    }
  })

  it('accepts generated valid values and delivers them exactly as written', async () => {
    const rand = rng(99)
    for (let i = 0; i < 150; i++) {
      const g = VALID[i % VALID.length]
      const { block, meta, check: verify } = g.make(rand)
      const { text } = appWith(block, meta)
      const r = await check(`good-${i}.yaml`, text)
      expect(r.ok, `${g.field} refused:\n${text}\n${r.ok ? '' : JSON.stringify(r.errors)}`).toBe(true)
      if (r.ok) verify(r.set)
    }
  })

  it('reads tricky scalars and keys the same on the fast path and the full parser', () => {
    // YAML 1.1 words, signed and prefixed numbers, special floats, nulls and quoted look-alikes,
    // as keys and values, in block and flow style. A `&` in a comment forces the full parser.
    const SCALARS = ['0b11', '0o17', '017', '0x1F', '-0x1', '+0o7', '1_000', '.inf', '-.inf', '.NaN', '~', 'null', 'Null', 'yes', 'no', 'on', 'True', 'TRUE', 'tRue', '2001-12-14', '1e3', '1.10', '+12', '-0', '022', '9007199254740993', '1.', '.5', '+.5', '0.', '12:30', 'a b', '"q"', "'s'", '"1"', '""', 'x#y', '1.0', 'true', '[]', '{}', '[1, 2]', '{a: 1}', '+.inf', '.nan', '0x', '1e', '...x']
    const rand = rng(5)
    const shown = (r: { docs: { value: unknown }[]; errors: { message: string }[] }): string =>
      JSON.stringify({ d: r.docs.map((d) => d.value), e: r.errors.map((e) => e.message) }, (_k, v: unknown) => (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `#${String(Object.is(v, -0) ? '-0' : v)}` : v))
    for (let i = 0; i < 3000; i++) {
      const lines: string[] = []
      for (let j = 0, n = 1 + Math.floor(rand() * 4); j < n; j++) {
        const k = pick(rand, SCALARS)
        const v = pick(rand, SCALARS)
        lines.push([`${k}: ${v}`, `k${j}: {${k}: ${v}}`, `k${j}: [${v}, ${k}]`, `k${j}:\n  - ${v}\n  - ${k}: ${v}`][Math.floor(rand() * 4)])
      }
      const text = lines.join('\n') + '\n'
      const fast = parseManifestText({ file: join(dir, 'x.yaml'), root: dir, text })
      const full = parseManifestText({ file: join(dir, 'x.yaml'), root: dir, text: `${text}# &\n` })
      expect(shown(fast), text).toBe(shown(full))
    }
  })

  it('survives deep nesting of flow and block collections', async () => {
    await check('deep-flow-seq.yaml', `spec: ${'['.repeat(20000)}${']'.repeat(20000)}\n`)
    await check('deep-flow-map.yaml', `spec: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`)
    let block = 'apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: deep}\nspec:\n  source:\n    compose:\n'
    for (let d = 0; d < 300; d++) block += `${'  '.repeat(d + 3)}k${d}:\n`
    await check('deep-block.yaml', block + `${'  '.repeat(303)}v: 1\n`)
  })

  it('reports, not crashes, on the classic billion-laughs bomb', async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`)
    const file = join(dir, 'lol.yaml')
    await writeFile(file, lines.join('\n') + '\n')
    const r = await loadManifests([file], { cwd: dir })
    expect(r.ok ? '' : r.errors[0].message).toContain('too many aliases')
  })
})
