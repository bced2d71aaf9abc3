/**
 * The rendered appliance files are accepted by the real binaries (issue 12, "How it will be
 * checked"): dnsmasq --test, caddy validate/adapt/fmt and nft -c, for examples/homelab (as
 * shipped and with its Apps moved onto the LAN) and generated sets of 1, 50 and 250 apps. The
 * adapted Caddy JSON is compared with the routes we meant to render, and every checker is shown
 * to fail on a broken file, so a passing check means something.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderApplianceFiles, resolveApplianceNetwork, type ApplianceFileId, type ApplianceNetwork, type RenderedApplianceFile } from '../../controllers/appliance/render/index.js'
import type { ManifestSet } from '../../src/model/types.js'
import { caddyAdapt, caddyFmt, caddyValidate, dnsmasqTest, dnsmasqTestDataFiles, nftCheck, requireBinary } from './binaries.js'
import { OWNER, generatedSet, homelabAsShipped, homelabOnLan } from './fixtures.js'

let work: string
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pxa-bin-'))
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe('the real binaries are installed', () => {
  // Fails (never skips) with the install command when one is missing; CI installs them in .ci/run.
  for (const name of ['dnsmasq', 'caddy', 'nft', 'unshare']) {
    it(`${name} is on PATH`, () => {
      expect(requireBinary(name)).toMatch(new RegExp(`/${name}$`))
    })
  }
})

interface Rendered {
  network: ApplianceNetwork
  files: Record<ApplianceFileId, RenderedApplianceFile>
  dir: string
}

/** Renders the set's first appliance into its own scratch folder (paths point there). */
async function renderInto(set: ManifestSet, label: string): Promise<Rendered> {
  const dir = join(work, label)
  await mkdir(dir, { recursive: true })
  const network = resolveApplianceNetwork(set.appliances[0], set.apps, { owner: OWNER })
  const paths = { 'dnsmasq-conf': `${dir}/dnsmasq.conf`, 'dhcp-hosts': `${dir}/dhcp-hosts`, hosts: `${dir}/hosts`, caddyfile: `${dir}/Caddyfile`, nftables: `${dir}/nftables.nft`, 'nftables-service': `${dir}/nftables.confd` }
  const list = renderApplianceFiles(network, { paths })
  for (const f of list) await writeFile(f.path, f.content)
  return { network, files: Object.fromEntries(list.map((f) => [f.id, f])) as Rendered['files'], dir }
}

/** host → {dial, listen} for every route in `caddy adapt` output. */
function adaptedRoutes(json: unknown): Map<string, { dial: string[]; listen: string[] }> {
  const out = new Map<string, { dial: string[]; listen: string[] }>()
  const servers = (json as { apps?: { http?: { servers?: Record<string, { listen: string[]; routes?: unknown[] }> } } }).apps?.http?.servers ?? {}
  const dials = (v: unknown, acc: string[]): string[] => {
    if (Array.isArray(v)) v.forEach((x) => dials(x, acc))
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      if (o.handler === 'reverse_proxy') for (const u of (o.upstreams as { dial: string }[]) ?? []) acc.push(u.dial)
      Object.values(o).forEach((x) => dials(x, acc))
    }
    return acc
  }
  for (const server of Object.values(servers)) {
    for (const route of server.routes ?? []) {
      const hosts = ((route as { match?: { host?: string[] }[] }).match ?? []).flatMap((m) => m.host ?? [])
      for (const h of hosts) out.set(h, { dial: dials(route, []), listen: server.listen })
    }
  }
  return out
}

/** Subjects of the automation policies whose issuer is Caddy's internal CA. */
function internalSubjects(json: unknown): Set<string> {
  const policies = (json as { apps?: { tls?: { automation?: { policies?: { subjects?: string[]; issuers?: { module: string }[] }[] } } } }).apps?.tls?.automation?.policies ?? []
  return new Set(policies.filter((p) => p.issuers?.some((i) => i.module === 'internal')).flatMap((p) => p.subjects ?? []))
}

const cases: { name: string; reason: string; load: () => Promise<ManifestSet>; apps: number }[] = [
  { name: 'examples/homelab as shipped', reason: 'the quickstart appliance with no app on its LAN still renders valid files', load: homelabAsShipped, apps: 0 },
  { name: 'examples/homelab with its apps on the LAN', reason: 'every field: static IP, all tls modes, public host, ACME e-mail, records, tcp+udp forwards', load: homelabOnLan, apps: 4 },
  { name: 'a generated set of 1 app', reason: 'the smallest non-empty LAN', load: () => generatedSet(1), apps: 1 },
  { name: 'a generated set of 50 apps', reason: 'a full homelab in a /24', load: () => generatedSet(50), apps: 50 },
  { name: 'a generated set of 250 apps', reason: 'more apps than a /24 holds outside its pool: a /22 LAN', load: () => generatedSet(250), apps: 250 },
]

