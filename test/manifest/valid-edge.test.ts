/**
 * The valid edge-case corpus: every file in test/fixtures/valid/edge is a manifest that looks
 * unusual but is right (merge keys in compose, `!!str`, a byte-order mark at the start, labels
 * with any text, quoted big numbers in env, the smallest sizes Proxmox takes...). Each must load
 * on its own, arrive with exactly the values written, and give the same set whichever YAML
 * parser read it (a `&` in a comment sends a file through the full parser).
 */
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatError, loadManifests } from '../../src/manifest/index.js'
import type { ManifestSet } from '../../src/model/types.js'

const ROOT = join(import.meta.dirname, '..', '..')
const EDGE = join(ROOT, 'test/fixtures/valid/edge')

async function load(file: string): Promise<ManifestSet> {
  const r = await loadManifests([file], { cwd: ROOT })
  if (!r.ok) throw new Error(r.errors.map((e) => formatError(e, ROOT)).join('\n'))
  return r.set
}

const app = (set: ManifestSet, name = 'web') => set.apps.find((a) => a.metadata.name === name)!
type Services = Record<string, Record<string, unknown>>

const cases: { name: string; reason: string; check: (set: ManifestSet) => void }[] = [
  {
    name: 'compose-merge-keys.yaml',
    reason: 'docker compose resolves <<: *anchor; Proximity must hand the same services on',
    check: (set) => {
      const s = app(set).spec.source.compose.services as Services
      expect(s.web).toEqual({ restart: 'unless-stopped', environment: { TZ: 'Etc/UTC' }, image: 'nginx:1.27' })
      expect(s.worker.restart).toBe('no') // the mapping's own key wins over the merged one
    },
  },
  {
    name: 'compose-file-merge-keys.yaml',
    reason: 'merge keys in a compose file read through composeFile resolve the same way',
    check: (set) => {
      const s = app(set, 'files').spec.source.compose.services as Services
      expect(s.app).toEqual({ restart: 'always', environment: { LOG: 'info' }, image: 'ghcr.io/example/files:2.0' })
      expect(s.sidecar.environment).toEqual({ LOG: 'debug' })
    },
  },
  { name: 'str-tag.yaml', reason: '!!str keeps the text', check: (set) => expect(app(set).spec.env).toEqual({ PORT: '8080', FLAG: 'true', PADDED: '007' }) },
  { name: 'bom-at-start.yaml', reason: 'a leading BOM is dropped, not read into the first key', check: (set) => expect(app(set).metadata.name).toBe('web') },
  { name: 'crlf-line-endings.yaml', reason: 'CRLF files carry no stray \\r in values', check: (set) => expect(app(set).spec.env).toEqual({ A: 'one' }) },
  {
    name: 'labels-any-text.yaml',
    reason: 'label and annotation values are arbitrary text',
    check: (set) => {
      const m = app(set).metadata
      expect(m.labels).toEqual({ tier: 'yes', 'example.com/owner': "Zoë O'Brien", note: 'a: b # not a comment', hex: '0x10' })
      expect(m.annotations?.description).toBe('Café ☕ – «quotes» "double" and \'single\', $HOME, `ticks`')
      expect(m.annotations?.empty).toBe('')
    },
  },
  {
    name: 'env-quoted-numbers.yaml',
    reason: 'quoted numbers are text and arrive digit for digit',
    check: (set) => expect(app(set).spec.env).toEqual({ ACCOUNT_ID: '12345678901234567890', UMASK: '022', VERSION: '1.10', LIMIT: '1e3', MODE: '0o17' }),
  },
  {
    name: 'env-canonical-numbers.yaml',
    reason: 'numbers written as JavaScript prints them need no quotes',
    check: (set) => expect(app(set).spec.env).toEqual({ WORKERS: '4', RATIO: '0.5', DEBUG: 'true', OFFSET: '-3', BIG: '9007199254740991' }),
  },
  {
    name: 'env-prototype-names.yaml',
    reason: 'Object.prototype names are kept as own keys, never dropped or confused with inherited members',
    check: (set) => {
      const a = app(set)
      expect(Object.entries(a.spec.env)).toEqual([['constructor', 'c'], ['prototype', 'p'], ['hasOwnProperty', 'h'], ['toString', 't']])
      expect(Object.entries(a.metadata.labels ?? {})).toEqual([['constructor', 'a'], ['prototype', 'b']])
    },
  },
  {
    name: 'yaml12-words.yaml',
    reason: 'YAML 1.1 booleans, dates, sexagesimal times and 0b11 are text in YAML 1.2',
    check: (set) => expect(app(set).spec.env).toEqual({ ANSWER: 'yes', SWITCH: 'off', COUNTRY: 'NO', DATE: '2024-01-01', TIME: '12:30:00', BIN: '0b11', TILDE_TEXT: 'a~b' }),
  },
  { name: 'yaml-directive-12.yaml', reason: '%YAML 1.2 is accepted', check: (set) => expect(set.apps).toHaveLength(1) },
  {
    name: 'anchors-in-manifest.yaml',
    reason: 'aliases and merge keys inside one manifest',
    check: (set) => {
      const a = app(set)
      expect(a.spec.expose[0].port).toBe(8080)
      expect(a.spec.volumes).toEqual([
        { name: 'data', path: '/data', size: 1, backup: false },
        { name: 'logs', path: '/logs', size: 1, backup: false },
      ])
    },
  },
  { name: 'document-markers.yaml', reason: 'document start/end markers and empty documents', check: (set) => expect(set.apps.map((a) => a.metadata.name)).toEqual(['web', 'api']) },
  {
    name: 'smallest-sizes.yaml',
    reason: 'the smallest values Proxmox accepts pass, and paths near the reserved ones are fine',
    check: (set) => {
      expect(app(set).spec.resources).toEqual({ cores: 8192, memory: 16, swap: 0, disk: 0.001 })
      expect(app(set).spec.volumes.map((v) => v.path)).toEqual(['/procs/data/', '/device'])
    },
  },
  {
    name: 'network-edge.yaml',
    reason: 'a consistent LAN: gateway and static app outside the pool, port forward to that app',
    check: (set) => {
      expect(set.appliances[0].spec.lan.dhcpRange).toEqual({ start: '10.20.0.20', end: '10.20.0.100' })
      expect(app(set, 'game').spec.network.ip).toBe('10.20.0.10/24')
    },
  },
  {
    name: 'proxmox-ids.yaml',
    reason: 'template and PBS backup volids, dotted storage ids and node names in Proxmox shapes',
    check: (set) => {
      expect(app(set).spec.template).toBe('local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst')
      expect(set.restores[0].spec.backup).toBe('pbs:backup/ct/101/2024-01-01T00:00:00Z')
    },
  },
  {
    name: 'env-unicode-text.yaml',
    reason: 'quotes, dollars, hashes, inner backslashes and unicode are data',
    check: (set) =>
      expect(app(set).spec.env).toEqual({
        GREETING: 'Grüße, 世界 👋',
        QUOTES: 'it\'s "quoted"',
        SHELLISH: '$HOME `id` $(whoami) ; rm -rf /',
        HASH: 'a # b',
        BACKSLASH: 'C:\\path\\file',
        SPACES: '  padded  ',
      }),
  },
]

describe('valid edge-case corpus', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prox-edge-'))
  })
  afterAll(async () => rm(dir, { recursive: true }))

  it('has a case for every file, and at least 10', async () => {
    const files = (await readdir(EDGE)).filter((f) => f.endsWith('.yaml')).sort()
    expect(files).toEqual(cases.map((c) => c.name).sort())
    expect(files.length).toBeGreaterThanOrEqual(10)
  })

  it.each(cases)('$name: $reason', async (c) => {
    const set = await load(join(EDGE, c.name))
    c.check(set)
    // The same file forced through the full parser (a `&` anywhere does it) means the same.
    const text = await readFile(join(EDGE, c.name))
    await mkdir(join(dir, 'compose'), { recursive: true })
    await copyFile(join(EDGE, 'compose', 'merged.yml'), join(dir, 'compose', 'merged.yml'))
    const forced = join(dir, c.name)
    await writeFile(forced, Buffer.concat([text, Buffer.from('\n# & forces the full parser\n')]))
    const again = await load(forced)
    const strip = (s: ManifestSet) => JSON.stringify([...s.apps, ...s.appliances, ...s.restores].map((m) => ({ ...m, source: undefined })))
    expect(strip(again)).toBe(strip(set))
  })
})
