import { describe, expect, it } from 'vitest'
import { PveApiError, PveTaskError, PveTaskTimeoutError } from '../../src/providers/proxmox/errors.js'
import { namedPathTemplate } from '../../src/providers/proxmox/path-template.js'
import { fingerprintOf, normalizeFingerprint } from '../../src/providers/proxmox/tls.js'
import { formatProxmoxSize, parseProxmoxSize, parseUpid } from '../../src/providers/proxmox/upid.js'
import { classifyError, TransientError } from '../../src/runtime/errors.js'
import { testCert } from './fake-pve.js'

const http = (status: number, reason: string, errors?: Record<string, string>) =>
  new PveApiError({ kind: 'http', status, reason, message: reason, method: 'GET', pathTemplate: '/x', ...(errors ? { errors } : {}) })

type Pred = 'notFound' | 'exists' | 'locked' | 'lockTimeout' | 'transient' | 'auth' | 'conflict'

describe('PveApiError predicates', () => {
  const cases: { name: string; err: PveApiError; want: Pred[]; lock?: string; reason: string }[] = [
    { name: 'config missing', err: http(500, "Configuration file 'nodes/pve/lxc/999.conf' does not exist"), want: ['notFound'], reason: 'PVE has no 404; not-found is a 500 with this text (trap 1)' },
    { name: 'no such resource', err: http(500, "no such resource 'ct:101'"), want: ['notFound'], reason: 'HA and other modules say "no such"' },
    { name: 'no such task', err: http(400, 'Parameter verification failed.', { upid: 'no such task' }), want: ['notFound'], reason: 'a fresh UPID can briefly be unknown (§3.2)' },
    { name: 'ct exists', err: http(500, "CT 101 already exists on node 'pve'"), want: ['exists'], reason: 'a lost create response then a retry must be recognised as done' },
    { name: 'nextid taken', err: http(400, 'Parameter verification failed.', { vmid: 'VM 104 already exists' }), want: ['exists'], reason: 'nextid?vmid= answers 400 with the map' },
    { name: 'backup lock', err: http(500, 'CT is locked (backup)'), want: ['locked'], lock: 'backup', reason: 'PUT config on a CT being backed up fails synchronously (trap 8)' },
    { name: 'qemu lock', err: http(500, 'VM is locked (migrate)'), want: ['locked'], lock: 'migrate', reason: 'qemu says VM, not CT' },
    { name: 'flock timeout', err: http(500, "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout"), want: ['lockTimeout', 'transient'], reason: 'parallel writes contend for the config flock; retry' },
    { name: 'digest', err: http(500, 'detected modified configuration - file changed by other user? Try again.'), want: ['conflict', 'transient'], reason: 'a stale digest needs a re-read, then it works' },
    { name: 'already running', err: http(500, 'CT 101 already running'), want: [], reason: 'a state answer: retrying the same call changes nothing' },
    { name: 'generic 500', err: http(500, 'Internal Server Error'), want: ['transient'], reason: 'an unknown 500 is treated as an outage' },
    { name: '503', err: http(503, 'Service Unavailable'), want: ['transient'], reason: 'pveproxy restarting' },
    { name: '595', err: http(595, 'Errors during connection establishment, proxy handshake: No route to host'), want: ['transient'], reason: 'node offline behind the proxy' },
    { name: '596', err: http(596, 'Broken pipe'), want: ['transient'], reason: 'proxying to another node broke' },
    { name: '501', err: http(501, "Method 'GET /x' not implemented"), want: [], reason: 'our bug or an old PVE; retrying does not help' },
    { name: '401', err: http(401, 'Authentication failed!'), want: ['auth'], reason: 'bad credentials need a person' },
    { name: 'keyctl 403', err: http(403, 'Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)'), want: ['auth'], reason: 'a token cannot set keyctl (trap 9)' },
    { name: 'network', err: new PveApiError({ kind: 'network', status: 0, reason: 'ECONNRESET', message: 'x', method: 'GET', pathTemplate: '/x' }), want: ['transient'], reason: 'no answer is always worth a retry later' },
    { name: 'tls', err: new PveApiError({ kind: 'tls', status: 0, reason: 'pin', message: 'x', method: 'GET', pathTemplate: '/x' }), want: [], reason: 'a certificate mismatch needs a person' },
  ]
  it.each(cases)('$name', ({ err, want, lock }) => {
    const got: Pred[] = []
    if (err.isNotFound()) got.push('notFound')
    if (err.isAlreadyExists()) got.push('exists')
    if (err.isLocked()) got.push('locked')
    if (err.isLockTimeout()) got.push('lockTimeout')
    if (err.isConflict()) got.push('conflict')
    if (err.isTransient()) got.push('transient')
    if (err.isAuth()) got.push('auth')
    expect(got.sort()).toEqual([...want].sort())
    expect(err.lock).toBe(lock)
  })
})

