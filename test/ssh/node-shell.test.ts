import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import ssh2 from 'ssh2'
import { startTestNode } from './helpers.js'
import type { TestNode } from './helpers.js'
import { SshError, SshHostKeyMismatchError } from '../../src/providers/ssh/errors.js'
import { ctState } from '../../src/sim/ct-state.js'
import { CtFilesystem } from '../../src/sim/ct-fs.js'

let t: TestNode

beforeAll(async () => {
  t = await startTestNode()
  t.addGuest(101)
  t.addGuest(102, { status: 'stopped' })
  t.addGuest(201, { node: 'pve2' })
})
afterAll(async () => {
  await t.close()
})

function ctFs(vmid: number): CtFilesystem {
  const g = t.guests.get(vmid)!
  return new CtFilesystem(ctState(g.runtime, t.clock.now).fs, () => t.clock.now)
}

/** Runs a raw command string over a fresh ssh2 client (to test what the server refuses). */
async function rawExec(command: string): Promise<{ code: number; stderr: string }> {
  const c = new ssh2.Client()
  await new Promise<void>((resolve, reject) => {
    c.on('ready', () => resolve()).on('error', reject)
    c.connect({ host: '127.0.0.1', port: t.node.port, username: 'root', password: t.password })
  })
  try {
    return await new Promise((resolve, reject) => {
      c.exec(command, (err, ch) => {
        if (err) return reject(err)
        let stderr = ''
        let code = -1
        ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
        ch.on('data', () => undefined)
        ch.on('exit', (c0: number) => (code = c0))
        ch.on('close', () => resolve({ code, stderr }))
        ch.end()
      })
    })
  } finally {
    c.end()
  }
}

describe('ssh node shell: connection and auth', () => {
  it('runs a command in the CT with key auth and reports the exit code', async () => {
    const pool = t.pool()
    const r = await pool.forNode('pve1').pctExec(101, ['cat', '/etc/alpine-release'])
    expect(r).toEqual({ code: 0, stdout: '3.22.1\n', stderr: '' })
    const missing = await pool.forNode('pve1').pctExec(101, ['cat', '/nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("cat: can't open '/nope': No such file or directory")
    expect(pool.audits.map((a) => a.action)).toEqual(['ssh pct exec', 'ssh pct exec'])
    await pool.closeAll()
  })

  it('authenticates with a password too', async () => {
    const pool = t.pool({ privateKey: undefined, password: t.password })
    expect((await pool.forNode('pve1').pctExec(101, ['true'])).code).toBe(0)
    await pool.closeAll()
  })

  it('rejects a wrong key and a wrong password with an auth error', async () => {
    const byKey = t.pool({ privateKey: t.keys.otherPrivate })
    await expect(byKey.forNode('pve1').pctExec(101, ['true'])).rejects.toMatchObject({ code: 'auth' })
    const byPw = t.pool({ privateKey: undefined, password: 'wrong' })
    await expect(byPw.forNode('pve1').pctExec(101, ['true'])).rejects.toMatchObject({ code: 'auth' })
  })

  it('refuses a host key that does not match the pinned fingerprint and sends nothing', async () => {
    const before = t.log.length
    const wrong = 'SHA256:' + Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')
    const pool = t.pool({ hostKey: wrong })
    const err = await pool.forNode('pve1').pctExec(101, ['mkdir', '/opt/should-not-exist']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SshHostKeyMismatchError)
    expect((err as SshHostKeyMismatchError).expected).toBe(wrong)
    expect((err as SshHostKeyMismatchError).actual).toBe(t.node.hostKeyFingerprint)
    expect(t.log.length).toBe(before)
    expect(ctFs(101).isDir('/opt/should-not-exist')).toBe(false)
  })

  it('reuses one connection for many commands and pushes', async () => {
    const pool = t.pool()
    const sh = pool.forNode('pve1')
    await Promise.all(Array.from({ length: 12 }, (_, i) => sh.pctExec(101, ['echo', String(i)])))
    for (let i = 0; i < 5; i++) await sh.pushFile(101, `/root/f${i}`, `content ${i}`)
    expect(pool.sessionsOpened()).toBe(1)
    await pool.closeAll()
  })

  it('reconnects after the server dropped the connection', async () => {
    const pool = t.pool()
    const sh = pool.forNode('pve1')
    expect((await sh.pctExec(101, ['true'])).code).toBe(0)
    t.node.dropConnections()
    await new Promise((r) => setTimeout(r, 50))
    expect((await sh.pctExec(101, ['true'])).code).toBe(0)
    expect(pool.sessionsOpened()).toBe(2)
    await pool.closeAll()
  })

  it('times out a command that does not finish', async () => {
    const pool = t.pool()
    const err = await pool.forNode('pve1').pctExec(101, ['sleep', '5'], { timeoutMs: 200 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SshError)
    expect((err as SshError).code).toBe('timeout')
    expect((err as SshError).transient).toBe(true)
    // the connection stays usable
    expect((await pool.forNode('pve1').pctExec(101, ['true'])).code).toBe(0)
    await pool.closeAll()
  })

  it('refuses interactive shells', async () => {
    const c = new ssh2.Client()
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve()).on('error', reject)
      c.connect({ host: '127.0.0.1', port: t.node.port, username: 'root', password: t.password })
    })
    const stderr = await new Promise<string>((resolve, reject) => {
      c.shell(false, (err, ch) => {
        if (err) return reject(err)
        let s = ''
        ch.stderr.on('data', (d: Buffer) => (s += d.toString()))
        ch.on('data', () => undefined)
        ch.on('close', () => resolve(s))
      })
    })
    c.end()
    expect(stderr).toContain('interactive shells are not supported')
  })
})