describe.each(cases)('rendered files for $name', ({ name, load, apps }) => {
  let r: Rendered
  const label = name.replace(/[^a-z0-9]+/gi, '-')
  beforeAll(async () => {
    r = await renderInto(await load(), label)
  })

  it('resolves the expected number of apps, each with a lease and a name', () => {
    expect(r.network.apps).toHaveLength(apps)
    expect(r.files['dhcp-hosts'].content.split('\n').filter(Boolean)).toHaveLength(apps)
    for (const a of r.network.apps) expect(r.network.hosts.some((h) => h.fqdn === `${a.name}.${r.network.domain}`)).toBe(true)
  })

  it('dnsmasq --test accepts dnsmasq.conf', async () => {
    const res = await dnsmasqTest(r.files['dnsmasq-conf'].path)
    expect(res.stderr).toContain('syntax check OK')
    expect(res.code).toBe(0)
  })

  it('dnsmasq --test accepts every dhcp-hosts and hosts line as the equivalent directive', async () => {
    const res = await dnsmasqTestDataFiles(r.files['dhcp-hosts'].content, r.files.hosts.content, join(r.dir, 'data-check.conf'))
    expect(res.stderr).toContain('syntax check OK')
    expect(res.code).toBe(0)
  })

  it('caddy validate accepts the Caddyfile', async () => {
    const res = await caddyValidate(r.files.caddyfile.path, join(r.dir, 'caddy'))
    expect(res.stderr.split('\n').filter((l) => /"level":"error"|^Error/.test(l))).toEqual([])
    expect(res.stdout).toContain('Valid configuration')
    expect(res.code).toBe(0)
  })

  it('the Caddyfile is already in caddy fmt form', async () => {
    const res = await caddyFmt(r.files.caddyfile.path, join(r.dir, 'caddy'))
    expect(res.code).toBe(0)
    expect(res.stdout).toBe(r.files.caddyfile.content)
  })

  it('caddy adapt routes every host to its app, http-only routes on :80, tls internal on the local CA', async () => {
    const res = await caddyAdapt(r.files.caddyfile.path, join(r.dir, 'caddy'))
    expect(res.code).toBe(0)
    const json = JSON.parse(res.stdout) as unknown
    const routes = adaptedRoutes(json)
    expect([...routes.keys()].sort()).toEqual(r.network.routes.map((x) => x.host).sort())
    for (const want of r.network.routes) {
      const got = routes.get(want.host)!
      expect(got.dial).toEqual([`${want.ip}:${want.port}`])
      expect(got.listen).toEqual([want.tls === 'none' ? ':80' : ':443'])
    }
    expect([...internalSubjects(json)].sort()).toEqual(r.network.routes.filter((x) => x.tls === 'internal').map((x) => x.host).sort())
    expect((json as { admin?: { listen?: string } }).admin?.listen).toBe('localhost:2019')
  })

  it('nft -c accepts nftables.nft', async () => {
    const res = await nftCheck(r.files.nftables.path)
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
  })
})

describe('the checks reject broken files (so a pass means something)', () => {
  let r: Rendered
  beforeAll(async () => {
    r = await renderInto(await homelabOnLan(), 'broken')
  })
  const broken = async (file: string, text: string): Promise<string> => {
    const p = join(r.dir, file)
    await writeFile(p, text)
    return p
  }

  it('dnsmasq --test fails on a bad dhcp-range', async () => {
    const p = await broken('bad-dnsmasq.conf', r.files['dnsmasq-conf'].content.replace(/^dhcp-range=.*$/m, 'dhcp-range=set:lan,10.10.0.100,10.10.0.300,12h'))
    const res = await dnsmasqTest(p)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('bad dhcp-range')
  })

  it('the data-file check fails on two leases with one IP', async () => {
    const lines = r.files['dhcp-hosts'].content.split('\n').filter(Boolean)
    const dup = lines[1].replace(/,[0-9.]+,/, `,${lines[0].split(',')[1]},`)
    const res = await dnsmasqTestDataFiles(`${lines[0]}\n${dup}\n`, '', join(r.dir, 'bad-data.conf'))
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('duplicate dhcp-host IP address')
  })

  it('caddy validate fails on a misspelt directive', async () => {
    const p = await broken('Caddyfile.bad', r.files.caddyfile.content.replace('reverse_proxy', 'reverse_prox'))
    const res = await caddyValidate(p, join(r.dir, 'caddy'))
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('unrecognized directive: reverse_prox')
  })

  it('nft -c fails on dnat without the ip keyword in an inet table', async () => {
    const p = await broken('bad.nft', r.files.nftables.content.replace('dnat ip to', 'dnat to'))
    const res = await nftCheck(p)
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('Error')
  })
})
