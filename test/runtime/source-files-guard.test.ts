import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { explainUnreadFile, recordSources, unreadSourceFiles, type ManifestInput } from '../../src/runtime/source-files-guard.js'
import type { AppManifest, ManifestSet } from '../../src/model/types.js'
import { readManifestSources, writeManifestSources } from '../../src/store/manifest-sources.js'

const app = (name: string, file: string, composeFile?: string): AppManifest =>
  ({
    apiVersion: 'proximity/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: { source: { compose: {}, ...(composeFile ? { composeFile } : {}) } },
    source: { file, line: 1, column: 1 },
    specHash: name,
  }) as unknown as AppManifest
const setOf = (...apps: AppManifest[]): ManifestSet => ({ apps, appliances: [], backupPolicies: [], restores: [], roots: [] })

const R = '/repo/apps'
const dirInput: ManifestInput = { path: R, isDir: true }

describe('recordSources', () => {
  it('records each object relative to the most specific -f input, forgets deleted keys, keeps the rest', () => {
    const prev = { 'App/old': { root: R, file: 'old.yaml', recordedAt: 't0' }, 'App/gone': { root: R, file: 'gone.yaml', recordedAt: 't0' } }
    const set = setOf(app('web', `${R}/web.yaml`), app('db', `${R}/sub/db.yaml`), app('lone', '/elsewhere/lone.yaml'))
    const inputs = [dirInput, { path: `${R}/sub/db.yaml`, isDir: false }]
    expect(recordSources(prev, set, inputs, ['App/gone'], 't1')).toEqual({
      'App/old': { root: R, file: 'old.yaml', recordedAt: 't0' },
      'App/web': { root: R, file: 'web.yaml', recordedAt: 't1' },
      'App/db': { root: `${R}/sub/db.yaml`, file: '', recordedAt: 't1' },
    })
  })
  it('keeps the time of an unchanged record, so a converged apply writes nothing new', () => {
    const prev = { 'App/web': { root: R, file: 'web.yaml', recordedAt: 't0' } }
    expect(recordSources(prev, setOf(app('web', `${R}/web.yaml`)), [dirInput], [], 't1')).toEqual(prev)
    expect(recordSources(prev, setOf(app('web', `${R}/moved.yaml`)), [dirInput], [], 't1')).toEqual({ 'App/web': { root: R, file: 'moved.yaml', recordedAt: 't1' } })
  })
})

describe('unreadSourceFiles', () => {
  const records = {
    'App/a': { root: R, file: 'a.yaml', recordedAt: 't' },
    'App/b': { root: R, file: 'pair.yaml', recordedAt: 't' },
    'App/c': { root: R, file: 'pair.yaml', recordedAt: 't' },
    'App/d': { root: R, file: 'd.yaml', recordedAt: 't' },
    'App/e': { root: '/other', file: 'e.yaml', recordedAt: 't' },
    'App/f': { root: '/single/f.yaml', file: '', recordedAt: 't' },
  }
  const cases = [
    {
      name: 'file still holds other manifests',
      reason: 'removing one document from a file is an ordinary edit: its object may be pruned',
      set: setOf(app('a', `${R}/a.yaml`), app('c', `${R}/pair.yaml`), app('d', `${R}/d.yaml`)),
      inputs: [dirInput],
      want: [],
    },
    {
      name: 'file holds nothing now',
      reason: 'every object the file held stopped being read at once: hold them all',
      set: setOf(app('d', `${R}/d.yaml`)),
      inputs: [dirInput],
      want: [
        { file: `${R}/a.yaml`, keys: ['App/a'] },
        { file: `${R}/pair.yaml`, keys: ['App/b', 'App/c'] },
      ],
    },
    {
      name: 'object moved to another file',
      reason: 'a key that still has a manifest is never an orphan, wherever it moved',
      set: setOf(app('a', `${R}/moved.yaml`), app('b', `${R}/pair.yaml`), app('c', `${R}/pair.yaml`), app('d', `${R}/d.yaml`)),
      inputs: [dirInput],
      want: [],
    },
    {
      name: 'root no longer given',
      reason: 'a folder dropped from -f is the mass-delete guard’s business, not a file that stopped being read',
      set: setOf(),
      inputs: [{ path: '/unrelated', isDir: true }],
      want: [],
    },
    {
      name: 'a single-file input still given',
      reason: '-f naming the file itself covers it even though its folder is not given',
      set: setOf(),
      inputs: [{ path: '/single/f.yaml', isDir: false }],
      want: [{ file: '/single/f.yaml', keys: ['App/f'] }],
    },
    {
      name: 'a parent folder now given',
      reason: 'coverage is by path, so moving -f up a level still protects the same files',
      set: setOf(app('a', `${R}/a.yaml`), app('b', `${R}/pair.yaml`), app('c', `${R}/pair.yaml`)),
      inputs: [{ path: '/repo', isDir: true }],
      want: [{ file: `${R}/d.yaml`, keys: ['App/d'] }],
    },
  ]
  for (const c of cases) {
    it(`${c.name} (${c.reason})`, () => {
      expect(unreadSourceFiles(records, c.set, c.inputs)).toEqual(c.want)
    })
  }
})

describe('explainUnreadFile and the records file', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proximity-sources-'))
    await writeFile(join(dir, 'empty.yaml'), '')
    await writeFile(join(dir, 'comments.yaml'), '# parked\n---\n  # still parked\n')
    await writeFile(join(dir, 'compose.yaml'), 'services: {}\n')
    await writeFile(join(dir, 'data.yaml'), 'just: data\n')
    await mkdir(join(dir, 'folder.yaml'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const cases = [
    { name: 'deleted', file: 'missing.yaml', want: 'it no longer exists (deleted or renamed)' },
    { name: 'empty', file: 'empty.yaml', want: 'it is empty or holds only comments' },
    { name: 'comments and separators only', file: 'comments.yaml', want: 'it is empty or holds only comments' },
    { name: 'read as a compose file', file: 'compose.yaml', want: 'it is now read as the compose file of App/web' },
    { name: 'something else', file: 'data.yaml', want: 'it holds no manifest now' },
    { name: 'a folder now', file: 'folder.yaml', want: 'it is no longer a file' },
  ]
  for (const c of cases) {
    it(`says why: ${c.name}`, async () => {
      const set = setOf(app('web', join(dir, 'web.yaml'), 'compose.yaml'))
      expect(await explainUnreadFile(join(dir, c.file), set)).toBe(c.want)
    })
  }
  it('round-trips the records and reads a missing or corrupt file as empty', async () => {
    const state = join(dir, 'state')
    await mkdir(state)
    expect(await readManifestSources(state)).toEqual({})
    const rec = { 'App/web': { root: '/r', file: 'web.yaml', recordedAt: 't' } }
    await writeManifestSources(state, rec)
    expect(await readManifestSources(state)).toEqual(rec)
    await writeFile(join(state, 'manifest-sources.json'), '{not json')
    expect(await readManifestSources(state)).toEqual({})
  })
})
