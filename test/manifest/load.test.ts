/**
 * The loader end to end on real files: normalisation of a valid set (units, defaults, catalog
 * expansion, hostname default, composeFile), spec hashes, secret checks with a real key, and
 * the folder-reading rules (recursion, dotfiles, loops, size cap, empty folders).
 */
import { mkdtemp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatError, loadManifests, type CatalogPort } from '../../src/manifest/index.js'
import { generateSecretKey, parseSecretKey, sealValue } from '../../src/manifest/secrets.js'
import type { ManifestSet } from '../../src/model/types.js'

const ROOT = join(import.meta.dirname, '..', '..')
const VALID = join(ROOT, 'test/fixtures/valid')

async function loadOk(paths: string[], opts = {}): Promise<ManifestSet> {
  const r = await loadManifests(paths, { cwd: ROOT, ...opts })
  if (!r.ok) throw new Error(r.errors.map((e) => formatError(e, ROOT)).join('\n'))
  return r.set
}

describe('valid homelab set', () => {
  let set: ManifestSet
  beforeAll(async () => {
    set = await loadOk(['test/fixtures/valid/homelab'])
  })

  it('loads every kind and skips the compose file referenced by composeFile', () => {
    expect(set.cluster?.metadata.name).toBe('home')
    expect(set.apps.map((a) => a.metadata.name)).toEqual(['web', 'static', 'files'])
    expect(set.appliances).toHaveLength(1)
    expect(set.backupPolicies).toHaveLength(1)
    expect(set.restores).toHaveLength(1)
    expect(set.roots).toEqual([join(VALID, 'homelab')])
  })

  it('normalises sizes and durations to numbers and fills defaults', () => {
    const web = set.apps.find((a) => a.metadata.name === 'web')!
    // memory and disk from the manifest; cores and swap from Cluster defaults (2 cores, 256Mi swap).
    expect(web.spec.resources).toEqual({ cores: 2, memory: 512, swap: 256, disk: 8 })
    expect(web.spec.health).toEqual({ http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 90_000 })
    expect(web.spec.update).toEqual({ strategy: 'snapshot', rollback: true, healthTimeout: 300_000 })
    expect(web.spec.env).toEqual({ TZ: 'Europe/Paris', WORKERS: '4' })
    expect(web.spec.expose).toEqual([{ port: 8080, host: 'www.home.arpa', tls: 'internal' }])
    expect(web.spec.state).toBe('running')
    expect(web.spec.deletionPolicy).toBe('Backup')
    expect(web.spec.hostname).toBe('web')
    expect(web.source.file).toBe(join(VALID, 'homelab/apps.yaml'))
    expect(web.source.line).toBe(2)
  })

  it('reads composeFile into source.compose and converts volume sizes to GiB', () => {
    const st = set.apps.find((a) => a.metadata.name === 'static')!
    expect(st.spec.source.composeFile).toBe('compose/static.yaml')
    expect(st.spec.source.compose).toEqual({ services: { site: { image: 'ghcr.io/example/site:2.1', ports: ['80:80'] } } })
    expect(st.spec.volumes).toEqual([{ name: 'data', path: '/data', size: 0.5, backup: true }])
    expect(st.spec.hostname).toBe('static-site')
    expect(st.spec.resources).toEqual({ cores: 2, memory: 1024, swap: 256, disk: 6 })
  })

  it('expands a catalog app with its defaults and applies version to the main image', () => {
    const files = set.apps.find((a) => a.metadata.name === 'files')!
    const services = files.spec.source.compose.services as Record<string, { image: string }>
    expect(files.spec.source.catalog).toBe('nextcloud')
    expect(services.app.image).toBe('nextcloud:30.0.5-apache')
    expect(services.db.image).toMatch(/^mariadb:/) // only the main (first) service changes
    expect(files.spec.resources).toEqual({ cores: 4, memory: 2048, swap: 1024, disk: 10 })
    expect(Object.keys(files.spec.secrets).sort()).toEqual(['DB_PASSWORD', 'DB_ROOT_PASSWORD'])
    expect(files.spec.env.TZ).toBe('Europe/Paris') // manifest wins over the catalog
    expect(files.spec.env.TRUSTED_DOMAINS).toBeDefined()
    expect(files.spec.health?.timeout).toBe(300_000)
    expect(files.spec.volumes.map((v) => v.path)).toEqual(['/srv/html', '/srv/db'])
    expect(files.spec.expose).toEqual([{ port: 80, tls: 'internal' }])
  })

  it('defaults the appliance LAN gateway and DHCP range from the subnet', () => {
    const lan = set.appliances[0].spec.lan
    expect(lan.gateway).toBe('10.10.0.1')
    expect(lan.dhcpRange).toEqual({ start: '10.10.0.128', end: '10.10.0.254' })
    expect(set.appliances[0].spec.resources).toEqual({ cores: 1, memory: 256, swap: 256, disk: 2 })
  })

  it('converts Cluster default resources and fills cluster defaults', () => {
    const c = set.cluster!.spec
    expect(c.defaults.resources).toEqual({ cores: 2, memory: 1024, swap: 256, disk: 6 })
    expect(c.defaults.storage).toBe('local-lvm')
    expect(c.vmidRange).toEqual({ min: 1000, max: 1999 })
    expect(c.owner).toBe('proximity')
  })

  it('fills BackupPolicy and Restore defaults', () => {
    expect(set.backupPolicies[0].spec).toMatchObject({ mode: 'snapshot', compress: 'zstd', retention: { keepLast: 7 }, includeAppliance: false, suspend: false })
    expect(set.restores[0].spec).toEqual({ app: 'web', backup: 'latest', mode: 'in-place' })
  })
})

