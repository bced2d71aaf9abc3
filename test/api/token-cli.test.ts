/** `proximity token issue|list|revoke` through the real CLI entry, in a temporary config dir. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { createTokenAuthority } from '../../src/api/tokens.js'

let dir: string

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) })
  const code = await main(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), stdin: Readable.from([]), env: { XDG_CONFIG_HOME: dir }, cwd: dir })
  return { code, stdout, stderr }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-token-cli-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('token CLI', () => {
  it('issues a viewer token as JSON with a dashboard URL carrying it in the fragment', async () => {
    const r = await cli(['token', 'issue', '--role', 'viewer', '--ttl', '2h', '--name', 'laptop', '-o', 'json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(Object.keys(j).sort()).toEqual(['expiresAt', 'id', 'role', 'token', 'url'])
    expect(j.url).toBe(`http://127.0.0.1:8080/#token=${j.token}`)
    const v = await createTokenAuthority({ configDir: join(dir, 'proximity') }).verify(j.token)
    expect(v.ok).toBe(true)
  })

  it('issues a metrics token without a URL, accepting plain seconds and days', async () => {
    const r = await cli(['token', 'issue', '--role', 'metrics', '--ttl', '3600', '-o', 'json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).url).toBeUndefined()
    expect((await cli(['token', 'issue', '--role', 'metrics', '--ttl', '30d'])).code).toBe(0)
  })

  it('lists tokens without printing them, and revokes by id', async () => {
    const issued = JSON.parse((await cli(['token', 'issue', '-o', 'json'])).stdout)
    const list = await cli(['token', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toContain(issued.id)
    expect(list.stdout).not.toContain(issued.token)
    expect((await cli(['token', 'revoke', issued.id])).stdout).toContain('revoked')
    const json = JSON.parse((await cli(['token', 'list', '-o', 'json'])).stdout)
    expect(json.items.find((t: { id: string }) => t.id === issued.id).revokedAt).toBeTruthy()
    const v = await createTokenAuthority({ configDir: join(dir, 'proximity') }).verify(issued.token)
    expect(v).toEqual({ ok: false, reason: 'token revoked' })
  })

  it('refuses bad input with exit 1 and a message', async () => {
    for (const args of [
      ['token', 'issue', '--role', 'admin'],
      ['token', 'issue', '--ttl', 'forever'],
      ['token', 'issue', '--url', 'ftp://x'],
      ['token', 'issue', '--name', 'a\nb'],
      ['token', 'revoke', 'no-such-id'],
    ]) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr).toMatch(/^error: /)
    }
  })
})