describe('ssh node shell: pct errors', () => {
  it('fails on a stopped CT like pct does', async () => {
    const pool = t.pool()
    const r = await pool.forNode('pve1').pctExec(102, ['true'])
    expect(r.code).toBe(255)
    expect(r.stderr.trim()).toBe("container '102' not running!")
    const err = await pool.forNode('pve1').pushFile(102, '/root/x', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SshError)
    expect((err as SshError).stderr).toContain("container '102' not running!")
    await pool.closeAll()
  })

  it('fails for a CT on another node with the missing-config message', async () => {
    const pool = t.pool()
    const r = await pool.forNode('pve1').pctExec(201, ['true'])
    expect(r.code).toBe(255)
    expect(r.stderr.trim()).toBe("Configuration file 'nodes/pve1/lxc/201.conf' does not exist")
    expect((await pool.forNode('pve2').pctExec(201, ['true'])).code).toBe(0)
    const none = await pool.forNode('pve1').pctExec(999, ['true'])
    expect(none.stderr.trim()).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist")
    await pool.closeAll()
  })

  it('pct push needs the parent directory (pushFile creates it first)', async () => {
    const r = await rawExec("pct push 101 /tmp/none /opt/nodir/file --perms 0644")
    expect(r.code).toBe(255)
    expect(r.stderr).toContain('failed to open /tmp/none')
    const pool = t.pool()
    await pool.forNode('pve1').pushFile(101, '/opt/deep/er/app.conf', 'a=1\n', { perms: '0600' })
    const fs = ctFs(101)
    expect(fs.read('/opt/deep/er/app.conf').toString()).toBe('a=1\n')
    expect(fs.mode('/opt/deep/er/app.conf')).toBe(0o600)
    expect(fs.isFile('/opt/deep/er/app.conf.new')).toBe(false)
    await pool.closeAll()
  })

  it('sets features as root and unlocks', async () => {
    const pool = t.pool()
    const sh = pool.forNode('pve1')
    await sh.setFeatures(101, { nesting: 1, keyctl: 1 })
    expect(t.guests.get(101)!.config.features).toBe('nesting=1,keyctl=1')
    t.guests.get(101)!.lock = 'backup'
    await expect(sh.setFeatures(101, { nesting: 1 })).rejects.toMatchObject({ code: 'command', command: 'pct set', stderr: 'CT is locked (backup)' })
    await sh.unlock(101)
    expect(t.guests.get(101)!.lock).toBeUndefined()
    await expect(sh.setFeatures(101, { 'nesting;reboot': 1 })).rejects.toMatchObject({ code: 'invalid-argument' })
    await pool.closeAll()
  })

  it('reports the node lxc-pve version', async () => {
    const pool = t.pool()
    expect(await pool.forNode('pve1').nodePackageVersion('lxc-pve')).toBe('6.0.5-2')
    await pool.closeAll()
  })
})