describe('specHash', () => {
  it('is stable across key order and equivalent units', async () => {
    const a = await loadOk(['test/fixtures/valid/reordered/app-a.yaml'])
    const b = await loadOk(['test/fixtures/valid/reordered/app-b.yaml.txt'])
    expect(a.apps[0].specHash).toMatch(/^[0-9a-f]{64}$/)
    expect(b.apps[0].specHash).toBe(a.apps[0].specHash)
  })

  it('changes when the spec changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prox-hash-'))
    const doc = (mem: string): string => `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  source: {compose: {services: {web: {image: "nginx:1"}}}}\n  resources: {memory: ${mem}}\n`
    await writeFile(join(dir, 'a.yaml'), doc('512Mi'))
    const h1 = (await loadOk([dir])).apps[0].specHash
    await writeFile(join(dir, 'a.yaml'), doc('1Gi'))
    const h2 = (await loadOk([dir])).apps[0].specHash
    expect(h2).not.toBe(h1)
    await rm(dir, { recursive: true })
  })
})

describe('fast path', () => {
  it('locates cross-object errors in plain files parsed on the fast path, from the text', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prox-fast-'))
    const m = join(dir, 'm')
    await mkdir(m)
    const doc = (name: string): string => `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  source: {compose: {services: {s: {image: "busybox"}}}}\n  hostname: shared\n`
    await writeFile(join(m, 'a.yaml'), doc('a'))
    await writeFile(join(m, 'b.yaml'), `# a comment shifts the lines\n---\n${doc('b')}`)
    const result = await loadManifests([m], { cwd: dir })
    expect(result.ok ? [] : result.errors.map((e) => formatError(e, dir))).toEqual([
      'm/b.yaml:8:13: App/b: spec.hostname: hostname "shared" is already used by App "a" at m/a.yaml:1; set a different spec.hostname',
    ])
    await rm(dir, { recursive: true })
  })

  it('gives the same manifests whichever parser read the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prox-fast-'))
    const body = `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  source: {compose: {services: {s: {image: "busybox:1.36", environment: {A: "1"}}}}}\n  resources: {memory: 512Mi, disk: 4Gi}\n`
    // An anchor sends a file through the full parser; the data is the same.
    await writeFile(join(dir, 'plain.yaml'), body)
    await writeFile(join(dir, 'anchored.yaml'), body.replace('resources: {', 'resources: &r {'))
    const plain = await loadManifests([join(dir, 'plain.yaml')], { cwd: dir })
    const anchored = await loadManifests([join(dir, 'anchored.yaml')], { cwd: dir })
    expect(plain.ok && anchored.ok).toBe(true)
    if (plain.ok && anchored.ok) {
      expect(plain.set.apps[0].spec).toEqual(anchored.set.apps[0].spec)
      expect(plain.set.apps[0].specHash).toBe(anchored.set.apps[0].specHash)
    }
    await rm(dir, { recursive: true })
  })
})

