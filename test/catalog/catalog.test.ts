import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { describe, expect, it } from 'vitest'
import { catalogDir, CatalogError, getCatalogEntry, interpolatedNames, listCatalog, parseCatalogEntry } from '../../src/catalog/index.js'
import { packageRoot } from '../../src/model/paths.js'

const REQUIRED = [
  'uptime-kuma', 'vaultwarden', 'gitea', 'nextcloud', 'jellyfin', 'home-assistant', 'adguard-home', 'grafana',
  'prometheus', 'netdata', 'paperless-ngx', 'freshrss', 'syncthing', 'n8n', 'code-server', 'whoami',
]

type Service = { image?: string; ports?: (string | { published?: string | number })[]; volumes?: (string | { source?: string })[]; network_mode?: string }
const services = (compose: Record<string, unknown>): [string, Service][] => Object.entries(compose.services as Record<string, Service>)

/** Splits an image reference into repository and tag (undefined when absent). */
function imageTag(image: string): { repo: string; tag?: string; digest?: string } {
  const [noDigest, digest] = image.split('@')
  const slash = noDigest.lastIndexOf('/')
  const colon = noDigest.lastIndexOf(':')
  return colon > slash ? { repo: noDigest.slice(0, colon), tag: noDigest.slice(colon + 1), digest } : { repo: noDigest, digest }
}

function composeSpecPath(): string {
  const inRepo = join(packageRoot(), 'schemas', 'compose-spec.json')
  return existsSync(inRepo) ? inRepo : '/work/shared/compose/compose-spec.json'
}

describe('catalog contents', () => {
  const entries = listCatalog()

  it('has at least the 16 required apps, sorted by name', () => {
    const names = entries.map((e) => e.name)
    for (const n of REQUIRED) expect(names).toContain(n)
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)))
    expect(new Set(names).size).toBe(names.length)
  })

  it('looks entries up by name and caches them', () => {
    expect(getCatalogEntry('whoami')?.compose).toBeDefined()
    expect(getCatalogEntry('no-such-app')).toBeUndefined()
    expect(getCatalogEntry('gitea')).toBe(getCatalogEntry('gitea'))
    expect(Object.isFrozen(getCatalogEntry('gitea'))).toBe(true)
  })

  it('validates every entry\'s compose against the Compose Specification (draft-07)', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false })
    const schema = JSON.parse(readFileSync(composeSpecPath(), 'utf8'))
    delete schema.$schema // the draft-07 meta-schema id without '#' is unknown to ajv; the keywords are draft-07
    const validate = ajv.compile(schema)
    for (const e of entries) {
      const ok = validate(e.compose)
      expect(ok ? [] : validate.errors?.map((x) => `${e.name}${x.instancePath} ${x.message}`)).toEqual([])
    }
  })

  it('pins every image to an explicit, non-latest tag', () => {
    for (const e of entries) {
      for (const [svc, s] of services(e.compose)) {
        expect(typeof s.image, `${e.name}/${svc} has an image`).toBe('string')
        const { tag } = imageTag(s.image!)
        expect(tag, `${e.name}/${svc} image ${s.image} has a tag`).toBeDefined()
        expect(tag!.toLowerCase(), `${e.name}/${svc} is not latest`).not.toMatch(/^(latest|stable|main|master|edge|nightly|dev)$/)
        expect(tag, `${e.name}/${svc} tag looks like a version`).toMatch(/[0-9]/)
      }
    }
  })

  it('keeps version equal to the main (first) service\'s image tag, so source.version overrides it', () => {
    for (const e of entries) {
      const [, first] = services(e.compose)[0]
      expect(imageTag(first.image!).tag, e.name).toBe(e.version)
    }
  })

  it('publishes the health and expose ports, and mounts every declared volume', () => {
    for (const e of entries) {
      const svcs = services(e.compose).map(([, s]) => s)
      const hostNet = svcs.some((s) => s.network_mode === 'host')
      const published = new Set(
        svcs.flatMap((s) => (s.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':').at(-2) ?? '' : String(p.published ?? '')))),
      )
      const hp = e.health?.http?.port ?? e.health?.tcp?.port
      if (hp !== undefined && !hostNet) expect(published, `${e.name} health port ${hp}`).toContain(String(hp))
      for (const x of e.expose) if (!hostNet) expect(published, `${e.name} expose ${x.port}`).toContain(String(x.port))
      const sources = new Set(svcs.flatMap((s) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source ?? ''))))
      for (const v of e.volumes) expect(sources, `${e.name} mounts ${v.path}`).toContain(v.path)
      expect(e.health, `${e.name} has a health check`).toBeDefined()
    }
  })

  it('generates database passwords for apps that ship a database', () => {
    for (const n of ['nextcloud', 'paperless-ngx']) {
      const e = getCatalogEntry(n)!
      expect(e.secrets.DB_PASSWORD?.generate.length).toBeGreaterThanOrEqual(32)
      expect(services(e.compose).length).toBeGreaterThan(1)
    }
  })

  it('reads the data files from the package root', () => {
    expect(catalogDir()).toBe(join(packageRoot(), 'src', 'catalog', 'apps'))
  })
})

describe('parseCatalogEntry rejects malformed data files', () => {
  const good = readFileSync(join(catalogDir(), 'whoami.yaml'), 'utf8')
  const cases = [
    { name: 'name mismatch', reason: 'the file name is the lookup key', file: 'other.yaml', text: good, want: /must match the file name/ },
    { name: 'invalid YAML', reason: 'a broken data file must name itself', file: 'whoami.yaml', text: 'name: [', want: /whoami\.yaml: invalid YAML/ },
    { name: 'missing field', reason: 'the loader relies on resources', file: 'whoami.yaml', text: good.replace(/^resources:.*$/m, ''), want: /must have required property 'resources'/ },
    { name: 'unknown field', reason: 'typos in data files must not pass silently', file: 'whoami.yaml', text: `${good}\nport: 80\n`, want: /additional properties/ },
    { name: 'undeclared variable', reason: 'compose would interpolate an empty string', file: 'whoami.yaml', text: good.replace('"80:80"', '"${HTTP_PORT}:80"'), want: /\$\{HTTP_PORT\} but it is not declared/ },
    { name: 'env and secret overlap', reason: 'one .env key cannot hold both', file: 'whoami.yaml', text: good.replace('secrets: {}', 'secrets: {X: {generate: {length: 32}}}').replace('env: {}', 'env: {X: "1"}'), want: /both an env default and a generated secret/ },
    { name: 'short generated secret', reason: 'generated secrets must be strong', file: 'whoami.yaml', text: good.replace('secrets: {}', 'secrets: {X: {generate: {length: 8}}}'), want: /secrets\/X\/generate\/length must be >= 16/ },
  ]
  for (const c of cases) {
    it(`${c.name} (${c.reason})`, () => {
      expect(() => parseCatalogEntry(c.text, c.file)).toThrow(CatalogError)
      expect(() => parseCatalogEntry(c.text, c.file)).toThrow(c.want)
    })
  }

  it('accepts the unmodified file', () => {
    expect(parseCatalogEntry(good, 'whoami.yaml').name).toBe('whoami')
  })

  it('finds interpolated names and ignores $$ escapes', () => {
    expect([...interpolatedNames({ a: ['${A}', '$${B}', 'x${C:-d}y'], b: { c: '${D?missing}' } })].sort()).toEqual(['A', 'C', 'D'])
  })
})
