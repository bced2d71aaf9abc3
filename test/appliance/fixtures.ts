/**
 * Manifest sets for the appliance renderer tests, always loaded through the real manifest
 * loader so the renderers see exactly the normalised shapes the controller will hand them:
 * examples/homelab as shipped, examples/homelab with every App moved onto the appliance LAN
 * (what the example's comment tells users to do), and generated sets of N apps.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import { formatError, loadManifests } from '../../src/manifest/index.js'
import { packageRoot } from '../../src/model/paths.js'
import type { ManifestSet } from '../../src/model/types.js'

export const OWNER = 'proximity'

/** Loads `paths` with the real loader; throws with every located error when the set is invalid. */
export async function loadSet(paths: string[], cwd: string): Promise<ManifestSet> {
  const r = await loadManifests(paths, { cwd, env: {} })
  if (!r.ok) throw new Error(r.errors.map((e) => formatError(e, cwd)).join('\n'))
  return r.set
}

/** examples/homelab exactly as shipped (its Apps still sit on vmbr0, so the LAN has no apps). */
export async function homelabAsShipped(): Promise<ManifestSet> {
  return loadSet([join(packageRoot(), 'examples/homelab')], packageRoot())
}

/**
 * examples/homelab with every App moved onto the `edge` LAN (`network: {appliance: edge}`), an
 * expose entry for the two Apps without one (plain HTTP, and ACME on a public name), one static
 * address, an ACME e-mail, a DNS record and a port forward: every field the renderers write.
 */
export async function homelabOnLan(): Promise<ManifestSet> {
  const dir = await mkdtemp(join(tmpdir(), 'pxa-homelab-'))
  try {
    await cp(join(packageRoot(), 'examples/homelab'), dir, { recursive: true })
    const edits: Record<string, (spec: Record<string, unknown>) => void> = {
      'hello-web.yaml': (s) => {
        s.network = { appliance: 'edge', ip: '10.10.0.20/24' }
        s.expose = [{ port: 80, tls: 'none' }]
      },
      'notes.yaml': (s) => {
        s.network = { appliance: 'edge' }
        s.expose = [{ port: 5230, host: 'notes.example.org', tls: 'acme' }]
      },
      'uptime-kuma.yaml': (s) => {
        s.network = { appliance: 'edge' }
      },
      'whoami.yaml': (s) => {
        s.network = { appliance: 'edge' }
      },
      'network/appliance.yaml': (s) => {
        s.proxy = { tls: 'internal', acmeEmail: 'ops@example.org' }
        s.dns = { ...(s.dns as object), records: [{ name: 'nas', ip: '10.10.0.5' }, { name: 'printer.office.example', ip: '192.168.1.40' }] }
        s.nat = { masquerade: true, portForwards: [{ port: 2222, to: '10.10.0.20:22' }, { port: 27015, protocol: 'udp', to: '10.10.0.20:27015' }] }
      },
    }
    for (const [file, edit] of Object.entries(edits)) {
      const doc = parseDocument(await readFile(join(dir, file), 'utf8'))
      const js = doc.toJS() as { spec: Record<string, unknown> }
      edit(js.spec)
      doc.set('spec', doc.createNode(js.spec))
      await writeFile(join(dir, file), doc.toString())
    }
    return await loadSet([dir], dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * A generated set: one Appliance `lab` and `n` Apps joining it. Every 10th App has a static
 * address, every App exposes one port with tls cycling internal/acme/none, every 7th a second
 * port on its own host, plus records and port forwards. The LAN is sized for `n`: a /24 up to
 * 100 apps, a /22 above.
 */
export async function generatedSet(n: number): Promise<ManifestSet> {
  const dir = await mkdtemp(join(tmpdir(), 'pxa-gen-'))
  try {
    const big = n > 100
    const subnet = big ? '10.60.0.0/22' : '10.50.0.0/24'
    const ip = (k: number): string => (big ? `10.60.${Math.floor(k / 256)}.${k % 256}` : `10.50.0.${k}`)
    const prefix = big ? 22 : 24
    const range = big ? { start: ip(3 * 256 + 100), end: ip(3 * 256 + 250) } : { start: ip(200), end: ip(250) }
    const docs: string[] = [
      [
        'apiVersion: proximity/v1alpha1',
        'kind: Appliance',
        'metadata: {name: lab}',
        'spec:',
        `  lan: {subnet: ${subnet}, gateway: ${ip(1)}, dhcpRange: {start: ${range.start}, end: ${range.end}}}`,
        '  dns: {domain: lab.home.arpa, upstream: [192.0.2.53, 198.51.100.53], records: [{name: nas, ip: ' + ip(2) + '}, {name: mirror.example.net, ip: 203.0.113.7}]}',
        '  proxy: {acmeEmail: admin@example.net}',
        `  nat: {masquerade: true, portForwards: [{port: 2222, to: "${ip(3)}:22"}, {port: 5353, protocol: udp, to: "${ip(3)}:53"}]}`,
      ].join('\n'),
    ]
    for (let i = 0; i < n; i++) {
      const name = `app-${String(i).padStart(3, '0')}`
      const tls = ['internal', 'acme', 'none'][i % 3]
      const expose = [`{port: ${3000 + (i % 50)}, tls: ${tls}}`]
      if (i % 7 === 0) expose.push(`{port: 9000, host: admin-${name}, tls: internal}`)
      const network = i % 10 === 0 ? `{appliance: lab, ip: ${ip(big ? 520 + i : 100 + i / 10)}/${prefix}}` : '{appliance: lab}'
      docs.push(
        [
          'apiVersion: proximity/v1alpha1',
          'kind: App',
          `metadata: {name: ${name}}`,
          'spec:',
          '  source: {compose: {services: {web: {image: "nginx:1.27"}}}}',
          `  network: ${network}`,
          `  expose: [${expose.join(', ')}]`,
        ].join('\n'),
      )
    }
    await writeFile(join(dir, 'set.yaml'), `${docs.join('\n---\n')}\n`)
    return await loadSet([dir], dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
