import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { mapProviderError } from '../../controllers/shared/call.js'
import { deployHash, desiredGuest, desiredNet0 } from '../../controllers/app/desired.js'
import { parseEnv, renderEnv } from '../../controllers/app/docker.js'
import { judgePs, parsePs } from '../../controllers/app/health.js'
import type { AppObservation } from '../../controllers/app/observation.js'
import { planApp } from '../../controllers/app/plan.js'
import { allocateVmid } from '../../controllers/lxc/vmid.js'
import { buildPlan } from '../../src/plan/build.js'
import { renderPlan } from '../../src/plan/render.js'
import { PveApiError, PveTaskError } from '../../src/providers/proxmox/errors.js'
import { SshError, SshHostKeyMismatchError } from '../../src/providers/ssh/errors.js'
import { failureOf, StalledError, TransientError, WaitingError, type Failure } from '../../src/runtime/errors.js'
import { app, clusterSpec } from './helpers.js'
import type { AppSpec } from '../../src/model/types.js'

const secrets = { resolve: async () => 'x', digest: (v: string) => createHmac('sha256', 'k').update(v).digest('hex') }
const ctx = { cluster: { spec: clusterSpec(), origin: 'test' }, set: { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [] }, secrets }
const nothing: AppObservation = { steady: false, extra: {}, notReady: [], now: 0 }

describe('planApp (pure)', () => {
  it('plans a create that renders as a Terraform-style block with secrets hidden', () => {
    const a = app('web', { secrets: { DB_PASSWORD: { generate: { length: 16 } } } })
    const actions = planApp(a, nothing, ctx)
    expect(actions.map((x) => x.type)).toEqual(['create'])
    const text = renderPlan(buildPlan(actions))
    expect(text).toContain('  # App/web will be created\n  + App/web\n      + env.GREETING: "hello"\n      + hostname: "web"\n')
    expect(text).toContain('      + secrets.DB_PASSWORD: (sensitive)\n')
    expect(text).toContain('Plan: 1 to add, 0 to change, 0 to destroy.')
  })

  const cases: { name: string; reason: string; given: { over?: Parameters<typeof app>[1]; obs?: Partial<AppObservation> }; want: { type: string; step: string } }[] = [
    { name: 'suspended', reason: 'suspend must stop all reconciling, even creation', given: { over: { suspend: true } }, want: { type: 'noop', step: 'suspended' } },
    { name: 'appliance', reason: 'appliance LANs arrive in a later issue: wait, never create on the wrong network', given: { over: { network: { ip: 'dhcp', appliance: 'edge' } } }, want: { type: 'noop', step: 'wait' } },
    { name: 'dependency', reason: 'dependsOn not Ready: nothing planned', given: { over: { dependsOn: ['db'] }, obs: { notReady: [{ name: 'db' }] } }, want: { type: 'noop', step: 'wait' } },
    { name: 'steady', reason: 'the fast path is converged', given: { obs: { steady: true, guest: { vmid: 100, node: 'pve', status: 'running' } } }, want: { type: 'noop', step: 'in-sync' } },
    { name: 'restoring', reason: 'a Restore acting on the guest must not see it started or re-deployed under it', given: { obs: { restoring: true, guest: { vmid: 100, node: 'pve', status: 'stopped' } } }, want: { type: 'noop', step: 'wait' } },
    { name: 'creating', reason: 'a create task still holding lock:create is waited for, not repeated', given: { obs: { creating: true, guest: { vmid: 100, node: 'pve', status: 'unknown', lock: 'create' } } }, want: { type: 'noop', step: 'await-create' } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const [a] = planApp(app('web', c.given.over), { ...nothing, ...c.given.obs }, ctx)
      expect(a.type).toBe(c.want.type)
      expect(a.detail?.step).toBe(c.want.step)
    })
  }

  it('plans a deploy change (sensitive with secrets) when only the compose/env/secrets changed', () => {
    const a = app('web', { secrets: { TOKEN: { env: 'TOKEN' } } })
    const cfg = { ...desiredGuest(a, clusterSpec(), { markerSpecHash: 'old' }).config, digest: 'd', rootfs: 'local-lvm:vm-100-disk-0,size=8G' }
    const obs: AppObservation = { ...nothing, guest: { vmid: 100, node: 'pve', status: 'running', config: cfg, digest: 'd' }, extra: { appliedSpecHash: 'old', deployHash: 'previous', healthy: true } }
    const [act] = planApp(a, obs, ctx)
    expect(act.type).toBe('update')
    // No summary of the previous deploy is stored: one line names the images that will run.
    expect(act.changes).toHaveLength(1)
    expect(act.changes[0]).toMatchObject({ path: 'deploy', impact: 'restart', note: 'previous deploy not recorded: compose and .env are pushed again' })
    expect(String(act.changes[0]!.after)).toContain(String((a.spec.source.compose.services as Record<string, { image: string }>).web!.image))
    const same = { ...obs, extra: { appliedSpecHash: 'old', deployHash: deployHash(a, secrets.digest), healthy: true } }
    const [marker] = planApp(a, same, ctx)
    expect([marker.type, marker.detail?.step]).toEqual(['noop', 'write-marker'])
  })

  it('says how a running app is updated, per update.strategy, and plans no retry of a rolled-back spec', () => {
    const cases: { update: AppSpec['update']; note: string }[] = [
      { update: { strategy: 'snapshot', rollback: true, healthTimeout: 1000 }, note: 'update (snapshot first, rolls back on failure)' },
      { update: { strategy: 'backup', rollback: true, healthTimeout: 1000 }, note: 'update (backup first, rolls back on failure)' },
      { update: { strategy: 'snapshot', rollback: false, healthTimeout: 1000 }, note: 'update (snapshot first, no rollback: update.rollback false)' },
      { update: { strategy: 'none', rollback: true, healthTimeout: 1000 }, note: 'update (no snapshot: update.strategy none)' },
    ]
    for (const c of cases) {
      const a = app('web', { update: c.update })
      const cfg = { ...desiredGuest(a, clusterSpec(), { markerSpecHash: 'old' }).config, digest: 'd', rootfs: 'local-lvm:vm-100-disk-0,size=8G' }
      const obs: AppObservation = { ...nothing, guest: { vmid: 100, node: 'pve', status: 'running', config: cfg, digest: 'd' }, extra: { appliedSpecHash: 'old', deployHash: 'previous', healthy: true } }
      const [act] = planApp(a, obs, ctx)
      expect(act.summary).toBe(`guest 100 on pve: ${c.note}`)
      expect(act.detail).toMatchObject({ step: 'update', protect: true })
      const rolled = { ...obs, extra: { ...obs.extra, rolledBack: { specHash: a.specHash, revision: 'main@sha1:abc', reason: 'not healthy', at: 1 } } }
      expect(planApp(a, rolled, ctx)[0]).toMatchObject({ type: 'noop', detail: { step: 'rolled-back' } })
    }
  })
})