describe('PveTaskError and task timeouts', () => {
  it('exposes the lock of a power op that failed inside its task (trap 8)', () => {
    const err = new PveTaskError({ upid: 'U', node: 'pve', type: 'vzstart', exitstatus: 'CT is locked (backup)', logTail: ['TASK ERROR: CT is locked (backup)'] })
    expect(err.isLocked()).toBe(true)
    expect(err.lock).toBe('backup')
    expect(err.isTransient()).toBe(false)
    expect(err.message).toContain('vzstart')
  })

  it('makes a waitTask timeout a TransientError for the reconcile loop', () => {
    const err = new PveTaskTimeoutError('pve', 'UPID:x', 1000)
    expect(err).toBeInstanceOf(TransientError)
    expect(classifyError(err)).toBe('transient')
  })
})

describe('pure helpers', () => {
  it.each([
    { upid: 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:101:root@pam!reconciler:', want: { node: 'pve', pid: 0x1a2b3, type: 'vzcreate', id: '101', user: 'root@pam!reconciler', starttime: 0x65b8f2a1 }, reason: 'the documented example, token user included' },
    { upid: 'UPID:pve-2:00000001:123456789:65B8F2A1:vzdump::root@pam:', want: { node: 'pve-2', pstart: 0x123456789, type: 'vzdump', id: '' }, reason: 'multi-guest vzdump has an empty id; pstart may have 9 digits' },
  ])('parses $upid', ({ upid, want }) => {
    expect(parseUpid(upid)).toMatchObject(want)
  })

  it.each([
    { upid: 'OK', reason: 'vzdump answers OK when every guest is elsewhere (trap 16)' },
    { upid: 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:101:root@pam', reason: 'the trailing colon is part of the format' },
  ])('rejects $upid', ({ upid }) => {
    expect(parseUpid(upid)).toBeUndefined()
  })

  it.each([
    { bytes: 8 * 1024 ** 3, want: '8G', reason: 'rootfs sizes print in the largest exact unit' },
    { bytes: 1536 * 1024 ** 2, want: '1536M', reason: 'not exactly 1.5G: PVE never prints fractions' },
    { bytes: 2 * 1024 ** 4, want: '2T', reason: 'terabytes' },
    { bytes: 1000, want: '1000', reason: 'no exact unit: plain bytes' },
  ])('formats $bytes as $want', ({ bytes, want }) => {
    expect(formatProxmoxSize(bytes)).toBe(want)
    expect(parseProxmoxSize(want)).toBe(bytes)
  })

  it.each([
    { star: '/api2/json/nodes/*/lxc/*/config', want: '/nodes/{node}/lxc/{vmid}/config', reason: 'the common case' },
    { star: '/api2/json/nodes/*/storage/*/content/*', want: '/nodes/{node}/storage/{storage}/content/{volume}', reason: 'volids are {volume} in the schema' },
    { star: '/api2/json/nodes/*/lxc/*/firewall/groups/*/*', want: '/nodes/{node}/lxc/{vmid}/firewall/groups/{group}/{pos}', reason: 'a parameter after a parameter' },
    { star: '/api2/json/access/groups/*', want: '/access/groups/{groupid}', reason: 'the same parent names its parameter differently here' },
    { star: '/api2/json/cluster/ha/rules/*', want: '/cluster/ha/rules/{rule}', reason: 'HA rules are not firewall rules' },
    { star: '/api2/json/cluster/backup/*', want: '/cluster/backup/{id}', reason: 'backup jobs' },
  ])('names $star', ({ star, want }) => {
    expect(namedPathTemplate(star)).toBe(want)
  })

  it('fingerprints a certificate like openssl and normalises user input', async () => {
    const { cert } = await testCert()
    const fp = fingerprintOf(cert)
    expect(fp).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(normalizeFingerprint(fp.replace(/:/g, '').toLowerCase())).toBe(fp)
    expect(normalizeFingerprint(`sha256:${fp}`)).toBe(fp)
    expect(() => normalizeFingerprint('AB:CD')).toThrow(/fingerprint/)
  })
})
