/**
 * The simulator's SSH node (ssh2 server): what Proximity reaches over SSH on a Proxmox node.
 *
 * - Auth: the configured user with the authorized public key or the password.
 * - `exec` only (no shell, no pty); SFTP for uploads into an in-memory node filesystem.
 * - The command string is split with a strict shell-WORD splitter (ct-shell-words.ts): quoting
 *   is honoured, but any unquoted operator is refused (exit 2), proving the client never needs a
 *   shell. Vocabulary: `pct exec|push|set|unlock`, `dpkg-query -W -f=${Version} PKG`,
 *   `pveversion`; anything else is `command not found` (127).
 * - One endpoint serves every node of the sandbox cluster. SIMPLIFICATION: a session may name its
 *   node with the `PROXIMITY_NODE` environment variable (SSH `env` request; the client sends it).
 *   With it, a command about a guest on another node fails like pct does on the wrong node
 *   (`Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist`); without it, each
 *   command runs as if on the node where the guest lives.
 * - Every command is logged via `access.log` (method `SSH`, route `pct exec` …); file contents
 *   and stdin are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import ssh2 from 'ssh2'
import type { Connection, ServerChannel } from 'ssh2'
import type { SimNodeAccess } from './contracts.js'
import { SimCommandError } from './contracts.js'
import { ShellWordsError, splitShellWords } from './ct-shell-words.js'
import { applyPowerChange, ctContext, listener, runInContainer } from './ct-runtime.js'
import type { LanPeer } from './ct-appliance.js'
import type { HostFs } from './ct-node-sftp.js'
import { hostPath, serveSftp } from './ct-node-sftp.js'

/** Environment variable naming the node a session acts on (see module doc). */
export const NODE_ENV_VAR = 'PROXIMITY_NODE'

/** Options of startSshNode. */
export interface SshNodeOptions {
  host: string
  /** 0 picks a free port */
  port: number
  /** OpenSSH-format private host key */
  hostKeyPem: string
  /** `ssh-ed25519 AAAA…` line of the one authorized client key */
  authorizedPublicKey: string
  password: string
  user: string
  /** Version `dpkg-query` reports for `lxc-pve` (REFERENCE runtime §1.6). @default '6.0.5-2' */
  lxcPveVersion?: string
}

/** A running SSH node. */
export interface SshNode {
  port: number
  /** `SHA256:<base64 without padding>`, as OpenSSH prints it */
  hostKeyFingerprint: string
  /** Drops every open connection (fault injection: clients must reconnect). */
  dropConnections(): void
  /** Number of connections accepted so far. */
  connectionsAccepted(): number
  close(): Promise<void>
}

interface Outcome {
  code: number
  stdout: string | Buffer
  stderr: string
  /** Streams more output after stdout (e.g. `logs --follow`); resolves with the exit status. */
  follow?: (emit: (chunk: string) => void, closed: () => boolean) => Promise<number>
}