describe('planApp: template changes', () => {
  const a = (template?: string) => app('web', template ? { template } : {})
  const observed = (templateSpec: string): AppObservation => {
    const cfg = { ...desiredGuest(a(), clusterSpec(), { markerSpecHash: 'h' }).config, digest: 'd', rootfs: 'local-lvm:vm-100-disk-0,size=8G' }
    return { ...nothing, guest: { vmid: 100, node: 'pve', status: 'running', config: cfg, digest: 'd', marker: { kind: 'App', name: 'web', owner: 'o', specHash: 'h' } }, extra: { appliedSpecHash: 'h', templateSpec, deployHash: deployHash(a(), secrets.digest), healthy: true } }
  }
  const cases: { name: string; reason: string; given: { template?: string; had: string }; want: string }[] = [
    { name: 'explicit change', reason: 'a new spec.template only takes effect by re-creating the guest', given: { template: 'debian-12', had: 'alpine-3.22' }, want: 'replace' },
    { name: 'cluster default moved', reason: 'a new Cluster default must not replace (or stall) existing guests', given: { had: 'alpine-3.21' }, want: 'noop' },
    { name: 'same explicit template', reason: 'no change, no action', given: { template: 'alpine-3.22', had: 'alpine-3.22' }, want: 'noop' },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const [act] = planApp(a(c.given.template), observed(c.given.had), ctx)
      expect(act.type).toBe(c.want)
    })
  }
})

describe('desired config and helpers', () => {
  it('builds net0 with a static address and gateway', () => {
    expect(desiredNet0(app('web', { network: { ip: '10.0.0.5/24', gateway: '10.0.0.1', bridge: 'vmbr1' } }), clusterSpec())).toBe('name=eth0,bridge=vmbr1,ip=10.0.0.5/24,gw=10.0.0.1')
  })

  it('allocates the lowest free vmid in range, skipping foreign and pending ones', () => {
    expect(allocateVmid({ min: 100, max: 105 }, [100, 101, 103])).toBe(102)
    expect(() => allocateVmid({ min: 100, max: 101 }, [100, 101])).toThrow(StalledError)
  })

  it('renders .env single-quoted when literal suffices, double-quoted with escapes otherwise, and reads it back', () => {
    const values = { B: "it's $HOME", A: 'x $y #z', C: 'ends with \\', D: 'two\nlines', E: '' }
    const text = renderEnv('web', values)
    expect(text).toBe("A='x $y #z'\nB=\"it's \\$HOME\"\nC=\"ends with \\\\\"\nD=\"two\\nlines\"\nE=''\n")
    expect(parseEnv(text)).toEqual(values)
    expect(() => renderEnv('web', { 'BAD-KEY': 'x' })).toThrow(/not a valid variable name/)
    expect(() => renderEnv('web', { K: 'a\u0000b' })).toThrow(/NUL/)
  })

  it('judges compose ps output (JSON lines and arrays)', () => {
    const lines = '{"Service":"web","Name":"w-web-1","State":"running","Health":"healthy"}\n{"Service":"db","Name":"w-db-1","State":"exited","ExitCode":1,"Health":""}\n'
    expect(judgePs(parsePs(lines), ['web', 'db'])).toEqual({ healthy: false, detail: 'w-db-1 is exited (1)' })
    expect(judgePs(parsePs('[{"Service":"web","State":"running","Health":""}]'), ['web']).healthy).toBe(true)
    expect(judgePs(parsePs(''), ['web'])).toEqual({ healthy: false, detail: 'no containers yet' })
  })
})

