import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { main } from '../../src/cli/main.js'
import { listCatalog } from '../../src/catalog/index.js'

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const sink = () => {
    const s = new PassThrough()
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    return { s, text: () => Buffer.concat(chunks).toString('utf8') }
  }
  const o = sink()
  const e = sink()
  const code = await main(argv, { stdin: Readable.from([]), stdout: o.s, stderr: e.s, env: {}, cwd: process.cwd() })
  return { code, stdout: o.text(), stderr: e.text() }
}

describe('proximity catalog list', () => {
  it('prints a NAME VERSION DESCRIPTION table with one row per app', async () => {
    const r = await run(['catalog', 'list'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+DESCRIPTION$/)
    expect(lines).toHaveLength(listCatalog().length + 1)
    expect(lines.find((l) => l.startsWith('whoami '))).toMatch(/^whoami\s+v1\.10\.3\s+Tiny HTTP server/)
    // columns line up: every VERSION starts at the same offset
    const col = lines[0].indexOf('VERSION')
    for (const l of lines.slice(1)) expect(l[col - 1]).toBe(' ')
  })

  const formats = [
    { name: 'json', reason: 'scripts parse the catalog', parse: (t: string) => JSON.parse(t) as unknown },
    { name: 'yaml', reason: 'humans and yq read YAML', parse: (t: string) => parse(t) as unknown },
  ]
  for (const f of formats) {
    it(`prints -o ${f.name} (${f.reason})`, async () => {
      const r = await run(['catalog', 'list', '-o', f.name])
      expect(r.code).toBe(0)
      const rows = f.parse(r.stdout) as { name: string; version: string; description: string }[]
      expect(rows.map((x) => x.name)).toEqual(listCatalog().map((e) => e.name))
      expect(rows[0]).toHaveProperty('version')
    })
  }

  it('rejects an unknown output format', async () => {
    const r = await run(['catalog', 'list', '-o', 'xml'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/unknown output format "xml"/)
  })
})

describe('proximity catalog show', () => {
  it('describes an app with an example manifest', async () => {
    const r = await run(['catalog', 'show', 'nextcloud'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Version:\s+30\.0\.4-apache/)
    expect(r.stdout).toMatch(/DB_PASSWORD/)
    expect(r.stdout).toMatch(/catalog: nextcloud/)
  })

  it('prints the full entry as yaml and json', async () => {
    const y = await run(['catalog', 'show', 'paperless-ngx', '-o', 'yaml'])
    expect(y.code).toBe(0)
    const doc = parse(y.stdout) as { name: string; compose: { services: Record<string, unknown> } }
    expect(doc.name).toBe('paperless-ngx')
    expect(Object.keys(doc.compose.services)).toEqual(['webserver', 'broker', 'db'])
    const j = await run(['catalog', 'show', 'whoami', '-o', 'json'])
    expect(JSON.parse(j.stdout).health.http.path).toBe('/health')
  })

  const unknown = [
    { name: 'typo', reason: 'a near miss gets a suggestion', given: 'uptime-kumo', want: /did you mean "uptime-kuma"/ },
    { name: 'prefix', reason: 'a shortened name gets a suggestion', given: 'paperless', want: /did you mean "paperless-ngx"/ },
    { name: 'unrelated', reason: 'no misleading suggestion for nonsense', given: 'zzzzzzzzzzzz', want: /run "proximity catalog list"/ },
  ]
  for (const c of unknown) {
    it(`exits 1 for an unknown name: ${c.name} (${c.reason})`, async () => {
      const r = await run(['catalog', 'show', c.given])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/unknown catalog app/)
      expect(r.stderr).toMatch(c.want)
      expect(r.stdout).toBe('')
    })
  }
})