/** OpenSSH-style SHA256 fingerprint of a public key blob. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')
}

function parsedKey(text: string, what: string): ssh2.ParsedKey {
  const k = ssh2.utils.parseKey(text)
  const key = Array.isArray(k) ? k[0] : k
  if (!key || key instanceof Error) throw new Error(`invalid ${what}: ${key instanceof Error ? key.message : 'no key'}`)
  return key
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest()
  const y = createHash('sha256').update(b).digest()
  return timingSafeEqual(x, y)
}

/** Starts the SSH node; see the module doc for its behaviour. */
export async function startSshNode(access: SimNodeAccess, opts: SshNodeOptions): Promise<SshNode> {
  const hostKey = parsedKey(opts.hostKeyPem, 'host key')
  const authKey = parsedKey(opts.authorizedPublicKey, 'authorized public key')
  const authBlob = authKey.getPublicSSH()
  const hostFs: HostFs = new Map()
  const clients = new Set<Connection>()
  let accepted = 0
  const lxcPve = opts.lxcPveVersion ?? '6.0.5-2'

  const server = new ssh2.Server({ hostKeys: [opts.hostKeyPem] }, (client) => {
    accepted++
    clients.add(client)
    ;(client as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true)
    client.on('close', () => clients.delete(client))
    client.on('error', () => clients.delete(client))
    client.on('authentication', (ctx) => {
      if (ctx.username !== opts.user) return ctx.reject()
      if (ctx.method === 'password') return sameSecret(ctx.password, opts.password) ? ctx.accept() : ctx.reject()
      if (ctx.method === 'publickey') {
        if (ctx.key.algo !== authKey.type || !ctx.key.data.equals(authBlob)) return ctx.reject()
        if (!ctx.signature) return ctx.accept()
        return authKey.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject()
      }
      ctx.reject(['publickey', 'password'])
    })
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession()
        const env: Record<string, string> = {}
        session.on('env', (accept, _reject, info) => {
          env[info.key] = info.val
          accept?.()
        })
        session.on('pty', (_accept, reject) => reject?.())
        session.on('shell', (accept) => {
          const ch = accept()
          ch.stderr.write('proximity-sim: interactive shells are not supported; send one command per exec request\n')
          ch.exit(1)
          ch.end()
        })
        session.on('exec', (accept, _reject, info) => {
          const ch = accept()
          void handleExec(ch, info.command, env[NODE_ENV_VAR])
        })
        session.on('sftp', (accept) => {
          const sftp = accept()
          sftp.on('error', () => undefined)
          serveSftp(sftp, hostFs)
        })
        session.on('subsystem', (_accept, reject) => reject())
      })
    })
  })

  async function handleExec(ch: ServerChannel, command: string, node: string | undefined): Promise<void> {
    const started = Date.now()
    const chunks: Buffer[] = []
    let stdinDone = false
    const waiters: (() => void)[] = []
    ch.on('error', () => undefined)
    ch.on('data', (d: Buffer) => chunks.push(d))
    ch.on('end', () => {
      stdinDone = true
      for (const w of waiters.splice(0)) w()
    })
    const readStdin = (): Promise<Buffer> =>
      stdinDone ? Promise.resolve(Buffer.concat(chunks)) : new Promise((r) => waiters.push(() => r(Buffer.concat(chunks))))
    let argv: string[] = []
    let route = 'invalid'
    let out: Outcome
    try {
      argv = splitShellWords(command)
      route = argv[0] === 'pct' && argv[1] ? `pct ${argv[1]}` : argv[0] ?? ''
      out = await dispatch(argv, node, readStdin)
    } catch (e) {
      if (e instanceof ShellWordsError) out = { code: e.exitCode, stdout: '', stderr: e.message }
      else if (e instanceof SimCommandError) out = { code: e.exitCode, stdout: '', stderr: e.message }
      else out = { code: 255, stdout: '', stderr: `proximity-sim: internal error: ${(e as Error).message}` }
    }
    access.log({ method: 'SSH', route, path: argv.length ? argv.join(' ') : '(refused)', status: out.code, durationMs: Date.now() - started })
    if (ch.destroyed) return
    try {
      if (out.stdout.length) ch.write(out.stdout)
      if (out.stderr) ch.stderr.write(out.stderr.endsWith('\n') ? out.stderr : out.stderr + '\n')
      let code = out.code
      if (out.follow) {
        let gone = false
        ch.once('close', () => (gone = true))
        code = await out.follow((chunk) => {
          if (!gone && !ch.destroyed) ch.write(chunk)
        }, () => gone || ch.destroyed)
        if (gone || ch.destroyed) return
      }
      ch.exit(code)
      ch.end()
    } catch {
      // the client went away (timeout or dropped connection); nothing left to tell it
    }
  }

  function lxcGuest(vmidText: string | undefined, node: string | undefined): { vmid: number; node: string; running: boolean; config: Record<string, string | number> } {
    if (!vmidText || !/^[1-9]\d{2,8}$/.test(vmidText)) throw new SimCommandError(`400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID`)
    const vmid = Number(vmidText)
    const g = access.getGuest(vmid)
    const here = node ?? g?.node ?? access.nodeNames()[0] ?? 'pve'
    if (!g || g.type !== 'lxc' || g.node !== here) throw new SimCommandError(`Configuration file 'nodes/${here}/lxc/${vmid}.conf' does not exist`)
    const runtime = access.runtime(vmid)
    const before = runtime.power
    applyPowerChange(runtime, g.status, g.config, () => access.now())
    if (runtime.power !== before) access.markDirty()
    return { vmid, node: g.node, running: g.status === 'running', config: g.config }
  }

  async function dispatch(argv: string[], node: string | undefined, readStdin: () => Promise<Buffer>): Promise<Outcome> {
    const [cmd, sub, ...rest] = argv
    if (cmd === 'pct') {
      switch (sub) {
        case 'exec': return pctExec(rest, node, readStdin)
        case 'push': return pctPush(rest, node)
        case 'set': return pctSet(rest, node)
        case 'unlock': {
          const g = lxcGuest(rest[0], node)
          if (rest.length !== 1) throw new SimCommandError('400 too many arguments')
          access.unlock(g.node, g.vmid)
          return { code: 0, stdout: '', stderr: '' }
        }
        case undefined: throw new SimCommandError('ERROR: no command specified\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]')
        default: throw new SimCommandError(`ERROR: unknown command 'pct ${sub}' (not simulated; use the API)\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]`)
      }
    }
    if (cmd === 'dpkg-query') {
      const pkg = argv[argv.length - 1]
      const fmt = argv.find((a) => a.startsWith('-f=') || a.startsWith('--showformat='))
      if (!argv.includes('-W') || pkg !== 'lxc-pve') return { code: 1, stdout: '', stderr: `dpkg-query: no packages found matching ${pkg ?? ''}` }
      return { code: 0, stdout: fmt ? lxcPve : `lxc-pve\t${lxcPve}\n`, stderr: '' }
    }
    if (cmd === 'pveversion') return { code: 0, stdout: 'pve-manager/9.1.2/5b1d2a3c4e5f6a7b (running kernel: 6.14.11-4-pve)\n', stderr: '' }
    if (cmd === 'rm' && argv.length === 3 && argv[1] === '-f') {
      const p = hostPath(argv[2])
      if (p) hostFs.delete(p)
      return { code: 0, stdout: '', stderr: '' }
    }
    return { code: 127, stdout: '', stderr: `bash: ${cmd ?? ''}: command not found` }
  }

  async function pctExec(rest: string[], node: string | undefined, readStdin: () => Promise<Buffer>): Promise<Outcome> {
    const g = lxcGuest(rest[0], node)
    let i = 1
    while (i < rest.length && rest[i] !== '--') {
      if (rest[i] === '--keep-env' && /^[01]$/.test(rest[i + 1] ?? '')) i += 2
      else if (rest[i].startsWith('-')) throw new SimCommandError(`Unknown option: ${rest[i].replace(/^-+/, '')}\n400 unable to parse option\npct exec <vmid> [<extra-args>] [OPTIONS]`)
      else break
    }
    if (rest[i] === '--') i++
    const cmdArgv = rest.slice(i)
    if (cmdArgv.length === 0) throw new SimCommandError('missing command')
    if (!g.running) throw new SimCommandError(`container '${g.vmid}' not running!`)
    const runtime = access.runtime(g.vmid)
    const before = JSON.stringify(runtime)
    const ctx = ctContext({ vmid: g.vmid, runtime, config: g.config, now: () => access.now(), hostLxcPveVersion: lxcPve, readStdin, lan: { peers: () => lanPeers(g.vmid, g.node) } })
    const r = await runInContainer(ctx, cmdArgv)
    if (JSON.stringify(runtime) !== before) access.markDirty()
    return r
  }

  /** The other running containers on `node`, as seen from a LAN (ct-appliance.ts). */
  function lanPeers(self: number, node: string): LanPeer[] {
    return access
      .guestsOn(node)
      .filter((p) => p.vmid !== self && p.type === 'lxc' && p.status === 'running')
      .map((p) => ({
        vmid: p.vmid,
        nets: Object.fromEntries(
          Object.entries(p.config)
            .filter(([k]) => /^net\d+$/.test(k))
            .map(([k, v]) => [k, Object.fromEntries(String(v).split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))]),
        ),
        listens: (port: number) => {
          const pctx = ctContext({ vmid: p.vmid, runtime: access.runtime(p.vmid), config: p.config, now: () => access.now(), hostLxcPveVersion: lxcPve, readStdin: async () => Buffer.alloc(0) })
          return listener(pctx, port) !== undefined
        },
      }))
  }

  function pctPush(rest: string[], node: string | undefined): Outcome {
    const g = lxcGuest(rest[0], node)
    const [, file, dest, ...flags] = rest
    if (!file || !dest) throw new SimCommandError('400 not enough arguments\npct push <vmid> <file> <destination> [OPTIONS]')
    let perms = 0o644
    for (let i = 0; i < flags.length; i += 2) {
      const [k, v] = [flags[i], flags[i + 1]]
      if (v === undefined) throw new SimCommandError(`400 missing value for option ${k}`)
      if (k === '--perms') {
        const n = v.startsWith('0x') ? parseInt(v.slice(2), 16) : /^[0-7]+$/.test(v) ? parseInt(v, 8) : NaN
        if (!Number.isInteger(n) || n > 0o7777) throw new SimCommandError(`invalid perms '${v}'`)
        perms = n
      } else if (k === '--user' || k === '--group') {
        if (v !== 'root' && v !== '0') throw new SimCommandError(`unknown ${k.slice(2)} '${v}'`)
      } else throw new SimCommandError(`Unknown option: ${k.replace(/^-+/, '')}\n400 unable to parse option`)
    }
    if (!g.running) throw new SimCommandError('can only push files to a running CT')
    const src = hostPath(file)
    const hf = src ? hostFs.get(src) : undefined
    if (!hf) throw new SimCommandError(`failed to open ${file} for reading`)
    const runtime = access.runtime(g.vmid)
    const ctx = ctContext({ vmid: g.vmid, runtime, config: g.config, now: () => access.now(), hostLxcPveVersion: lxcPve, readStdin: async () => Buffer.alloc(0) })
    try {
      if (!dest.startsWith('/')) throw new Error('relative')
      ctx.fs.write(dest, Buffer.from(hf.data), perms)
    } catch {
      throw new SimCommandError(`failed to create file: ${dest}: No such file or directory`)
    }
    access.markDirty()
    return { code: 0, stdout: '', stderr: '' }
  }

  function pctSet(rest: string[], node: string | undefined): Outcome {
    const g = lxcGuest(rest[0], node)
    const changes: Record<string, string> = {}
    const flags = rest.slice(1)
    for (let i = 0; i < flags.length; i += 2) {
      const k = flags[i]
      const v = flags[i + 1]
      if (!/^--[a-z][a-z0-9_-]*$/.test(k) || v === undefined) throw new SimCommandError(`400 unable to parse option '${k}'\npct set <vmid> [OPTIONS]`)
      changes[k.slice(2)] = v
    }
    if (Object.keys(changes).length === 0) throw new SimCommandError('400 no options specified')
    access.setConfigAsRoot(g.node, g.vmid, changes)
    return { code: 0, stdout: '', stderr: '' }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    hostKeyFingerprint: sshFingerprint(hostKey.getPublicSSH()),
    dropConnections() {
      for (const c of clients) c.end()
    },
    connectionsAccepted: () => accepted,
    close() {
      for (const c of clients) c.end()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