describe('mapProviderError: no raw provider error escapes a controller', () => {
  const http = (status: number, reason: string): PveApiError => new PveApiError({ kind: 'http', status, reason, message: reason.toLowerCase(), method: 'PUT', pathTemplate: '/nodes/{node}/lxc/{vmid}/config' })
  const FP_PINNED = 'SHA256:' + 'A'.repeat(43)
  const FP_OFFERED = 'SHA256:' + 'B'.repeat(43)
  const cases: { name: string; reason: string; given: unknown; want: { type: unknown; reason?: string; failure?: Failure; says?: string[] } }[] = [
    { name: 'backup lock', reason: 'a guest locked by a backup is waited for, not retried hot', given: http(500, 'CT is locked (backup)'), want: { type: WaitingError, reason: 'GuestLocked' } },
    { name: 'lock timeout', reason: 'flock contention is transient', given: http(500, "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout"), want: { type: TransientError } },
    { name: 'network', reason: 'no answer: retry with backoff', given: new PveApiError({ kind: 'network', status: 0, reason: 'ECONNRESET', message: 'connection reset', method: 'GET', pathTemplate: '/version' }), want: { type: TransientError } },
    { name: 'permission', reason: 'needs a person', given: http(403, 'Permission check failed'), want: { type: StalledError, reason: 'PermissionDenied' } },
    { name: 'validation', reason: 'a bad parameter will not fix itself', given: new PveApiError({ kind: 'http', status: 400, reason: 'Parameter verification failed.', errors: { memory: 'value must be at least 16' }, message: 'bad', method: 'PUT', pathTemplate: '/x' }), want: { type: StalledError, reason: 'InvalidConfig' } },
    { name: 'task lock', reason: 'a start task failing on a lock waits', given: new PveTaskError({ upid: 'UPID:x', node: 'pve', type: 'vzstart', exitstatus: 'CT is locked (backup)', logTail: [] }), want: { type: WaitingError, reason: 'GuestLocked' } },
    { name: 'task failure', reason: 'other task failures need a person; callers tell them apart by the typed failure, not the reason text', given: new PveTaskError({ upid: 'UPID:x', node: 'pve', type: 'vzstart', exitstatus: 'startup for container failed', logTail: [] }), want: { type: StalledError, reason: 'TaskFailed', failure: 'task-failed' } },
    { name: 'not found', reason: '"does not exist" is classified once, so finalize can treat it as already gone', given: http(500, 'Configuration file \'nodes/pve/lxc/101.conf\' does not exist'), want: { type: StalledError, failure: 'not-found' } },
    { name: 'ssh host key', reason: 'a host-key mismatch may be an attack: stall, name both fingerprints, never retry in a loop', given: new SshHostKeyMismatchError(FP_PINNED, FP_OFFERED, '10.0.0.2:22'), want: { type: StalledError, reason: 'SshHostKeyMismatch', failure: 'identity-mismatch', says: [`expected ${FP_PINNED}`, `offered ${FP_OFFERED}`] } },
    { name: 'ssh auth', reason: 'a refused login will not fix itself', given: new SshError('auth', 'all configured authentication methods failed'), want: { type: StalledError, reason: 'SshAuthFailed', failure: 'ssh-auth', says: ['cluster.ssh.privateKey'] } },
    { name: 'ssh connect', reason: 'a node that does not answer may come back: retry with backoff', given: new SshError('connect', 'connect ECONNREFUSED 10.0.0.2:22'), want: { type: TransientError, failure: 'network' } },
    { name: 'ssh dropped', reason: 'a dropped session is retried with backoff', given: new SshError('closed', 'connection closed'), want: { type: TransientError, failure: 'network' } },
    { name: 'unknown', reason: 'anything else is transient', given: new Error('socket hang up'), want: { type: TransientError } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = mapProviderError(c.given, 'update guest 101 of App web')
      expect(got).toBeInstanceOf(c.want.type as new (...a: never[]) => Error)
      if (c.want.reason) expect((got as StalledError).reason).toBe(c.want.reason)
      if (c.want.failure) expect(failureOf(got)).toBe(c.want.failure)
      for (const text of c.want.says ?? []) expect(got.message).toContain(text)
      expect(got.message.startsWith('cannot update guest 101 of App web')).toBe(true)
    })
  }
})