describe('catalog port', () => {
  it('uses an injected catalog (version must give a valid image)', async () => {
    const catalog: CatalogPort = {
      get: (n) => (n === 'tiny' ? { name: 'tiny', version: '1', compose: { services: { main: { image: 'registry.local:5000/tiny@sha256:' + 'a'.repeat(64) } } }, resources: { cores: 1, memory: 64, swap: 0, disk: 1 }, volumes: [], secrets: {}, env: {}, expose: [] } : undefined),
      names: () => ['tiny'],
    }
    const dir = await mkdtemp(join(tmpdir(), 'prox-cat-'))
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: t}\nspec:\n  source: {catalog: tiny, version: "2.0"}\n')
    const set = await loadOk([dir], { catalog })
    expect((set.apps[0].spec.source.compose.services as Record<string, { image: string }>).main.image).toBe('registry.local:5000/tiny:2.0')
    expect(set.apps[0].spec.resources).toEqual({ cores: 1, memory: 64, swap: 0, disk: 1 })
    await rm(dir, { recursive: true })
  })
})

describe('sealed secrets', () => {
  let dir: string
  let keyFile: string
  let otherKeyFile: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prox-sec-'))
    const k1 = await generateSecretKey()
    const k2 = await generateSecretKey()
    keyFile = join(dir, 'k1.key')
    otherKeyFile = join(dir, 'k2.key')
    await writeFile(keyFile, k1.keyText, { mode: 0o600 })
    await writeFile(otherKeyFile, k2.keyText, { mode: 0o600 })
    const sealed = await sealValue('s3cret-plaintext', await parseSecretKey(k1.keyText))
    await mkdir(join(dir, 'm'))
    await writeFile(join(dir, 'm', 'app.yaml'), `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: db}\nspec:\n  source: {compose: {services: {db: {image: "postgres:16"}}}}\n  secrets:\n    DB_PASSWORD:\n      sealed: ${sealed}\n`)
  })
  afterAll(async () => rm(dir, { recursive: true }))

  it('accepts a value that decrypts with the key', async () => {
    const r = await loadManifests([join(dir, 'm')], { cwd: dir, keyFile })
    expect(r.ok).toBe(true)
    expect(r.warnings).toEqual([])
  })

  it('reports a value sealed for another key, at the secret, without plaintext', async () => {
    const r = await loadManifests([join(dir, 'm')], { cwd: dir, keyFile: otherKeyFile })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors).toHaveLength(1)
    expect(formatError(r.errors[0], dir)).toBe('m/app.yaml:8:7: App/db: spec.secrets.DB_PASSWORD: sealed value cannot be decrypted with key k2.key (sealed for another key?)')
    expect(JSON.stringify(r)).not.toContain('s3cret-plaintext')
  })

  it('warns when no key exists, and fails when a key is required', async () => {
    const soft = await loadManifests([join(dir, 'm')], { cwd: dir, defaultKeyFile: join(dir, 'missing.key') })
    expect(soft.ok).toBe(true)
    expect(soft.warnings[0].message).toContain('no secret key at missing.key')
    const hard = await loadManifests([join(dir, 'm')], { cwd: dir, defaultKeyFile: join(dir, 'missing.key'), requireKey: true })
    expect(hard.ok).toBe(false)
  })

  it('checks {env} secrets only when a key is required', async () => {
    const f = join(dir, 'env')
    await mkdir(f, { recursive: true })
    await writeFile(join(f, 'a.yaml'), 'apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: e}\nspec:\n  source: {compose: {services: {e: {image: "busybox"}}}}\n  secrets: {TOKEN: {env: MY_TOKEN}}\n')
    expect((await loadManifests([f], { cwd: dir })).ok).toBe(true)
    const r = await loadManifests([f], { cwd: dir, requireKey: true, env: {} })
    expect(r.ok ? '' : r.errors[0].message).toContain('environment variable MY_TOKEN is not set')
    expect((await loadManifests([f], { cwd: dir, requireKey: true, env: { MY_TOKEN: 'x' } })).ok).toBe(true)
  })
})

