import { describe, expect, it } from 'vitest'
import { diffGuest, worstImpact } from '../../src/plan/diff.js'
import type { DesiredGuest, ObservedGuest, PlanFieldChange } from '../../src/plan/types.js'

const MARKER = 'proximity:managed {"kind":"App","name":"web","owner":"home","specHash":"abc"}'

const desired = (over: Record<string, string | number> = {}, extra: Partial<DesiredGuest> = {}): DesiredGuest => ({
  config: {
    hostname: 'web',
    cores: 2,
    memory: 512,
    swap: 512,
    rootfs: 'local-lvm:8',
    net0: 'name=eth0,bridge=vmbr0,ip=dhcp',
    features: 'keyctl=1,nesting=1',
    unprivileged: 1,
    onboot: 1,
    tags: 'proximity;app',
    description: `${MARKER}\nmanaged by proximity`,
    mp0: 'local-lvm:4,mp=/data,backup=1',
    ...over,
  },
  state: 'running',
  paths: { mp0: 'volumes.data' },
  ...extra,
})

/** What Proxmox hands back after storing `desired()` (REFERENCE §5.1 canonicalisation). */
const canonical = (over: Record<string, string | number> = {}): ObservedGuest => ({
  config: {
    arch: 'amd64',
    cores: 2,
    description: `proximity:managed {"kind":"App","name":"web","owner":"home","specHash":"old"}\nmanaged by proximity\n`,
    digest: '0f1e2d',
    features: 'nesting=1,keyctl=1',
    hostname: 'web',
    memory: 512,
    mp0: 'local-lvm:vm-101-disk-1,mp=/data,backup=1,size=4G',
    net0: 'name=eth0,bridge=vmbr0,hwaddr=BC:24:11:3A:9F:01,ip=dhcp,type=veth',
    onboot: 1,
    ostype: 'alpine',
    rootfs: 'local-lvm:vm-101-disk-0,size=8G',
    swap: 512,
    tags: 'app;proximity',
    unprivileged: 1,
    ...over,
  },
  status: 'running',
})

const paths = (cs: PlanFieldChange[]): string[] => cs.map((c) => c.path)

describe('diffGuest: a converged guest plans nothing despite canonicalisation (trap 10)', () => {
  const cases: { name: string; reason: string; given: ObservedGuest }[] = [
    { name: 'canonical', reason: 'the exact form Proxmox stores must compare equal to what we sent', given: canonical() },
    { name: 'description newline only', reason: 'Proxmox appends \\n to every description line', given: canonical({ description: `${MARKER}\nmanaged by proximity\n\n` }) },
    { name: 'tag case and order', reason: 'tags come back lower-cased and sorted; any order or separator is the same set', given: canonical({ tags: 'PROXIMITY,app' }) },
    { name: 'numbers as strings', reason: 'some clients and older servers return integers as strings', given: canonical({ memory: '512', cores: '2', onboot: '1' }) },
    { name: 'net0 key order', reason: 'net0 is re-printed name first then alphabetical, with hwaddr/type added', given: canonical({ net0: 'bridge=vmbr0,type=veth,ip=dhcp,name=eth0,hwaddr=bc:24:11:00:00:01' }) },
    { name: 'rootfs size in M', reason: 'format_size prints the largest exact unit: 8192M is 8 GiB', given: canonical({ rootfs: 'volume=local-lvm:vm-101-disk-0,size=8192M' }) },
    { name: 'features verbatim order', reason: 'features is stored verbatim, so it must be compared as a map', given: canonical({ features: 'keyctl=1,nesting=1' }) },
    { name: 'marker hash differs', reason: 'the marker line is managed separately (written last); its hash is not a field change', given: canonical({ description: `${MARKER.replace('abc', 'zzz')}\nmanaged by proximity\n` }) },
    { name: 'crlf description', reason: 'a description edited on Windows may carry \\r\\n', given: canonical({ description: `${MARKER}\r\nmanaged by proximity\r\n` }) },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(diffGuest(desired(), c.given)).toEqual([])
    })
  }
})