describe('ssh node shell: injection attempts arrive as literal argv', () => {
  const nasty = [
    { name: 'semicolon', reason: 'a ; would end the command in a shell', value: 'a;reboot' },
    { name: 'command substitution', reason: '$(…) would run a command', value: '$(reboot)' },
    { name: 'backticks', reason: 'backticks are old-style substitution', value: '`reboot`' },
    { name: 'single quote', reason: "a ' would close our quoting", value: "a'b;c" },
    { name: 'double quote', reason: 'a " inside single quotes must stay literal', value: 'x"y"z' },
    { name: 'newline', reason: 'a newline would start a new command', value: 'line1\nrm -rf /' },
    { name: 'spaces and glob', reason: 'word splitting and globbing must not apply', value: '  two  words * ?' },
    { name: 'variable', reason: '$HOME would expand', value: '${HOME} $PATH' },
    { name: 'pipe and redirect', reason: 'operators must not be interpreted', value: 'a | b > /etc/passwd &' },
  ]
  it.each(nasty)('$name ($reason)', async ({ value }) => {
    const pool = t.pool()
    const sh = pool.forNode('pve1')
    const dir = '/opt/inj'
    const r = await sh.pctExec(101, ['echo', value])
    expect(r.stdout).toBe(`${value}\n`)
    if (!value.includes('\n') && !value.includes('/')) {
      await sh.pushFile(101, `${dir}/${value}`, value)
      expect(ctFs(101).read(`${dir}/${value}`).toString()).toBe(value)
      expect((await sh.pctExec(101, ['test', '-f', `${dir}/${value}`])).code).toBe(0)
    }
    await pool.closeAll()
  })

  it('the server refuses unquoted shell operators outright', async () => {
    for (const cmd of ['pct exec 101 -- true; reboot', 'pct exec 101 -- echo $(id)', 'pct exec 101 -- echo `id`', 'pct exec 101 -- true && reboot', 'pct exec 101 -- cat > /etc/x']) {
      const r = await rawExec(cmd)
      expect(r.code, cmd).toBe(2)
      expect(r.stderr.trim()).toBe('proximity-sim: shell operators are not supported')
    }
    const unknown = await rawExec('reboot')
    expect(unknown).toEqual({ code: 127, stderr: 'bash: reboot: command not found\n' })
  })

  it('unknown programs inside the CT exit 127 like lxc-attach', async () => {
    const pool = t.pool()
    const r = await pool.forNode('pve1').pctExec(101, ['definitely-not-here'])
    expect(r.code).toBe(127)
    expect(r.stderr).toContain('Failed to exec "definitely-not-here"')
    await pool.closeAll()
  })

  it('never logs file contents', async () => {
    const pool = t.pool()
    await pool.forNode('pve1').pushFile(101, '/root/secret.env', 'DB_PASSWORD=hunter2-very-secret\n', { perms: '0600' })
    const logged = JSON.stringify(t.log) + JSON.stringify(pool.audits)
    expect(logged).not.toContain('hunter2')
    expect(t.log.some((e) => e.route === 'pct push' && e.status === 0)).toBe(true)
    await pool.closeAll()
  })
})
