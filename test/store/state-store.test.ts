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
    expect((await stat(join(dir, 'state.json'))).mode & 0o777).toBe(0o600)
    const r = await openStateStore(dir)
    expect(r.getStatus('App/web')?.extra).toEqual({ ip: '10.0.0.5' })
    expect(r.listStatus('App').map((x) => x.key)).toEqual(['App/db', 'App/web'])
    expect(r.listStatus().length).toBe(3)
    expect(r.listEvents({ key: 'App/web' })).toMatchObject([{ reason: 'Created', message: 'created guest 101' }])
    expect(r.getGeneratedSecret('App/web', 'DB_PASSWORD')).toBe(SEALED)
    r.deleteStatus('App/db')
    await r.close()
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).statuses['App/db']).toBeUndefined()
  })

  it('returns copies: mutating a returned status does not change the store', async () => {
    const s = await openStateStore(await tempDir())
    s.putStatus(status('web'))
    const got = s.getStatus('App/web') as ObjectStatus
    got.generation = 99
    expect(s.getStatus('App/web')?.generation).toBe(1)
    await s.close()
  })

  it('batches many mutations into few writes and flush() makes them durable', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { batchMs: 50 })
    for (let i = 0; i < 200; i++) s.putStatus(status(`a${i}`))
    // Nothing written yet: the batch window has not elapsed.
    await expect(readFile(join(dir, 'state.json'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
    await s.flush()
    expect(Object.keys(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).statuses)).toHaveLength(200)
    await s.close()
  })

  it('flushes pending creates before resolving', async () => {
    const dir = await tempDir()
    const s = await openStateStore(dir, { batchMs: 60_000 })
    await s.putPendingCreate({ key: 'App/web', vmid: 101, node: 'pve', startedAt: '2026-01-01T00:00:00.000Z' })
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).pendingCreates['App/web'].vmid).toBe(101)
    expect(s.listPendingCreates()).toHaveLength(1)
    await s.clearPendingCreate('App/web')
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).pendingCreates).toEqual({})
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