describe('diffGuest: impact classes', () => {
  const cases: { name: string; reason: string; given: { desired?: DesiredGuest; observed: ObservedGuest }; want: { path: string; impact: string; before?: unknown; after?: unknown; forcesReplacement?: boolean; refused?: boolean; unit?: string }[] }[] = [
    { name: 'memory', reason: 'memory is hot-plugged on a running CT', given: { desired: desired({ memory: 1024 }), observed: canonical() }, want: [{ path: 'resources.memory', impact: 'live', before: 512, after: 1024 }] },
    { name: 'cores', reason: 'cores is applied directly (fastplug)', given: { desired: desired({ cores: 4 }), observed: canonical() }, want: [{ path: 'resources.cores', impact: 'live', before: 2, after: 4 }] },
    { name: 'tags', reason: 'a tag someone removed is restored live', given: { observed: canonical({ tags: 'proximity' }) }, want: [{ path: 'tags', impact: 'live', before: ['proximity'], after: ['app', 'proximity'] }] },
    { name: 'user description', reason: 'a human edit of our description line is drift, applied live', given: { observed: canonical({ description: `${MARKER}\nhello\n` }) }, want: [{ path: 'description', impact: 'live', before: 'hello', after: 'managed by proximity' }] },
    { name: 'net bridge', reason: 'net[n] changes are hot-plugged; path is manifest-facing', given: { desired: desired({ net0: 'name=eth0,bridge=vmbr1,ip=dhcp' }), observed: canonical() }, want: [{ path: 'network.bridge', impact: 'live', before: 'vmbr0', after: 'vmbr1' }] },
    { name: 'net rate', reason: 'a desired key the server does not add is compared (rate)', given: { desired: desired({ net0: 'name=eth0,bridge=vmbr0,ip=dhcp,rate=10' }), observed: canonical() }, want: [{ path: 'network.rate', impact: 'live', after: '10' }] },
    { name: 'hwaddr set by desired', reason: 'a server-added key is compared once the desired side sets it', given: { desired: desired({ net0: 'name=eth0,bridge=vmbr0,ip=dhcp,hwaddr=BC:24:11:00:00:02' }), observed: canonical() }, want: [{ path: 'network.hwaddr', impact: 'live', before: 'BC:24:11:3A:9F:01', after: 'BC:24:11:00:00:02' }] },
    { name: 'features', reason: 'features stay pending until restart', given: { observed: canonical({ features: 'nesting=1' }) }, want: [{ path: 'features.keyctl', impact: 'restart', after: 1 }] },
    { name: 'nameserver', reason: 'nameserver is not hot-pluggable', given: { desired: desired({ nameserver: '10.0.0.1' }), observed: canonical() }, want: [{ path: 'nameserver', impact: 'restart', after: '10.0.0.1' }] },
    { name: 'pending', reason: 'a restart-class value already stored but pending still needs the restart', given: { observed: { ...canonical(), pendingKeys: ['features'] } }, want: [{ path: 'features', impact: 'restart', before: '(pending)' }] },
    { name: 'unprivileged', reason: 'unprivileged is read-only after creation', given: { observed: canonical({ unprivileged: 0 }) }, want: [{ path: 'unprivileged', impact: 'replace', before: 0, after: 1, forcesReplacement: true }] },
    { name: 'rootfs storage', reason: 'moving the root disk to another storage means a new guest here', given: { desired: desired({ rootfs: 'fast:8' }), observed: canonical() }, want: [{ path: 'resources.storage', impact: 'replace', before: 'local-lvm', after: 'fast', forcesReplacement: true }] },
    { name: 'template', reason: 'the template only matters at creation', given: { desired: desired({}, { ostemplate: 'local:vztmpl/b.tar.xz' }), observed: { ...canonical(), ostemplate: 'local:vztmpl/a.tar.xz' } }, want: [{ path: 'template', impact: 'replace', forcesReplacement: true }] },
    { name: 'disk grow', reason: 'growing is a live resize', given: { desired: desired({ rootfs: 'local-lvm:10' }), observed: canonical() }, want: [{ path: 'resources.disk', impact: 'live', before: 8, after: 10 }] },
    { name: 'disk shrink', reason: 'Proxmox refuses to shrink: not data-loss but refused', given: { desired: desired({ rootfs: 'local-lvm:4' }), observed: canonical() }, want: [{ path: 'resources.disk', impact: 'live', before: 8, after: 4, refused: true }] },
    { name: 'volume removed', reason: 'dropping a mount point deletes its data', given: { desired: desired({ mp0: 'local-lvm:4,mp=/data,backup=1' }), observed: canonical({ mp1: 'local-lvm:vm-101-disk-2,mp=/cache,size=1G' }) }, want: [{ path: 'volumes[/cache]', impact: 'data-loss', before: '/cache' }] },
    { name: 'volume added', reason: 'a new mount point is hot-plugged', given: { desired: desired({ mp1: 'local-lvm:2,mp=/logs,backup=0' }), observed: canonical() }, want: [{ path: 'mp1', impact: 'live', after: '/logs' }] },
    { name: 'volume grow', reason: 'mount point growth is a resize with a manifest path', given: { desired: desired({ mp0: 'local-lvm:6,mp=/data,backup=1' }), observed: canonical() }, want: [{ path: 'volumes.data.size', impact: 'live', before: 4, after: 6 }] },
    { name: 'start on boot', reason: 'onboot is shown as the manifest concept it follows (state), as a boolean, never as the raw key', given: { desired: desired({ onboot: 0 }), observed: canonical() }, want: [{ path: 'state.startOnBoot', impact: 'live', before: true, after: false }] },
    { name: 'memory unit', reason: 'memory numbers are MiB; the change says so, so the plan can print 512Mi -> 1Gi', given: { desired: desired({ memory: 1024, swap: 256 }), observed: canonical() }, want: [{ path: 'resources.memory', impact: 'live', before: 512, after: 1024, unit: 'MiB' }, { path: 'resources.swap', impact: 'live', before: 512, after: 256, unit: 'MiB' }] },
    { name: 'disk unit', reason: 'disk numbers stay GiB numbers (apply resizes with them) and carry their unit', given: { desired: desired({ rootfs: 'local-lvm:10' }), observed: canonical() }, want: [{ path: 'resources.disk', impact: 'live', before: 8, after: 10, unit: 'GiB' }] },
    { name: 'volume mount path', reason: 'the mp option of a mount point is the volume path in the manifest', given: { desired: desired({ mp0: 'local-lvm:4,mp=/srv,backup=1' }), observed: canonical() }, want: [{ path: 'volumes.data.path', impact: 'restart', before: '/data', after: '/srv' }] },
    { name: 'volume backup flag', reason: 'backup=0/1 is the boolean volumes[].backup of the manifest', given: { desired: desired({ mp0: 'local-lvm:4,mp=/data,backup=0' }), observed: canonical() }, want: [{ path: 'volumes.data.backup', impact: 'restart', before: true, after: false }] },
    { name: 'second nic', reason: 'a NIC other than net0 is named network[n], not net1', given: { desired: desired({ net1: 'name=eth1,bridge=vmbr1,ip=dhcp' }), observed: canonical({ net1: 'name=eth1,bridge=vmbr2,ip=dhcp' }) }, want: [{ path: 'network[1].bridge', impact: 'live', before: 'vmbr2', after: 'vmbr1' }] },
    { name: 'state', reason: 'power state is a live change', given: { desired: desired({}, { state: 'stopped' }), observed: canonical() }, want: [{ path: 'state', impact: 'live', before: 'running', after: 'stopped' }] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = diffGuest(c.given.desired ?? desired(), c.given.observed)
      expect(paths(got)).toEqual(c.want.map((w) => w.path))
      c.want.forEach((w, i) => {
        expect(got[i].impact).toBe(w.impact)
        if ('before' in w) expect(got[i].before).toEqual(w.before)
        if ('after' in w) expect(got[i].after).toEqual(w.after)
        if ('unit' in w) expect(got[i].unit).toBe(w.unit)
        expect(got[i].forcesReplacement === true).toBe(w.forcesReplacement === true)
        expect(typeof got[i].refused === 'string').toBe(w.refused === true)
      })
    })
  }

  it('never names a raw Proxmox key for the fields Proximity manages', () => {
    const got = diffGuest(
      desired({ onboot: 0, net0: 'name=eth1,bridge=vmbr1,ip=10.0.0.5/24,gw=10.0.0.1', memory: 1024, mp0: 'local-lvm:5,mp=/srv,backup=0' }),
      canonical(),
    )
    for (const c of got) expect(c.path, c.path).not.toMatch(/^(onboot|net\d|mp\d|rootfs|memory|swap|cores)\b/)
    expect(paths(got)).toEqual(['network.bridge', 'network.gateway', 'network.interface', 'network.ip', 'resources.memory', 'state.startOnBoot', 'volumes.data.backup', 'volumes.data.path', 'volumes.data.size'])
  })

  it('sorts several changes by path and reports the worst impact', () => {
    const got = diffGuest(desired({ memory: 1024, cores: 4, unprivileged: 1 }), canonical({ unprivileged: 0 }))
    expect(paths(got)).toEqual(['resources.cores', 'resources.memory', 'unprivileged'])
    expect(worstImpact(got)).toBe('replace')
    expect(worstImpact([])).toBe('live')
  })
})
