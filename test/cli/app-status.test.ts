/**
 * The pure rules behind `get`/`describe`: when a stored status is stale, an app's address, and
 * the state folder name of a target.
 */
import { describe, expect, it } from 'vitest'
import { appAddress, liveStateOf, staleReason, type LiveState } from '../../src/cli/app-status.js'
import { chooseStateDir, stateHome, targetFolderName } from '../../src/cli/state-dir.js'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AppManifest, ApplianceManifest, ManifestSet } from '../../src/model/types.js'
import type { ClusterGuest } from '../../src/providers/proxmox/types.js'
import type { ObjectStatus } from '../../src/store/types.js'

const T0 = '2026-01-01T00:00:00.000Z'
const status = (o: Partial<ObjectStatus> = {}): ObjectStatus => ({
  key: 'App/web',
  kind: 'App',
  name: 'web',
  generation: 1,
  observedGeneration: 1,
  conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'guest 1000 on pve is running and healthy', lastTransitionTime: T0, observedGeneration: 1 }],
  inventory: { vmid: 1000, node: 'pve' },
  history: [],
  createdAt: T0,
  updatedAt: '2026-01-01T00:10:00.000Z',
  ...o,
})
const guest = (o: Partial<ClusterGuest> = {}): ClusterGuest => ({ id: 'lxc/1000', type: 'lxc', vmid: 1000, node: 'pve', status: 'running', tags: 'proximity', ...o })
const at = '2026-01-01T01:00:00.000Z'

describe('staleReason', () => {
  const cases: { name: string; reason: string; given: { s: ObjectStatus; guests?: ClusterGuest[]; resync?: string; declared?: 'running' | 'stopped' }; want: string | undefined }[] = [
    { name: 'live and as recorded', reason: 'a running guest of a Ready app is what the status says', given: { s: status(), guests: [guest()] }, want: undefined },
    { name: 'stopped behind our back', reason: 'a manual stop must not keep showing Ready', given: { s: status(), guests: [guest({ status: 'stopped' })] }, want: 'guest 1000 is stopped, recorded running' },
    { name: 'stopped as declared', reason: 'state: stopped apps are Ready while stopped', given: { s: status({ conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'guest 1000 on pve is stopped as declared', lastTransitionTime: T0, observedGeneration: 1 }] }), guests: [guest({ status: 'stopped' })] }, want: undefined },
    { name: 'started although declared stopped', reason: 'the manifest says stopped: a running guest is drift', given: { s: status(), guests: [guest()], declared: 'stopped' }, want: 'guest 1000 is running, recorded stopped' },
    { name: 'deleted', reason: 'a manual delete or a sandbox reset leaves no guest', given: { s: status(), guests: [] }, want: 'guest 1000 is gone (deleted or sandbox reset)' },
    { name: 'vmid taken by a foreign guest', reason: 'identity is our tag, not the vmid', given: { s: status(), guests: [guest({ tags: 'other' })] }, want: 'guest 1000 is gone (deleted or sandbox reset)' },
    { name: 'migrated', reason: 'the node column must not repeat an old node', given: { s: status(), guests: [guest({ node: 'pve2' })] }, want: 'guest 1000 moved to pve2' },
    { name: 'missed a resync', reason: 'a status older than the daemon\'s last complete resync was not renewed', given: { s: status(), resync: '2026-01-01T00:20:00.000Z' }, want: 'not observed since the resync of 2026-01-01T00:20:00.000Z' },
    { name: 'renewed by the resync', reason: 'a status written after the resync is current', given: { s: status(), resync: '2026-01-01T00:05:00.000Z' }, want: undefined },
    {
      name: 'stalled',
      reason: 'a stalled object is not retried until its spec changes: its status stays true',
      given: { s: status({ conditions: [{ type: 'Stalled', status: 'True', reason: 'SshHostKeyMismatch', message: 'x', lastTransitionTime: T0, observedGeneration: 1 }] }), resync: '2026-01-01T00:20:00.000Z' },
      want: undefined,
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const live: LiveState = c.given.guests ? liveStateOf(c.given.s, c.given.guests, at) : { observed: false }
      expect(staleReason(c.given.s, live, c.given.resync, c.given.declared)).toBe(c.want)
    })
  }
})

