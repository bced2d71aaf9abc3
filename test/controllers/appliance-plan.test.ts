import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { planAppliance } from '../../controllers/appliance/plan.js'
import { renderAppliance } from '../../controllers/appliance/desired.js'
import type { ApplianceObservation } from '../../controllers/appliance/observation.js'
import type { ApplianceManifest, ApplianceSpec } from '../../src/model/types.js'
import { buildPlan, renderPlan } from '../../src/plan/index.js'
import { app, clusterSpec, OWNER } from './helpers.js'

function appliance(over: Partial<ApplianceSpec> = {}): ApplianceManifest {
  const spec: ApplianceSpec = {
    wan: { bridge: 'vmbr0', ip: 'dhcp' },
    lan: { bridge: 'vmbr1', subnet: '10.44.0.0/24', gateway: '10.44.0.1', dhcpRange: { start: '10.44.0.100', end: '10.44.0.199' } },
    dns: { domain: 'home.arpa', upstream: ['1.1.1.1'], records: [] },
    proxy: { tls: 'internal' },
    nat: { masquerade: true, portForwards: [] },
    resources: { cores: 1, memory: 256, swap: 0, disk: 2 },
    ...over,
  }
  return { apiVersion: 'proximity/v1alpha1', kind: 'Appliance', metadata: { name: 'edge' }, spec, source: { file: 'edge.yaml', line: 1, column: 1 }, specHash: createHash('sha256').update(JSON.stringify(spec)).digest('hex') }
}

const edge = appliance()
const web = app('web', { network: { ip: 'dhcp', appliance: 'edge' }, expose: [{ port: 8080, tls: 'internal' }] })
const ctx = { cluster: { spec: clusterSpec(), origin: 'test' }, set: { apps: [web], appliances: [edge], backupPolicies: [], restores: [], roots: [] } }
const none: ApplianceObservation = { steady: false, bridges: [{ node: 'pve', state: 'missing', active: false, foreignPending: false }], current: {}, previous: {}, extra: {}, now: 0 }

describe('Appliance plan', () => {
  it('shows config files as one change per item, never their text', () => {
    const [a] = planAppliance(edge, none, ctx)
    expect(a.type).toBe('create')
    const text = renderPlan(buildPlan([a]))
    const ip = renderAppliance(edge, ctx.set, OWNER).network.apps[0].ip
    expect(text).toContain(`+ dnsmasq: "+ dhcp-host web ${ip}"`)
    expect(text).toContain(`+ caddy: "+ route web.home.arpa → ${ip}:8080"`)
    expect(text).toContain('+ lan.bridge: "vmbr1 on pve"')
    expect(text).not.toContain('rendered; do not edit')
    expect(text).not.toMatch(/\\n/)
  })

  it('a node with network changes Proximity did not make: wait, never apply them', () => {
    const [a] = planAppliance(edge, { ...none, bridges: [{ node: 'pve', state: 'missing', active: false, foreignPending: true }] }, ctx)
    expect(a.type).toBe('noop')
    expect(a.wait?.reason).toBe('ForeignNetworkChanges')
  })

  it('an existing bridge without our mark is used as it is (no bridge action)', () => {
    const [a] = planAppliance(edge, { ...none, bridges: [{ node: 'pve', state: 'foreign', active: true, foreignPending: false }] }, ctx)
    expect(a.detail?.bridges).toEqual([])
  })

  it('a LAN that cannot be rendered is a located, stalled error, not a crash', () => {
    const bad = app('db', { network: { ip: '10.99.0.5/24', appliance: 'edge' } })
    const [a] = planAppliance(edge, none, { ...ctx, set: { ...ctx.set, apps: [web, bad] } })
    expect(a.detail?.step).toBe('invalid')
    expect(a.summary).toContain('App/db spec.network.ip')
  })
})
