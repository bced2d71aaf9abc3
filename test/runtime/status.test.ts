import { describe, expect, it } from 'vitest'
import { createStatusRecorder, nextStatus, type Attempt } from '../../src/runtime/status.js'

const base: Attempt = {
  key: 'App/web', kind: 'App', name: 'web', specHash: 'h1', revision: 'main@sha1:aaa', outcome: 'success',
  result: { ready: true, reason: 'Succeeded', message: 'ok' }, startedAt: Date.UTC(2026, 0, 1), finishedAt: Date.UTC(2026, 0, 1) + 1500,
}

describe('nextStatus', () => {
  const cases: { name: string; reason: string; given: Partial<Attempt>; want: string[] }[] = [
    {
      name: 'health wait',
      reason: 'a success that polls (not ready + requeueAfterMs) shows Reconciling, not Stalled',
      given: { result: { ready: false, reason: 'HealthCheckFailed', message: 'waiting for /healthz', requeueAfterMs: 2000 } },
      want: ['Ready=False:HealthCheckFailed', 'Reconciling=True:Progressing'],
    },
    {
      name: 'suspended',
      reason: 'not ready without a requeue is a settled state: no Reconciling',
      given: { result: { ready: false, reason: 'Suspended', message: 'spec.suspend is true' } },
      want: ['Ready=False:Suspended'],
    },
    {
      name: 'bad reason from a controller',
      reason: 'a controller bug in a reason must not break status writes',
      given: { result: { ready: true, reason: 'all good', message: 'ok', conditions: [{ type: 'DnsReady', status: 'True', reason: 'dns ok', message: '' }] } },
      want: ['Ready=True:Succeeded', 'DnsReady=True:Unknown'],
    },
    {
      name: 'waiting',
      reason: 'a dependency wait carries its own reason on Ready and Reconciling',
      given: { outcome: 'waiting', result: undefined, reason: 'DependencyNotReady', message: 'waiting for App/db' },
      want: ['Ready=False:DependencyNotReady', 'Reconciling=True:DependencyNotReady'],
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const { status } = nextStatus(undefined, { ...base, ...c.given })
      expect(status.conditions.map((x) => `${x.type}=${x.status}:${x.reason}`)).toEqual(c.want)
    })
  }

  it('redacts secret-looking text from messages, history and events', () => {
    const { status, events } = nextStatus(undefined, { ...base, outcome: 'transient', result: undefined, message: 'login failed: password=hunter2' })
    expect(JSON.stringify({ status, events })).not.toContain('hunter2')
    expect(status.conditions[0].message).toBe('login failed: password=(redacted)')
  })

  it('bumps the generation only on a spec change and keeps lastAppliedRevision on failure', () => {
    const first = nextStatus(undefined, base).status
    const same = nextStatus(first, { ...base, revision: 'main@sha1:bbb' }).status
    expect(same.generation).toBe(1)
    const changed = nextStatus(same, { ...base, specHash: 'h2', revision: 'main@sha1:ccc', outcome: 'stalled', result: undefined, reason: 'DiskShrinkRefused', message: 'cannot shrink' }).status
    expect(changed).toMatchObject({ generation: 2, observedGeneration: 2, lastAppliedRevision: 'main@sha1:bbb', lastAttemptedRevision: 'main@sha1:ccc' })
    expect(changed.history.map((h) => h.result)).toEqual(['Stalled', 'Succeeded', 'Succeeded'])
  })

  const outcomes: { name: string; reason: string; given: Partial<Attempt> }[] = [
    { name: 'success', reason: 'the usual path', given: {} },
    { name: 'waiting', reason: 'a lock or dependency wait must not lose what the attempt learned', given: { outcome: 'waiting', result: undefined, reason: 'GuestLocked', message: 'locked' } },
    { name: 'transient', reason: 'a created guest whose next step failed must still be in the inventory', given: { outcome: 'transient', result: undefined, message: 'ssh dropped' } },
    { name: 'stalled', reason: 'a failed health gate records its condition and memory', given: { outcome: 'stalled', result: undefined, reason: 'HealthCheckFailed', message: 'not healthy' } },
    { name: 'bug', reason: 'even an unexpected error keeps the recorded facts', given: { outcome: 'bug', result: undefined, message: 'TypeError' } },
  ]
  for (const c of outcomes) {
    it(`keeps recorded conditions, memory and inventory on ${c.name}: ${c.reason}`, () => {
      const prev = nextStatus(undefined, { ...base, result: { ready: true, reason: 'Succeeded', message: 'ok', extra: { kept: 1, healthy: true }, inventory: { vmid: 100, node: 'pve' } } }).status
      const rec = createStatusRecorder()
      rec.inventory({ vmid: 101 })
      rec.remember({ healthy: false })
      rec.condition({ type: 'Healthy', status: 'False', reason: 'HealthCheckFailed', message: 'GET / answered 503' })
      rec.condition({ type: 'Ready', status: 'True', reason: 'Cheating', message: 'runtime-owned: ignored' })
      const { status } = nextStatus(prev, { ...base, ...c.given, recorded: rec.recorded() })
      expect(status.extra).toEqual({ kept: 1, healthy: false })
      expect(status.inventory).toEqual({ vmid: 101, node: 'pve' })
      expect(status.conditions.find((x) => x.type === 'Healthy')).toMatchObject({ status: 'False', reason: 'HealthCheckFailed', message: 'GET / answered 503' })
      expect(status.conditions.filter((x) => x.type === 'Ready').map((x) => x.reason)).not.toContain('Cheating')
    })
  }

  it('lets a successful result override what was recorded earlier in the same attempt', () => {
    const rec = createStatusRecorder()
    rec.remember({ healthy: false, phase: 'deploy' })
    rec.condition({ type: 'Healthy', status: 'False', reason: 'Starting', message: '' })
    const { status } = nextStatus(undefined, { ...base, result: { ready: true, reason: 'Succeeded', message: 'ok', extra: { healthy: true }, conditions: [{ type: 'Healthy', status: 'True', reason: 'HealthCheckPassed', message: '' }] }, recorded: rec.recorded() })
    expect(status.extra).toEqual({ healthy: true, phase: 'deploy' })
    expect(status.conditions.find((x) => x.type === 'Healthy')?.status).toBe('True')
  })
})