describe('appAddress', () => {
  const app = (spec: Partial<AppManifest['spec']>): AppManifest =>
    ({ kind: 'App', metadata: { name: 'web' }, spec: { network: { ip: 'dhcp' }, expose: [], source: { compose: { services: {} } }, ...spec } }) as unknown as AppManifest
  const appliance = { kind: 'Appliance', metadata: { name: 'lan' }, spec: { dns: { domain: 'home.arpa' } } } as unknown as ApplianceManifest
  const set = (a: AppManifest): ManifestSet => ({ apps: [a], appliances: [appliance], backupPolicies: [], restores: [], roots: [] })
  const lanStatus = status({ key: 'Appliance/lan', kind: 'Appliance', name: 'lan', extra: { addresses: { web: '10.0.3.12' } } })
  const cases = [
    {
      name: 'static on a bridge',
      reason: 'the manifest\'s address, and a URL only for the published port its http health check answers on',
      given: { a: app({ network: { bridge: 'vmbr0', ip: '192.168.1.50/24' }, source: { compose: { services: { web: { ports: ['8080:80', '5432:5432'] } } } }, health: { http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 1000 } }), appliances: [] },
      want: { ip: '192.168.1.50', urls: ['http://192.168.1.50:8080'] },
    },
    {
      name: 'health port not published',
      reason: 'a port reachable only inside the guest (or bound to one address) is no URL for anyone else',
      given: { a: app({ network: { bridge: 'vmbr0', ip: '192.168.1.50/24' }, source: { compose: { services: { web: { ports: ['127.0.0.1:8080:80', '80'] } } } }, health: { http: { port: 8080, path: '/', expectStatus: 200 }, timeout: 1000 } }), appliances: [] },
      want: { ip: '192.168.1.50', urls: [] },
    },
    { name: 'expose off the appliance', reason: 'a catalog default expose without an appliance publishes nothing, so it gives no URL', given: { a: app({ network: { bridge: 'vmbr0', ip: '192.168.1.50/24' }, expose: [{ port: 8080, tls: 'none' }] }), appliances: [] }, want: { ip: '192.168.1.50', urls: [] } },
    { name: 'dhcp on a bridge', reason: 'an unknown address is left out, never guessed', given: { a: app({ expose: [{ port: 80, tls: 'none' }] }), appliances: [] }, want: { urls: [] } },
    {
      name: 'on the appliance LAN',
      reason: 'the leased address from the appliance status, URLs through its proxy by host name',
      given: { a: app({ network: { appliance: 'lan', ip: 'dhcp' }, expose: [{ port: 80, tls: 'internal' }, { port: 81, host: 'admin', tls: 'none' }, { port: 82, host: 'x.example.org', tls: 'acme' }] }), appliances: [lanStatus] },
      want: { ip: '10.0.3.12', urls: ['https://web.home.arpa', 'http://admin.home.arpa', 'https://x.example.org'] },
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(appAddress('web', status(), set(c.given.a), c.given.appliances)).toEqual(c.want)
    })
  }
  it('dhcp on a bridge: the address the controller recorded, unless the guest reports another live', () => {
    const recorded = status({ extra: { ip: '10.10.0.7', urls: [] } })
    expect(appAddress('web', recorded, set(app({})), [])).toEqual({ ip: '10.10.0.7', urls: [] })
    expect(appAddress('web', recorded, set(app({})), [], '10.10.0.9')).toEqual({ ip: '10.10.0.9', urls: [] })
  })
  it('without manifests, the appliance status still gives the IP', () => {
    expect(appAddress('web', status(), undefined, [lanStatus])).toEqual({ ip: '10.0.3.12', urls: [] })
  })
})

describe('state folders', () => {
  it('names a target by owner, host and port plus a short hash; the sandbox by its name', () => {
    expect(targetFolderName({ owner: 'homelab', endpoint: 'https://pve.example.com:8006' })).toMatch(/^homelab-pve\.example\.com-8006-[0-9a-f]{4}$/)
    expect(targetFolderName({ owner: 'homelab', endpoint: 'https://pve.example.com:8006/' })).toBe(targetFolderName({ owner: 'homelab', endpoint: 'https://pve.example.com:8006' }))
    expect(targetFolderName({ owner: 'a', endpoint: 'https://pve:8006' })).not.toBe(targetFolderName({ owner: 'b', endpoint: 'https://pve:8006' }))
    expect(targetFolderName({ owner: 'x', endpoint: 'https://[fd00::1]:8006' })).toMatch(/^x-fd00-1-8006-[0-9a-f]{4}$/)
    expect(targetFolderName({ owner: '../..', endpoint: 'https://h/../../etc' })).toMatch(/^h-443-[0-9a-f]{4}$/)
    expect(targetFolderName({ sandbox: true })).toBe('sandbox')
  })
  it('follows XDG_STATE_HOME only when absolute', () => {
    expect(stateHome({ HOME: '/home/u', XDG_STATE_HOME: '/xdg' })).toBe('/xdg/proximity')
    expect(stateHome({ HOME: '/home/u', XDG_STATE_HOME: 'rel' })).toBe('/home/u/.local/state/proximity')
    expect(stateHome({ HOME: '/home/u' })).toBe('/home/u/.local/state/proximity')
  })
  it('prints a move command that pastes into a shell, quoting a home with spaces and quotes', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'proximity-legacy-'))
    await mkdir(join(cwd, '.proximity'))
    await writeFile(join(cwd, '.proximity', 'audit.log'), '')
    const home = join(cwd, "it's my home")
    const c = await chooseStateDir({ env: { HOME: home }, cwd, inputs: [] })
    expect(c).toMatchObject({ dir: join(cwd, '.proximity'), from: 'legacy' })
    const target = join(home, '.local', 'state', 'proximity', 'sandbox')
    expect(c.messages).toHaveLength(1)
    expect(c.messages[0]).toContain(`notice: using the state in ./.proximity (the old default); state now lives in ${target}. Move it: `)
    // the printed command, run by a real shell, moves the folder where the next run looks
    execFileSync('sh', ['-c', c.messages[0].split('Move it: ')[1]], { cwd })
    expect(existsSync(join(target, 'audit.log'))).toBe(true)
    expect(await chooseStateDir({ env: { HOME: home }, cwd, inputs: [] })).toEqual({ dir: target, from: 'default', messages: [] })
  })
})
