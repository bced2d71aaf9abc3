import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile, appendFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStateStore } from '../../src/store/state-store.js'
import type { ObjectStatus } from '../../src/store/types.js'

const dirs: string[] = []
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'proximity-store-'))
  dirs.push(d)
  return join(d, '.proximity')
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

const status = (name: string, extra: Record<string, unknown> = {}): ObjectStatus => ({
  key: `App/${name}`, kind: 'App', name, generation: 1, observedGeneration: 1, conditions: [], history: [],
  createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', extra,
})
const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0.ZW5j.aXY.Y2lwaGVy.dGFn'

describe('state store', () => {
  it('creates the state folder 0700 and persists statuses, events and secrets across reopen', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    s.putStatus(status('web', { ip: '10.0.0.5' }))
    s.putStatus(status('db'))
    s.putStatus({ ...status('gw'), key: 'Appliance/gw', kind: 'Appliance' })
    s.addEvent({ key: 'App/web', type: 'Normal', reason: 'Created', message: 'created guest 101' })
    await s.putGeneratedSecret('App/web', 'DB_PASSWORD', SEALED)
    await s.close()
    expect((await stat(join(dir, 'state.0.log'))).mode & 0o777).toBe(0o600)
    const r = await openStateStore(dir)
    expect(r.getStatus('App/web')?.extra).toEqual({ ip: '10.0.0.5' })
    expect(r.listStatus('App').map((x) => x.key)).toEqual(['App/db', 'App/web'])
    expect(r.listStatus().length).toBe(3)
    expect(r.listEvents({ key: 'App/web' })).toMatchObject([{ reason: 'Created', message: 'created guest 101' }])
    expect(r.getGeneratedSecret('App/web', 'DB_PASSWORD')).toBe(SEALED)
    r.deleteStatus('App/db')
    await r.close()
    const again = await openStateStore(dir)
    expect(again.getStatus('App/db')).toBeUndefined()
    expect(again.listStatus().map((x) => x.key)).toEqual(['App/web', 'Appliance/gw'])
    await again.close()
  })

  it('returns copies: mutating a returned status does not change the store', async () => {
    const s = await openStateStore(await tempDir())
    const put = status('web')
    s.putStatus(put)
    put.generation = 7
    const got = s.getStatus('App/web') as ObjectStatus
    got.generation = 99
    ;(s.listStatus('App')[0] as ObjectStatus).generation = 98
    expect(s.getStatus('App/web')?.generation).toBe(1)
    await s.close()
  })

  it('batches many mutations into one append and flush() makes them durable', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { batchMs: 50 })
    for (let i = 0; i < 200; i++) s.putStatus(status(`a${i}`))
    // Nothing written yet: the batch window has not elapsed.
    await expect(readFile(join(dir, 'state.0.log'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
    await s.flush()
    expect((await readFile(join(dir, 'state.0.log'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(200)
    // A second process sees every status without the first one closing.
    const reader = await openStateStore(dir)
    expect(reader.listStatus('App')).toHaveLength(200)
    await reader.close()
    await s.close()
  })

  it('writes what changed: one more status costs its own bytes, whatever the number stored', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir)
    const appendOne = async (name: string): Promise<number> => {
      const before = (await stat(join(dir, 'state.0.log')).catch(() => ({ size: 0 }))).size
      s.putStatus(status(name, { pad: 'x'.repeat(500) }))
      await s.flush()
      return (await stat(join(dir, 'state.0.log'))).size - before
    }
    const first = await appendOne('first')
    for (let i = 0; i < 2000; i++) s.putStatus(status(`bulk-${String(i).padStart(4, '0')}`, { pad: 'x'.repeat(500) }))
    await s.flush()
    const later = await appendOne('later')
    // Same shape, same size (the names differ by one character): nothing else was rewritten.
    expect(Math.abs(later - first)).toBeLessThanOrEqual(1)
    await s.close()
  })

  it('compacts the log into a new snapshot once it outgrows it, and reopens to the same state', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { compactMinBytes: 64 * 1024 })
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) s.putStatus(status(`a${i}`, { round, pad: 'x'.repeat(200) }))
      await s.flush()
    }
    s.deleteStatus('App/a0')
    await s.close()
    const snap = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { gen: number; statuses: Record<string, unknown> }
    expect(snap.gen).toBeGreaterThan(0)
    // Only the log of the snapshot's generation remains.
    for (const n of (await readdir(dir)).filter((x) => /^state\.\d+\.log$/.test(x))) expect(n).toBe(`state.${snap.gen}.log`)
    const r = await openStateStore(dir)
    expect(r.getStatus('App/a0')).toBeUndefined()
    expect(r.listStatus('App')).toHaveLength(49)
    expect(r.getStatus('App/a49')?.extra).toMatchObject({ round: 19 })
    await r.close()
  })

  it('loses no mutation made while a compaction writes the snapshot', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { batchMs: 1, compactMinBytes: 16 * 1024 })
    for (let i = 0; i < 3000; i++) {
      s.putStatus(status(`c${i % 40}`, { i, pad: 'x'.repeat(100) }))
      if (i % 7 === 0) await new Promise((r) => setImmediate(r))
    }
    await s.close()
    const r = await openStateStore(dir)
    for (let k = 0; k < 40; k++) expect(r.getStatus(`App/c${k}`)?.extra?.i).toBe(2960 + k)
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).gen).toBeGreaterThan(1)
    await r.close()
  })

  it('a reader opening while the writer compacts still sees every durable write', async () => {
    const dir = await tempDir()
    const w = await openStateStore(dir, { batchMs: 1, compactMinBytes: 8 * 1024 })
    let durable = 0
    let stop = false
    const writer = (async () => {
      for (let i = 1; !stop; i++) {
        w.putStatus(status('counter', { i, pad: 'x'.repeat(300) }))
        await w.flush()
        durable = i
      }
    })()
    // Read until several compactions happened under the readers (bounded).
    const gen = async (): Promise<number> => JSON.parse(await readFile(join(dir, 'state.json'), 'utf8').catch(() => '{"gen":0}')).gen as number
    for (let round = 0; round < 40 || ((await gen()) < 3 && round < 2000); round++) {
      const seen = durable
      const r = await openStateStore(dir)
      expect((r.getStatus('App/counter')?.extra?.i as number | undefined) ?? 0).toBeGreaterThanOrEqual(seen)
      await r.close()
    }
    stop = true
    await writer
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).gen).toBeGreaterThan(2)
    await w.close()
  })

  it('skips a log line torn by a crash and keeps appending on a fresh line', async () => {
    const dir = await tempDir()
    const s0 = await openStateStore(dir)
    s0.putStatus(status('web', { n: 1 }))
    await s0.close()
    await appendFile(join(dir, 'state.0.log'), '{"t":"status","key":"App/torn","value":{"key":"App/to')
    const s = await openStateStore(dir)
    expect(s.getStatus('App/torn')).toBeUndefined()
    expect(s.getStatus('App/web')?.extra).toEqual({ n: 1 })
    s.putStatus(status('db'))
    await s.close()
    const r = await openStateStore(dir)
    expect(r.listStatus().map((x) => x.key)).toEqual(['App/db', 'App/web'])
    await r.close()
  })

  it('indexes inventory vmids per kind, following puts and deletes', async () => {
    const s = await openStateStore(await tempDir())
    s.putStatus({ ...status('web'), inventory: { vmid: 101, node: 'pve' } })
    s.putStatus({ ...status('db'), inventory: { vmid: 102, node: 'pve' } })
    s.putStatus({ ...status('gw'), key: 'Appliance/gw', kind: 'Appliance', inventory: { vmid: 101 } })
    expect(s.keysByVmid('App', 101)).toEqual(['App/web'])
    expect(s.keysByVmid('Appliance', 101)).toEqual(['Appliance/gw'])
    s.putStatus({ ...status('web'), inventory: { vmid: 103, node: 'pve' } }) // re-created elsewhere
    expect(s.keysByVmid('App', 101)).toEqual([])
    expect(s.keysByVmid('App', 103)).toEqual(['App/web'])
    s.deleteStatus('App/db')
    expect(s.keysByVmid('App', 102)).toEqual([])
    expect(s.viewStatus('App').map((x) => x.key).sort()).toEqual(['App/web'])
    await s.close()
  })

  it('peekStatus reads the stored status without a copy and follows puts and deletes', async () => {
    const s = await openStateStore(await tempDir())
    expect(s.peekStatus('App/web')).toBeUndefined()
    s.putStatus({ ...status('web'), specHash: 'first' })
    const a = s.peekStatus('App/web')
    expect(a?.specHash).toBe('first')
    expect(s.peekStatus('App/web')).toBe(a) // the same object: no copy per call
    expect(s.getStatus('App/web')).not.toBe(a) // getStatus still copies
    s.putStatus({ ...status('web'), specHash: 'second' })
    expect(s.peekStatus('App/web')?.specHash).toBe('second')
    s.deleteStatus('App/web')
    expect(s.peekStatus('App/web')).toBeUndefined()
    await s.close()
  })

  it('flushes pending creates before resolving', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { batchMs: 60_000 })
    await s.putPendingCreate({ key: 'App/web', vmid: 101, node: 'pve', startedAt: '2026-01-01T00:00:00.000Z' })
    const seen = await openStateStore(dir)
    expect(seen.getPendingCreate('App/web')?.vmid).toBe(101)
    await seen.close()
    expect(s.listPendingCreates()).toHaveLength(1)
    await s.clearPendingCreate('App/web')
    const after = await openStateStore(dir)
    expect(after.listPendingCreates()).toEqual([])
    await after.close()
    await s.close()
  })

  it('keeps the events ring buffer bounded, newest kept', async () => {
    const s = await openStateStore(await tempDir(), { maxEvents: 10 })
    for (let i = 0; i < 25; i++) s.addEvent({ key: 'App/a', type: 'Normal', reason: 'Tick', message: `n${i}` })
    const evs = s.listEvents()
    expect(evs).toHaveLength(10)
    expect(evs[0].message).toBe('n15')
    expect(s.listEvents({ limit: 2 }).map((e) => e.message)).toEqual(['n23', 'n24'])
    await s.close()
  })

  it('refuses to store a generated secret that is not sealed', async () => {
    const s = await openStateStore(await tempDir())
    await expect(s.putGeneratedSecret('App/web', 'DB_PASSWORD', 'hunter2')).rejects.toThrow(/not sealed/)
    expect(s.getGeneratedSecret('App/web', 'DB_PASSWORD')).toBeUndefined()
    await s.close()
  })

  it('moves a corrupt state.json aside, starts empty and says so', async () => {
    const dir = await tempDir()
    const s0 = await openStateStore(dir)
    await s0.close()
    await writeFile(join(dir, 'state.json'), '{"statuses": {"App/x"')
    const s = await openStateStore(dir)
    expect(s.warnings[0]).toMatch(/not valid JSON; moved it to .*state\.json\.corrupt-/)
    expect(s.listStatus()).toEqual([])
    expect((await readdir(dir)).some((n) => n.startsWith('state.json.corrupt-'))).toBe(true)
    await s.close()
  })
})

