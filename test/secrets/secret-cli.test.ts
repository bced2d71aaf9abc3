import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { loadSecretKey, unsealValue } from '../../src/manifest/secrets.js'

let dir: string
/** A stand-in home folder: tests never write to the real one. */
let home: string

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

async function run(argv: string[], opts: { stdin?: string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const stdout = capture()
  const stderr = capture()
  const code = await main(argv, {
    stdin: Readable.from(opts.stdin ?? []),
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: opts.env ?? { HOME: home },
    cwd: opts.cwd ?? dir,
  })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proximity-secret-cli-'))
  home = await mkdtemp(join(dir, 'home-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('proximity secret keygen', () => {
  it('writes ~/.config/proximity/secret.key (0600) in a 0700 folder, never in the repo, and refuses to overwrite', async () => {
    const cwd = await mkdtemp(join(dir, 'repo-'))
    const first = await run(['secret', 'keygen'], { cwd })
    expect(first.code, first.stderr).toBe(0)
    const path = join(home, '.config', 'proximity', 'secret.key')
    expect(first.stdout).toContain(path)
    expect(first.stdout).toMatch(/out of git/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(`${path}.pub`)).mode & 0o777).toBe(0o644)
    expect((await stat(join(home, '.config', 'proximity'))).mode & 0o777).toBe(0o700)
    expect(existsSync(join(cwd, '.proximity'))).toBe(false)
    const before = await readFile(path, 'utf8')
    expect(first.stdout).not.toContain(JSON.parse(before).privateKey.d)

    const again = await run(['secret', 'keygen'], { cwd })
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists; pass --force/)
    expect(await readFile(path, 'utf8')).toBe(before)

    const forced = await run(['secret', 'keygen', '--force'], { cwd })
    expect(forced.code).toBe(0)
    expect(await readFile(path, 'utf8')).not.toBe(before)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('follows XDG_CONFIG_HOME (absolute only)', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'))
    const r = await run(['secret', 'keygen'], { env: { HOME: home, XDG_CONFIG_HOME: xdg } })
    expect(r.code, r.stderr).toBe(0)
    expect((await stat(join(xdg, 'proximity', 'secret.key'))).mode & 0o777).toBe(0o600)
    const otherHome = await mkdtemp(join(dir, 'home-'))
    const rel = await run(['secret', 'keygen'], { env: { HOME: otherHome, XDG_CONFIG_HOME: 'relative/config' } })
    expect(rel.code, rel.stderr).toBe(0)
    expect(existsSync(join(otherHome, '.config', 'proximity', 'secret.key'))).toBe(true)
  })

  it('keeps using a key left in ./.proximity, says how to move it, and will not make a second one', async () => {
    const cwd = await mkdtemp(join(dir, 'legacy-'))
    const legacyHome = await mkdtemp(join(dir, 'home-'))
    const env = { HOME: legacyHome }
    expect((await run(['secret', 'keygen', '--out', '.proximity/secret.key'], { cwd, env })).code).toBe(0)
    const sealed = await run(['secret', 'seal'], { cwd, env, stdin: ['v1'] })
    expect(sealed.code, sealed.stderr).toBe(0)
    expect(sealed.stderr).toContain('notice: using the secret key at ./.proximity/secret.key')
    expect(sealed.stderr).toContain(`mv ./.proximity/secret.key ./.proximity/secret.key.pub ${join(legacyHome, '.config', 'proximity')}/`)
    const m = /\{sealed: "([^"]+)"\}/.exec(sealed.stdout)
    expect(await unsealValue(m![1], await loadSecretKey(join(cwd, '.proximity', 'secret.key')))).toBe('v1')
    const second = await run(['secret', 'keygen'], { cwd, env })
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/is the secret key in use; move it rather than making a new one/)
    expect(existsSync(join(legacyHome, '.config', 'proximity', 'secret.key'))).toBe(false)
  })

  it('honours --out and PROXIMITY_KEY_FILE', async () => {
    const out = await run(['secret', 'keygen', '--out', 'keys/a.key'])
    expect(out.code).toBe(0)
    expect((await stat(join(dir, 'keys', 'a.key'))).mode & 0o777).toBe(0o600)
    const env = await run(['secret', 'keygen'], { env: { PROXIMITY_KEY_FILE: join(dir, 'env.key') } })
    expect(env.code).toBe(0)
    await stat(join(dir, 'env.key'))
    await stat(join(dir, 'env.key.pub'))
  })
})

describe('proximity secret seal', () => {
  it('prints a sealed value that unseals to the input minus one newline, never the plaintext', async () => {
    const keyFile = join(dir, 'seal.key')
    expect((await run(['secret', 'keygen', '--out', keyFile])).code).toBe(0)
    const r = await run(['secret', 'seal', '--key', keyFile], { stdin: ['hunter2\n'] })
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('hunter2')
    expect(r.stderr).not.toContain('hunter2')
    const m = /^\{sealed: "([A-Za-z0-9_.-]+)"\}\n$/.exec(r.stdout)
    expect(m).not.toBeNull()
    expect(await unsealValue(m![1], await loadSecretKey(keyFile))).toBe('hunter2')
  })

  it('prints NAME: {sealed: …} with --name, keeps inner newlines and works with the public key', async () => {
    const keyFile = join(dir, 'named.key')
    await run(['secret', 'keygen', '--out', keyFile])
    const r = await run(['secret', 'seal', '--key', `${keyFile}.pub`, '--name', 'DB_PASSWORD'], { stdin: ['line1\n', 'line2\n\n'] })
    expect(r.code).toBe(0)
    const m = /^DB_PASSWORD: \{sealed: "([^"]+)"\}\n$/.exec(r.stdout)
    expect(m).not.toBeNull()
    expect(await unsealValue(m![1], await loadSecretKey(keyFile))).toBe('line1\nline2\n')
  })

  const failures = [
    { name: 'missing key', reason: 'first run without keygen must say what to do', argv: ['--key', 'absent.key'], stdin: ['hunter2'], want: /keygen/ },
    { name: 'empty stdin', reason: 'sealing nothing is a mistake', argv: ['--key', 'seal.key'], stdin: ['\n'], want: /no value on stdin/ },
    { name: 'bad name', reason: 'the name becomes a YAML key and an .env variable', argv: ['--key', 'seal.key', '--name', 'a b'], stdin: ['hunter2'], want: /not a valid secret name/ },
  ]
  for (const c of failures) {
    it(`fails with exit 1: ${c.name} (${c.reason})`, async () => {
      const r = await run(['secret', 'seal', ...c.argv], { stdin: c.stdin })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(c.want)
      expect(r.stderr + r.stdout).not.toContain('hunter2')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    })
  }

  it('warns on stderr when the key file is readable by others', async () => {
    const keyFile = join(dir, 'loose.key')
    await run(['secret', 'keygen', '--out', keyFile])
    await writeFile(keyFile, await readFile(keyFile, 'utf8'), { mode: 0o644 })
    const { chmod } = await import('node:fs/promises')
    await chmod(keyFile, 0o644)
    const r = await run(['secret', 'seal', '--key', keyFile], { stdin: ['v'] })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/warning: .*chmod 600/)
  })

  it('has no unseal command', async () => {
    const r = await run(['secret', 'unseal'])
    expect(r.code).toBe(1)
  })

  it('documents every flag in --help', async () => {
    const r = await run(['secret', 'seal', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/--key <file>/)
    expect(r.stdout).toMatch(/--name <name>/)
    const k = await run(['secret', 'keygen', '--help'])
    expect(k.stdout).toMatch(/--out <file>/)
    expect(k.stdout).toMatch(/--force/)
  })
})
