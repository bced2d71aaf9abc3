/**
 * `ha.enabled` planned from the snapshot's `hastate` (pure), and a default `expose` that does
 * nothing without an appliance is said in the create plan.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { haChange } from '../../controllers/app/ha.js'
import type { AppObservation } from '../../controllers/app/observation.js'
import { planApp } from '../../controllers/app/plan.js'
import { buildPlan } from '../../src/plan/build.js'
import { renderPlan } from '../../src/plan/render.js'
import { app, clusterSpec } from './helpers.js'

const secrets = { resolve: async () => 'x', digest: (v: string) => createHmac('sha256', 'k').update(v).digest('hex') }
const ctx = { cluster: { spec: clusterSpec(), origin: 'test' }, set: { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [] }, secrets }

describe('haChange (pure)', () => {
  const cases: { name: string; reason: string; given: { enabled: boolean; state?: 'running' | 'stopped'; hastate?: string; haCreated?: boolean }; want: { before?: unknown; after?: unknown } | undefined }[] = [
    { name: 'enable', reason: 'ha.enabled with no resource adds one', given: { enabled: true }, want: { before: false, after: true } },
    { name: 'enabled and started', reason: 'a running app whose resource is started needs nothing (steady state: no write)', given: { enabled: true, hastate: 'started' }, want: undefined },
    { name: 'migrating', reason: 'a resource on its way to started (migrate) is not fought', given: { enabled: true, hastate: 'migrate' }, want: undefined },
    { name: 'stopped app', reason: 'the HA state follows spec.state: a stopped app wants a stopped resource', given: { enabled: true, state: 'stopped', hastate: 'started' }, want: { before: true, after: true } },
    { name: 'request_stop', reason: 'a resource already asked to stop counts as stopped for a stopped app', given: { enabled: true, state: 'stopped', hastate: 'request_stop' }, want: undefined },
    { name: 'disabled by hand', reason: 'a resource disabled behind our back is set back to the state that follows spec.state', given: { enabled: true, hastate: 'disabled' }, want: { before: true, after: true } },
    { name: 'ours, turned off', reason: 'a resource Proximity added goes when ha.enabled is false', given: { enabled: false, hastate: 'started', haCreated: true }, want: { before: true, after: false } },
    { name: 'foreign, turned off', reason: 'a resource an administrator added is never removed', given: { enabled: false, hastate: 'started' }, want: undefined },
    { name: 'off and absent', reason: 'the default: nothing to do, nothing read', given: { enabled: false }, want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const a = app('web', { ha: { enabled: c.given.enabled }, state: c.given.state ?? 'running' })
      const got = haChange(a, c.given.hastate, c.given.haCreated)
      if (c.want === undefined) expect(got).toBeUndefined()
      else expect(got).toMatchObject({ path: 'ha.enabled', impact: 'live', ...c.want })
    })
  }
})

describe('planApp: fields that need something else', () => {
  const nothing: AppObservation = { steady: false, extra: {}, notReady: [], now: 0 }

  it('a create with ha.enabled shows ha.enabled and the HA state', () => {
    const text = renderPlan(buildPlan(planApp(app('web', { ha: { enabled: true } }), nothing, ctx)))
    expect(text).toMatch(/\+ ha\.enabled: true/)
    expect(text).toContain('HA resource added (state started)')
  })

  it('a default expose without an appliance is shown as not published, not silently dropped', () => {
    const [act] = planApp(app('web', { expose: [{ port: 8080, tls: 'internal' }] }), nothing, ctx)
    expect(act.changes.find((c) => c.path === 'expose')).toMatchObject({ after: 'port 8080 not published' })
    expect(renderPlan(buildPlan([act]))).toContain('needs network.appliance')
  })
})