describe('audit log', () => {
  it('appends JSON Lines, never rewrites, and redacts secret-looking values', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir)
    s.appendAudit({ action: 'POST /nodes/{node}/lxc', target: 'pve', key: 'App/web', result: 'ok', upid: 'UPID:pve:1' })
    s.appendAudit({ action: 'login', result: 'error', error: 'auth failed for password=hunter2 tokenSecret: abc-123' })
    const entries = await s.readAudit()
    expect(entries).toHaveLength(2)
    expect(entries[1].error).toBe('auth failed for password=(redacted) tokenSecret: (redacted)')
    await s.close()
    const text = await readFile(join(dir, 'audit.log'), 'utf8')
    expect(text.split('\n').filter(Boolean)).toHaveLength(2)
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('abc-123')
  })

  it('skips a torn last line after a crash and keeps later entries readable', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir)
    s.appendAudit({ action: 'a1', result: 'ok' })
    await s.close()
    await appendFile(join(dir, 'audit.log'), '{"time":"2026-01-01T00:00:00Z","action":"tor')
    const r = await openStateStore(dir)
    expect((await r.readAudit()).map((e) => e.action)).toEqual(['a1'])
    r.appendAudit({ action: 'a2', result: 'ok' })
    expect((await r.readAudit()).map((e) => e.action)).toEqual(['a1', 'a2'])
    expect((await r.readAudit({ limit: 1 })).map((e) => e.action)).toEqual(['a2'])
    await r.close()
  })
})
