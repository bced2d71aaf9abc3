import { describe, expect, it } from 'vitest'
import { createReconciler, type ReconcilerOptions } from '../../src/runtime/reconciler.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { MassDeleteRefusedError } from '../../src/runtime/prune-guard.js'
import type { RuntimeLogger } from '../../src/runtime/logger.js'
import { app, fakeAppController, fixture, orphan } from './fake-kind.js'

const fast: ReconcilerOptions = { backoff: { baseMs: 1, maxMs: 5 }, workers: 4 }

async function setup(options: ReconcilerOptions = fast) {
  const f = await fixture()
  const logged: { message: string; err?: unknown }[] = []
  const warned: string[] = []
  const logger: RuntimeLogger = { error: (message, err) => logged.push({ message, err }), warn: (m) => warned.push(m), info: () => {} }
  const rec = createReconciler({ controllers: [fakeAppController(f.far)], store: f.store, manifests: () => f.set, context: f.context, logger, options })
  return { ...f, rec, logged, warned }
}

describe('reconciler runOnce', () => {
  it('retries transient errors with backoff until Ready and records it all in status', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.faults.set('web', [new TransientError('proxmox answered 503'), new TransientError('proxmox answered 503')])
    const out = await t.rec.runOnce(['App/web'])
    expect(out.get('App/web')).toMatchObject({ result: 'Ready', attempts: 3, changed: ['create memory=512'] })
    const s = t.store.getStatus('App/web')!
    expect(s.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Succeeded', observedGeneration: 1 })])
    expect(s).toMatchObject({ generation: 1, observedGeneration: 1, lastAppliedRevision: 'local@sha256:1', inventory: { vmid: 100, node: 'pve' } })
    // Two identical failures collapse into one history entry.
    expect(s.history.map((h) => h.result)).toEqual(['Succeeded', 'Failed'])
    expect(t.store.listEvents({ key: 'App/web' }).map((e) => `${e.type}:${e.reason}`)).toEqual(['Warning:ProgressingWithRetry', 'Normal:Applied', 'Normal:Succeeded'])
    expect((await t.store.readAudit()).map((a) => [a.action, a.key, a.revision])).toEqual([['POST /nodes/{node}/lxc', 'App/web', 'local@sha256:1']])
  })

  it('keeps controller memory recorded before a failure, on transient and stalled exits alike', async () => {
    const t = await setup()
    t.set.apps.push(app('web'), app('db'))
    t.far.faults.set('web', [new TransientError('proxmox answered 503'), new TransientError('proxmox answered 503')])
    t.far.faults.set('db', [new StalledError('InvalidConfig', 'bad memory value')])
    await t.rec.runOnce(['App/web'], { maxAttempts: 1 })
    expect(t.store.getStatus('App/web')?.extra).toEqual({ applyCalls: 1 })
    await t.rec.runOnce(['App/db'])
    expect(t.store.getStatus('App/db')).toMatchObject({ extra: { applyCalls: 2 }, conditions: expect.arrayContaining([expect.objectContaining({ type: 'Stalled', reason: 'InvalidConfig' })]) })
  })

  it('honours a wait stated by plan: Waiting with its reason, apply never called', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.waits.set('web', { reason: 'DependencyNotReady', message: 'appliance edge is not available yet', requeueAfterMs: 60_000 })
    const out = await t.rec.runOnce(['App/web'], { deadlineMs: 0 })
    expect(out.get('App/web')).toMatchObject({ result: 'Waiting', reason: 'DependencyNotReady' })
    expect(t.far.calls.apply).toBe(0)
    expect(t.store.getStatus('App/web')?.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Ready=False:DependencyNotReady', 'Reconciling=True:DependencyNotReady'])
  })

  it('warns once about a progress phase the controller did not declare, and still shows it', async () => {
    const t = await setup()
    t.set.apps.push(app('web'), app('db'))
    t.far.phases = ['resizing', 'frobbing']
    await t.rec.runOnce(['App/web', 'App/db'])
    expect(t.warned).toEqual(['controller App reported progress phase "frobbing", which it does not declare in its phases'])
  })

  it('gives a Stalled key one new attempt when the manifest set changes (a fix outside its own spec)', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.faults.set('web', [new StalledError('SshHostKeyMismatch', 'expected SHA256:a, offered SHA256:b'), new StalledError('SshHostKeyMismatch', 'expected SHA256:a, offered SHA256:b')])
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Stalled')
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Stalled')
    expect(t.far.calls.apply).toBe(1) // same spec, same revision: not tried again
    t.setRevision('local@sha256:2') // e.g. the Cluster manifest got the right host key, but still fails
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Stalled')
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Stalled')
    expect(t.far.calls.apply).toBe(2) // one attempt per new revision, no loop
    t.setRevision('local@sha256:3')
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Ready')
  })

  it('gives up after maxAttempts with Failed and Ready=False ProgressingWithRetry', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.faults.set('web', Array.from({ length: 5 }, () => new TransientError("can't lock file '/run/lock/lxc/pve-config-100.conf' - got timeout")))
    const out = await t.rec.runOnce(['App/web'], { maxAttempts: 3 })
    expect(out.get('App/web')).toMatchObject({ result: 'Failed', attempts: 3 })
    expect(out.get('App/web')?.message).toMatch(/^gave up after 3 attempts: can't lock file/)
    const s = t.store.getStatus('App/web')!
    expect(s.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual(['Ready=False:ProgressingWithRetry', 'Reconciling=True:ProgressingWithRetry'])
    expect(s.lastAppliedRevision).toBeUndefined()
    expect(s.lastAttemptedRevision).toBe('local@sha256:1')
  })

  it('logs a bug with its stack, keeps the stack out of status, and retries it', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.faults.set('web', [new TypeError("cannot read properties of undefined (reading 'vmid')")])
    const out = await t.rec.runOnce(['App/web'])
    expect(out.get('App/web')).toMatchObject({ result: 'Ready', attempts: 2 })
    expect(t.logged).toHaveLength(1)
    expect((t.logged[0].err as Error).stack).toContain('TypeError')
    const failed = t.store.getStatus('App/web')!.history[1]
    expect(failed).toMatchObject({ result: 'Failed', message: "unexpected error: cannot read properties of undefined (reading 'vmid')" })
    expect(JSON.stringify(t.store.getStatus('App/web'))).not.toContain('at ')
  })

  it('requeues a waiting key and runs it as soon as its dependency is Ready', async () => {
    const t = await setup()
    t.set.apps.push(app('web', 512, ['db']), app('db'))
    // WaitingError asks for 60 s; the test would time out if the dependency nudge did not work.
    const out = await t.rec.runOnce(['App/web', 'App/db'])
    expect(out.get('App/db')?.result).toBe('Ready')
    expect(out.get('App/web')?.result).toBe('Ready')
    expect(t.store.getStatus('App/web')!.history.map((h) => h.result)).toEqual(['Succeeded', 'Waiting'])
  }, 10_000)

  it('ends a key waiting on a dependency that stalled at once, naming it (no wait until the deadline)', async () => {
    const t = await setup()
    t.set.apps.push(app('web', 512, ['db']), app('db'))
    t.far.faults.set('db', [new StalledError('InvalidTemplate', 'template alpine-9 not found')])
    // The wait asks for 60 s and the deadline is 15 min: the test would time out without the early end.
    const out = await t.rec.runOnce(['App/web', 'App/db'])
    expect(out.get('App/db')).toMatchObject({ result: 'Stalled' })
    expect(out.get('App/web')).toMatchObject({ result: 'Waiting', reason: 'DependencyNotReady' })
    expect(out.get('App/web')?.message).toBe('App/web cannot become Ready in this run: App/db ended Stalled (InvalidTemplate: template alpine-9 not found); fix it and re-run')
  }, 10_000)

  it('ends a key waiting on a dependency that is not Ready and not part of the run', async () => {
    const t = await setup()
    t.set.apps.push(app('web', 512, ['db']), app('db'))
    const out = await t.rec.runOnce(['App/web'])
    expect(out.get('App/web')?.message).toBe('App/web cannot become Ready in this run: App/db is not Ready and nothing in this run will make it Ready; fix it and re-run')
    expect(t.far.calls.apply).toBe(0)
  }, 10_000)

  it('gives up on a waiting key at the deadline and says why', async () => {
    const t = await setup()
    t.set.apps.push(app('web', 512, ['missing']))
    const out = await t.rec.runOnce(['App/web'], { deadlineMs: 30 })
    expect(out.get('App/web')).toMatchObject({ result: 'Waiting', reason: 'DependencyNotReady' })
    expect(out.get('App/web')?.message).toMatch(/^gave up after the deadline: waiting for App\/missing/)
    const s = t.store.getStatus('App/web')!
    expect(s.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'DependencyNotReady' })
  })

  it('does not retry a Stalled key until its spec changes (or force)', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    t.far.faults.set('web', [new StalledError('InvalidTemplate', 'template alpine-9 not found on storage local; set spec.template')])
    expect((await t.rec.runOnce(['App/web'])).get('App/web')).toMatchObject({ result: 'Stalled', attempts: 1, reason: 'InvalidTemplate' })
    const s = t.store.getStatus('App/web')!
    expect(s.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=False', 'Stalled=True'])
    const applies = t.far.calls.apply
    expect((await t.rec.runOnce(['App/web'])).get('App/web')?.result).toBe('Stalled')
    expect(t.far.calls.apply).toBe(applies)
    t.set.apps[0] = app('web', 1024)
    const out = await t.rec.runOnce(['App/web'])
    expect(out.get('App/web')?.result).toBe('Ready')
    const after = t.store.getStatus('App/web')!
    expect(after).toMatchObject({ generation: 2, observedGeneration: 2 })
    expect(after.conditions.map((c) => c.type)).toEqual(['Ready'])
  })

  it('writes no events and no new history entries on no-op resyncs', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    await t.rec.runOnce(['App/web'])
    const events = t.store.listEvents().length
    const first = t.store.getStatus('App/web')!
    for (let i = 0; i < 3; i++) await t.rec.runOnce(['App/web'])
    const s = t.store.getStatus('App/web')!
    expect(t.store.listEvents().length).toBe(events)
    expect(s.history).toHaveLength(1)
    expect(s.conditions[0].lastTransitionTime).toBe(first.conditions[0].lastTransitionTime)
    expect(s.generation).toBe(1)
  })

  it('keeps the newest 10 history entries', async () => {
    const t = await setup()
    t.set.apps.push(app('web'))
    for (let i = 1; i <= 12; i++) {
      t.set.apps[0] = app('web', 256 * i)
      await t.rec.runOnce(['App/web'])
    }
    const s = t.store.getStatus('App/web')!
    expect(s.history).toHaveLength(10)
    expect(s.history[0].specHash).toBe('hash-3072')
    expect(s.history[9].specHash).toBe('hash-768')
    expect(s.generation).toBe(12)
  })

  it('skips keys without a controller or manifest and leaves orphans alone without prune', async () => {
    const t = await setup()
    t.far.orphans = [orphan('old', 120)]
    const out = await t.rec.runOnce(['Cluster/home', 'App/gone', 'App/old'])
    expect([...out.values()].map((o) => `${o.key}:${o.result}:${o.reason}`)).toEqual(
      expect.arrayContaining(['Cluster/home:Skipped:NoController', 'App/gone:Skipped:NotFound', 'App/old:Skipped:PruneDisabled']),
    )
    expect(t.far.calls.finalize).toBe(0)
  })
})

