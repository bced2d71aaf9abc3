import { describe, expect, it } from 'vitest'
import { nextStatus, type Attempt } from '../../src/runtime/status.js'

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
})
