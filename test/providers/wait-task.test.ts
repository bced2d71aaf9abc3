import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PveEngine } from '../../src/providers/proxmox/engine.js'
import { PveAbortError, PveApiError, PveTaskError, PveTaskTimeoutError } from '../../src/providers/proxmox/errors.js'
import { waitForTask } from '../../src/providers/proxmox/wait-task.js'
import { fail, ok, startFakePve, type FakePve } from './fake-pve.js'

const UPID = 'UPID:pve:00000001:00000002:65B8F2A1:vzstart:101:root@pam!proximity:'
const BASE = `/nodes/pve/tasks/${UPID}`

let pve: FakePve
let engine: PveEngine

beforeAll(async () => {
  pve = await startFakePve()
  engine = new PveEngine({ endpoint: pve.endpoint, tls: { fingerprint: pve.fingerprint }, auth: { tokenId: 'root@pam!proximity', tokenSecret: 's-e-c-r-e-t' }, retry: { retries: 0 } })
})
afterAll(async () => {
  await engine.close()
  await pve.close()
})
beforeEach(() => {
  pve.requests.length = 0
})

/** A task that runs for `runningPolls` polls, then stops with `exitstatus`; its log has `lines` lines. */
function task(runningPolls: number, exitstatus: string, lines = 3) {
  let polls = 0
  pve.route('GET', `${BASE}/status`, (_req, res) => {
    polls++
    const stopped = polls > runningPolls
    ok(res, { upid: UPID, node: 'pve', type: 'vzstart', id: '101', user: 'root@pam', tokenid: 'proximity', starttime: 1, status: stopped ? 'stopped' : 'running', ...(stopped ? { exitstatus } : {}) })
  })
  const log = Array.from({ length: lines }, (_, i) => ({ n: i + 1, t: i === lines - 1 ? `TASK ${exitstatus === 'OK' ? 'OK' : `ERROR: ${exitstatus}`}` : `line ${i + 1}` }))
  pve.route('GET', `${BASE}/log`, (req, res) => {
    const start = Number(req.query.get('start') ?? 0)
    const limit = Number(req.query.get('limit') ?? 50)
    ok(res, log.slice(start, limit === 0 ? undefined : start + limit), { total: log.length })
  })
  return { polls: () => polls }
}

describe('waitForTask', () => {
  it.each([
    { exitstatus: 'OK', reason: 'plain success' },
    { exitstatus: 'WARNINGS: 2', reason: 'warnings count as success (trap 7)' },
  ])('resolves for $exitstatus after polling a running task', async ({ exitstatus }) => {
    const t = task(2, exitstatus)
    const seen: string[] = []
    await expect(waitForTask(engine, 'pve', UPID, { pollMs: 5, onProgress: (s) => seen.push(s.status) })).resolves.toEqual({ upid: UPID, exitstatus })
    expect(t.polls()).toBe(3)
    expect(seen).toEqual(['running', 'running', 'stopped'])
  })

  it('backs off while a task keeps running: few polls for a long task, however short pollMs is', async () => {
    // Runs for 1.2 s of wall time. Polling every 20 ms would take ~60 polls; growing by half per
    // poll (20, 30, 45 … ms, capped at 1 s) takes about 10. A slow machine only means fewer polls.
    const endsAt = Date.now() + 1200
    let polls = 0
    pve.route('GET', `${BASE}/status`, (_req, res) => {
      polls++
      const stopped = Date.now() >= endsAt
      ok(res, { upid: UPID, node: 'pve', type: 'vzstart', id: '101', user: 'root@pam', starttime: 1, status: stopped ? 'stopped' : 'running', ...(stopped ? { exitstatus: 'OK' } : {}) })
    })
    await expect(waitForTask(engine, 'pve', UPID, { pollMs: 20 })).resolves.toMatchObject({ exitstatus: 'OK' })
    expect(polls).toBeGreaterThanOrEqual(2)
    expect(polls).toBeLessThanOrEqual(15)
  })

  it('rejects a failed task with PveTaskError carrying the last 20 log lines', async () => {
    task(0, 'CT is locked (backup)', 30)
    const err = await waitForTask(engine, 'pve', UPID, { pollMs: 5 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PveTaskError)
    const te = err as PveTaskError
    expect(te).toMatchObject({ upid: UPID, node: 'pve', type: 'vzstart', exitstatus: 'CT is locked (backup)' })
    expect(te.isLocked()).toBe(true)
    expect(te.logTail).toHaveLength(20)
    expect(te.logTail[0]).toBe('line 11')
    expect(te.logTail[19]).toBe('TASK ERROR: CT is locked (backup)')
  })

  it('tolerates an early 400 "no such task" for a fresh UPID', async () => {
    let calls = 0
    pve.route('GET', `${BASE}/status`, (_req, res) =>
      ++calls <= 2
        ? fail(res, 400, 'Parameter verification failed.', { upid: 'no such task' })
        : ok(res, { upid: UPID, node: 'pve', type: 'vzstart', id: '101', user: 'root@pam', starttime: 1, status: 'stopped', exitstatus: 'OK' }),
    )
    await expect(waitForTask(engine, 'pve', UPID, { pollMs: 5 })).resolves.toMatchObject({ exitstatus: 'OK' })
    expect(calls).toBe(3)
  })

  it('gives up on "no such task" after the grace period', async () => {
    pve.route('GET', `${BASE}/status`, (_req, res) => fail(res, 400, 'Parameter verification failed.', { upid: 'no such task' }))
    let clock = 0
    const err = await waitForTask(engine, 'pve', UPID, { pollMs: 1, notFoundGraceMs: 1000 }, () => (clock += 400)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PveApiError)
    expect((err as PveApiError).isNotFound()).toBe(true)
  })

  it('times out with a transient PveTaskTimeoutError (clock injected)', async () => {
    task(1_000_000, 'OK')
    let clock = 0
    const err = await waitForTask(engine, 'pve', UPID, { pollMs: 1, timeoutMs: 5000 }, () => (clock += 1000)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PveTaskTimeoutError)
    expect(err).not.toBeInstanceOf(PveTaskError)
    expect((err as PveTaskTimeoutError).upid).toBe(UPID)
  })

  it('stops waiting when the signal aborts', async () => {
    task(1_000_000, 'OK')
    const ctrl = new AbortController()
    const p = waitForTask(engine, 'pve', UPID, { pollMs: 10_000, signal: ctrl.signal, onProgress: () => ctrl.abort() })
    await expect(p).rejects.toBeInstanceOf(PveAbortError)
  })
})