describe('reconciler prune and guard', () => {
  it('refuses a prune above the threshold before doing anything', async () => {
    const t = await setup()
    t.set.apps.push(app('keep'))
    t.far.orphans = Array.from({ length: 7 }, (_, i) => orphan(`old${i}`, 200 + i))
    const err = await t.rec.runOnce(['App/keep'], { prune: true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MassDeleteRefusedError)
    expect((err as Error).message).toMatch(/^refusing to delete 7 Apps \(App\/old0, .* and 2 more\): more than the limit of 5/)
    expect(t.far.calls).toEqual({ observe: 0, apply: 0, finalize: 0 })
    expect(t.store.listStatus()).toEqual([])
  })

  it('refuses to delete every managed guest of a kind', async () => {
    const t = await setup()
    t.far.orphans = [orphan('a', 101)]
    await expect(t.rec.runOnce([], { prune: true })).rejects.toThrow(/refusing to delete every managed App \(App\/a\): the manifests define none/)
    expect(t.far.calls.finalize).toBe(0)
  })

  it('finalizes orphans with prune when allowed, removing their status', async () => {
    const t = await setup()
    t.set.apps.push(app('keep'))
    t.far.orphans = [orphan('old', 120), orphan('older', 121)]
    t.far.guests.set('old', { memory: 1, vmid: 120 })
    t.store.putStatus({ key: 'App/old', kind: 'App', name: 'old', generation: 1, observedGeneration: 1, conditions: [], history: [], createdAt: 'x', updatedAt: 'x' })
    const out = await t.rec.runOnce(['App/keep'], { prune: true })
    expect(out.get('App/old')).toMatchObject({ result: 'Deleted', message: 'deleted guest 120 on pve' })
    expect(out.get('App/older')?.result).toBe('Deleted')
    expect(t.far.guests.has('old')).toBe(false)
    expect(t.store.getStatus('App/old')).toBeUndefined()
    expect(t.store.listEvents({ key: 'App/old' }).map((e) => e.reason)).toEqual(['Deleted'])
  })
})

describe('reconciler plan', () => {
  it('observes and plans without applying or writing status, and reports a refused prune', async () => {
    const t = await setup()
    t.set.apps.push(app('web'), app('db', 256, ['nope']))
    t.far.orphans = [orphan('x1', 1), orphan('x2', 2), orphan('x3', 3), orphan('x4', 4), orphan('x5', 5), orphan('x6', 6)]
    const report = await t.rec.plan(['App/web', 'App/db'], { prune: true })
    expect(report.entries.find((e) => e.key === 'App/web')?.actions.map((a) => a.type)).toEqual(['create'])
    expect(report.entries.find((e) => e.key === 'App/db')?.error).toMatchObject({ kind: 'waiting', reason: 'DependencyNotReady' })
    expect(report.deletions.map((d) => d.actions[0].summary)).toContain('delete guest 1 on pve')
    expect(report.refusal).toMatch(/^refusing to delete 6 Apps/)
    expect(t.far.calls.apply).toBe(0)
    expect(t.store.listStatus()).toEqual([])
  })
})

describe('reconciler loop', () => {
  it('converges queued keys in the background and stops cleanly', async () => {
    const t = await setup({ ...fast, resyncMs: 60_000 })
    t.set.apps.push(app('web'))
    t.far.faults.set('web', [new TransientError('connection reset')])
    t.rec.start()
    while (t.store.getStatus('App/web')?.conditions[0].status !== 'True') await new Promise((r) => setTimeout(r, 2))
    t.set.apps.push(app('api'))
    t.rec.enqueue('App/api')
    while (t.store.getStatus('App/api')?.conditions[0].status !== 'True') await new Promise((r) => setTimeout(r, 2))
    expect(t.rec.metrics().retries).toBe(1)
    await t.rec.stop()
    expect(t.rec.metrics().adds).toBe(0)
    expect(() => t.rec.enqueue('bad key')).toThrow(/invalid object key/)
  })
})

describe('reconciler loop passes and triggers', () => {
  it('takes one pass context (one snapshot) per resync and per batch of keys, not one per key', async () => {
    const f = await fixture()
    let contexts = 0
    const rec = createReconciler({
      controllers: [fakeAppController(f.far)], store: f.store, manifests: () => f.set, options: { ...fast, resyncMs: 60_000 },
      context: async () => {
        contexts++
        return f.context()
      },
    })
    f.set.apps.push(app('a'), app('b'), app('c'), app('d'))
    rec.start()
    const ready = (k: string): boolean => f.store.getStatus(k)?.conditions[0].status === 'True'
    while (!['App/a', 'App/b', 'App/c', 'App/d'].every(ready)) await new Promise((r) => setTimeout(r, 2))
    expect(contexts).toBe(1)
    f.set.apps.push(app('e'), app('f'))
    await rec.enqueueAll(['App/e', 'App/f'])
    while (!['App/e', 'App/f'].every(ready)) await new Promise((r) => setTimeout(r, 2))
    expect(contexts).toBe(2)
    await rec.stop()
  })

  it('re-queues the keys a controller declares when their dependency becomes Ready', async () => {
    const t = await setup({ ...fast, resyncMs: 60_000 })
    // web waits on db with a 60 s requeue; db first fails once. Only the trigger brings web back in time.
    t.set.apps.push(app('web', 512, ['db']), app('db'))
    t.far.faults.set('db', [new TransientError('connection reset')])
    t.rec.start()
    while (t.store.getStatus('App/web')?.conditions[0].status !== 'True') await new Promise((r) => setTimeout(r, 2))
    expect(t.store.getStatus('App/web')!.history.map((h) => h.result)).toEqual(['Succeeded', 'Waiting'])
    await t.rec.stop()
  }, 10_000)
})
