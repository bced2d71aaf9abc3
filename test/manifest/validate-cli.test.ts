/** `proximity validate` output forms and exit codes, through the real CLI entry. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateSecretKey, parseSecretKey, sealValue } from '../../src/manifest/secrets.js'
import { runCli } from './run-cli.js'

describe('proximity validate', () => {
  it('prints a summary and exits 0 for a valid set', async () => {
    const r = await runCli(['validate', '-f', 'test/fixtures/valid/homelab'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('valid: 7 manifests (1 Cluster, 3 Apps, 1 Appliance, 1 BackupPolicy, 1 Restore)\n')
  })

  it('prints every error then a summary, exit 1, for several inputs', async () => {
    const r = await runCli(['validate', '-f', 'test/fixtures/invalid/name-upper-case.yaml', '-f', 'test/fixtures/invalid/bad-unit-memory-mb.yaml'])
    expect(r.code).toBe(1)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toBe('test/fixtures/invalid/bad-unit-memory-mb.yaml:14:13: App/web: spec.resources.memory: must be a size such as 512Mi or 2Gi, or a number of MiB, got "512MB"')
    expect(lines[1]).toMatch(/^test\/fixtures\/invalid\/name-upper-case\.yaml:6:9: App\/Web: metadata\.name: /)
    expect(lines[2]).toBe('2 errors in 2 files')
  })

  it('prints JSON with -o json', async () => {
    const r = await runCli(['validate', '-f', 'test/fixtures/invalid/typo-spec-field.yaml', '-o', 'json'])
    expect(r.code).toBe(1)
    const body = JSON.parse(r.stdout) as { valid: boolean; errors: unknown[] }
    expect(body.valid).toBe(false)
    expect(body.errors).toEqual([
      { file: 'test/fixtures/invalid/typo-spec-field.yaml', line: 13, column: 3, kind: 'App', name: 'web', path: 'spec.resorces', message: 'unknown field "resorces"; did you mean "resources"?' },
    ])
    const ok = await runCli(['validate', '-f', 'test/fixtures/valid/homelab', '-o', 'json'])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, errors: [] })
  })

  it('rejects an unknown output format and a missing -f', async () => {
    const bad = await runCli(['validate', '-f', 'test/fixtures/valid/homelab', '-o', 'xml'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('unknown output format "xml"')
    const none = await runCli(['validate'])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('no manifests given; pass -f FILE or -f FOLDER')
  })

  it('documents itself in --help', async () => {
    const r = await runCli(['validate', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Exit codes: 0 valid, 1 invalid.')
    expect(r.stdout).toContain('--key <file>')
  })

  it('checks sealed values with --key, and only warns when no key exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prox-cli-key-'))
    const k = await generateSecretKey()
    await writeFile(join(dir, 'secret.key'), k.keyText, { mode: 0o600 })
    const sealed = await sealValue('p4ss', await parseSecretKey(k.keyText))
    await writeFile(join(dir, 'app.yaml'), `apiVersion: proximity/v1alpha1\nkind: App\nmetadata: {name: db}\nspec:\n  source: {compose: {services: {db: {image: "postgres:16"}}}}\n  secrets:\n    PW: {sealed: ${sealed}}\n`)
    const withKey = await runCli(['validate', '-f', 'app.yaml', '--key', 'secret.key'], dir)
    expect(withKey.code).toBe(0)
    expect(withKey.stderr).toBe('')
    const noKey = await runCli(['validate', '-f', 'app.yaml'], dir, { HOME: join(dir, 'home') })
    expect(noKey.code).toBe(0)
    expect(noKey.stderr).toBe('warning: app.yaml:7:9: App/db: spec.secrets.PW: sealed values cannot be checked: no secret key at home/.config/proximity/secret.key; pass --key FILE or set PROXIMITY_KEY_FILE\n')
    // -o json prints the normalised manifests, with sealed values shown as "(sealed)" only.
    const json = await runCli(['validate', '-f', 'app.yaml', '--key', 'secret.key', '-o', 'json'], dir)
    expect(json.code).toBe(0)
    expect(json.stdout).not.toContain(sealed)
    expect(json.stdout).not.toContain('p4ss')
    const body = JSON.parse(json.stdout) as { valid: boolean; manifests: { kind: string; spec: { secrets: Record<string, unknown>; resources: { memory: number } } }[] }
    expect(body.valid).toBe(true)
    expect(body.manifests[0].kind).toBe('App')
    expect(body.manifests[0].spec.secrets.PW).toEqual({ sealed: '(sealed)' })
    expect(typeof body.manifests[0].spec.resources.memory).toBe('number')
    await rm(dir, { recursive: true })
  })
})