describe('reading files and folders', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prox-read-'))
  })
  afterAll(async () => rm(dir, { recursive: true }))
  const app = (name: string): string => `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  source: {compose: {services: {s: {image: "busybox"}}}}\n`

  it('reads folders recursively in sorted order and skips dotfiles and other extensions', async () => {
    const d = join(dir, 'tree')
    await mkdir(join(d, 'b', 'nested'), { recursive: true })
    await mkdir(join(d, '.hidden'), { recursive: true })
    await writeFile(join(d, 'z.yaml'), app('zed'))
    await writeFile(join(d, 'a.yml'), app('alpha'))
    await writeFile(join(d, 'b', 'nested', 'm.yaml'), app('mid'))
    await writeFile(join(d, '.draft.yaml'), 'not: [valid')
    await writeFile(join(d, '.hidden', 'x.yaml'), 'not: [valid')
    await writeFile(join(d, 'notes.txt'), 'not yaml')
    await symlink(d, join(d, 'b', 'loop')) // a symlink loop must not hang or duplicate
    const set = await loadOk([d])
    expect(set.apps.map((a) => a.metadata.name)).toEqual(['alpha', 'mid', 'zed'])
  })

  it('reports a folder without manifests and a missing path', async () => {
    const empty = join(dir, 'empty')
    await mkdir(empty)
    const r = await loadManifests([empty, join(dir, 'nope')], { cwd: dir })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors.map((e) => e.message)).toEqual(['folder contains no .yaml or .yml manifests', 'no such file or folder; check the -f path "' + join(dir, 'nope') + '"'])
  })

  it('refuses a file over the 5 MiB cap with a clear message', async () => {
    const big = join(dir, 'big.yaml')
    await writeFile(big, `# ${'x'.repeat(10 * 1024 * 1024)}\n`)
    const r = await loadManifests([big], { cwd: dir })
    expect(r.ok ? '' : r.errors[0].message).toMatch(/^file is 10\.0 MiB; manifests are limited to 5 MiB/)
  })

  it('refuses a composeFile that escapes the folder through a symlink, and locates errors inside a compose file', async () => {
    const d = join(dir, 'compose-links')
    await mkdir(join(d, 'sub'), { recursive: true })
    const outside = join(dir, 'outside-compose.yaml')
    await writeFile(outside, 'services:\n  s:\n    image: busybox\n')
    await symlink(outside, join(d, 'sub', 'linked.yaml'))
    await writeFile(join(d, 'sub', 'broken.yaml'), 'services:\n  s:\n    image: busybox\n    restart: sometimes\n    prots: ["80:80"]\n')
    const doc = (name: string, file: string): string => `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  source: {composeFile: ${file}}\n`
    await writeFile(join(d, 'apps.yaml'), `${doc('a', 'sub/linked.yaml')}---\n${doc('b', 'sub/broken.yaml')}`)
    const r = await loadManifests([d], { cwd: d })
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.errors.map((e) => formatError(e, d))).toEqual([
      'apps.yaml:5:25: App/a: spec.source.composeFile: compose file "sub/linked.yaml" is outside the manifest folder; move it inside the folder given to -f',
      'sub/broken.yaml:5:5: App/b: spec.source.composeFile.services.s.prots: unknown field "prots"; did you mean "ports"?',
    ])
  })

  it('never lets a composeFile turn another manifest file into a compose file, by name or through a symlink', async () => {
    const d = join(dir, 'compose-is-manifest')
    await mkdir(d, { recursive: true })
    const viaFile = (name: string, file: string): string => `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  source: {composeFile: ${file}}\n`
    await writeFile(join(d, 'a.yaml'), viaFile('a', 'b.yaml'))
    await writeFile(join(d, 'b.yaml'), app('b'))
    await writeFile(join(d, 'c.yaml'), viaFile('c', 'link.yml'))
    await symlink(join(d, 'b.yaml'), join(d, 'link.yml'))
    const r = await loadManifests([d], { cwd: d })
    expect(r.ok ? [] : r.errors.map((e) => formatError(e, d))).toEqual([
      'a.yaml:5:25: App/a: spec.source.composeFile: compose file "b.yaml" is a manifest file; a file is either a manifest or a compose file, point composeFile at a compose file',
      'c.yaml:5:25: App/c: spec.source.composeFile: compose file "link.yml" is a manifest file; a file is either a manifest or a compose file, point composeFile at a compose file',
    ])
    // Fixed, the same folder loads all three Apps: b was never dropped from the set.
    await mkdir(join(d, 'compose'))
    await writeFile(join(d, 'compose', 'web.yml'), 'services:\n  web:\n    image: nginx:1.27\n')
    await writeFile(join(d, 'a.yaml'), viaFile('a', 'compose/web.yml'))
    await writeFile(join(d, 'c.yaml'), viaFile('c', 'compose/web.yml'))
    const fixed = await loadOk([d], { cwd: d })
    expect(fixed.apps.map((a) => a.metadata.name)).toEqual(['a', 'b', 'c'])
  })

  it('reads a Cluster tls.ca path into PEM text and refuses one that holds no certificate', async () => {
    const d = join(dir, 'cluster-ca')
    await mkdir(join(d, 'certs'), { recursive: true })
    const { cert } = await generate([{ name: 'commonName', value: 'pve.lan' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
    await writeFile(join(d, 'certs', 'pve-root-ca.pem'), cert)
    const cluster = (ca: string): string => `apiVersion: proximity/v1alpha1\nkind: Cluster\nmetadata: {name: home}\nspec:\n  endpoint: https://pve.lan:8006\n  auth: {tokenId: "root@pam!p", tokenSecret: {env: T}}\n  tls: {ca: ${ca}}\n`
    await writeFile(join(d, 'cluster.yaml'), cluster('certs/pve-root-ca.pem'))
    const set = await loadOk([d], { cwd: d })
    expect(set.cluster?.spec.tls.ca).toBe(cert)
    await writeFile(join(d, 'certs', 'pve-root-ca.pem'), 'just text\n')
    const bad = await loadManifests([d], { cwd: d })
    expect(bad.ok ? [] : bad.errors.map((e) => formatError(e, d))).toEqual([
      'cluster.yaml:7:13: Cluster/home: spec.tls.ca: CA holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA certificate of the Proxmox API',
    ])
  })

  it('refuses device files instead of reading them forever', async () => {
    const r = await loadManifests(['/dev/zero'], { cwd: dir })
    expect(r.ok ? '' : r.errors[0].message).toBe('not a regular file; pass manifest files or folders')
  })

  it('reports a dangling symlink given explicitly', async () => {
    const link = join(dir, 'dangling.yaml')
    await symlink(join(dir, 'does-not-exist.yaml'), link)
    const r = await loadManifests([link], { cwd: dir })
    expect(r.ok ? '' : r.errors[0].message).toContain('cannot read')
  })
})
