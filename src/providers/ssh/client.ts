/**
 * The node-shell adapter over ssh2: one pinned connection per node, opened lazily, reused for
 * every command (channels are multiplexed, at most `maxChannels` at once) and reopened when it
 * dropped. Commands come only from the builders in commands.ts. File contents travel over SFTP
 * to a unique temp file (`/tmp/proximity-<uuid>`, mode 0600, exclusive create) and are never
 * logged, audited or put into an error.
 */
import { createHash, randomUUID } from 'node:crypto'
import ssh2 from 'ssh2'
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2'
import type { ExecResult, NodeShell, NodeShellPool, PctExecOptions, PctExecStreamOptions } from './types.js'
import { SshError, SshHostKeyMismatchError } from './errors.js'
import { checkPath, checkPerms, checkVmid, dpkgVersionCommand, pctExecCommand, pctPushCommand, pctSetFeaturesCommand, pctUnlockCommand } from './commands.js'

/** One audit record per node command (never with arguments or contents). */
export interface SshAuditEvent {
  /** e.g. `ssh pct exec` */
  action: string
  /** e.g. `pve/lxc/101` */
  target: string
  result: 'ok' | 'error'
  error?: string
}

/** Options of createNodeShellPool. */
export interface NodeShellPoolOptions {
  /** default endpoint (the sandbox serves every node on one endpoint) */
  host: string
  port: number
  user: string
  /** OpenSSH/PEM private key; either this or `password` */
  privateKey?: string
  password?: string
  /** pinned host key fingerprint, `SHA256:<base64>` */
  hostKey: string
  /** per-node endpoints; nodes without an entry use host/port */
  nodeHosts?: Record<string, { host: string; port: number }>
  /** per-command timeout in ms. @default 120_000 */
  timeoutMs?: number
  /** handshake timeout in ms. @default 20_000 */
  connectTimeoutMs?: number
  /** keepalive interval in ms. @default 15_000 */
  keepaliveIntervalMs?: number
  /** concurrent channels per connection. @default 8 */
  maxChannels?: number
  /** Send `PROXIMITY_NODE=<node>` with each command (the sandbox uses it; real sshd ignores it). @default true */
  sendNodeEnv?: boolean
  audit?: (e: SshAuditEvent) => void
}

/** OpenSSH-style `SHA256:<base64 without padding>` of a public key blob. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')
}

function normaliseFingerprint(fp: string): string {
  return fp.trim().replace(/=+$/, '')
}

/** A node shell with extras beyond the NodeShell contract. */
export interface SshNodeShell extends NodeShell {
  /** `sha256sum <path>` in the CT: the hex digest, or undefined when the file does not exist. */
  fileSha256(vmid: number, path: string): Promise<string | undefined>
  /** Version of a Debian package on the node (`dpkg-query`), undefined when not installed. */
  nodePackageVersion(pkg: string): Promise<string | undefined>
}

/** The pool createNodeShellPool returns (its shells carry the extras). */
export interface SshNodeShellPool extends NodeShellPool {
  forNode(node: string): SshNodeShell
}

class NodeConnection implements SshNodeShell {
  private conn?: Client
  private connecting?: Promise<Client>
  private active = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly node: string,
    private readonly endpoint: { host: string; port: number },
    private readonly opts: NodeShellPoolOptions,
    private readonly onOpened: () => void,
  ) {}

  private client(): Promise<Client> {
    if (this.conn) return Promise.resolve(this.conn)
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined))
    return this.connecting
  }

  private connect(): Promise<Client> {
    const c = new ssh2.Client()
    // Each in-flight command (at most maxChannels) and each pushFile's SFTP session listens for
    // 'close' to fail fast on a dropped connection; the count is bounded, so raise the limit.
    c.setMaxListeners((this.opts.maxChannels ?? 8) * 2 + 8)
    const expected = normaliseFingerprint(this.opts.hostKey)
    let mismatch: SshHostKeyMismatchError | undefined
    this.onOpened()
    return new Promise<Client>((resolve, reject) => {
      let settled = false
      c.on('ready', () => {
        c.setNoDelay(true)
        settled = true
        this.conn = c
        resolve(c)
      })
      c.on('error', (err: Error & { level?: string }) => {
        if (settled) return
        settled = true
        if (mismatch) return reject(mismatch)
        const code = err.level === 'client-authentication' ? 'auth' : 'connect'
        const msg = code === 'auth'
          ? `ssh authentication failed for ${this.opts.user}@${this.endpoint.host}; check cluster.ssh.privateKey`
          : `cannot connect to node ${this.node} over ssh (${this.endpoint.host}:${this.endpoint.port}): ${err.message}`
        reject(new SshError(code, msg, { cause: err }))
      })
      c.on('close', () => {
        if (this.conn === c) this.conn = undefined
        if (!settled) {
          settled = true
          reject(mismatch ?? new SshError('connect', `ssh connection to node ${this.node} closed during handshake`))
        }
      })
      c.connect({
        host: this.endpoint.host,
        port: this.endpoint.port,
        username: this.opts.user,
        privateKey: this.opts.privateKey,
        password: this.opts.password,
        readyTimeout: this.opts.connectTimeoutMs ?? 20_000,
        keepaliveInterval: this.opts.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const actual = fingerprintOf(key)
          if (actual === expected) return true
          mismatch = new SshHostKeyMismatchError(expected, actual, `${this.endpoint.host}:${this.endpoint.port}`)
          return false
        },
      })
    })
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.opts.maxChannels ?? 8
    if (this.active >= max) await new Promise<void>((r) => this.waiting.push(r))
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }

  private audit(action: string, target: string, err?: unknown): void {
    this.opts.audit?.({ action: `ssh ${action}`, target, result: err ? 'error' : 'ok', ...(err ? { error: err instanceof Error ? err.message : String(err) } : {}) })
  }

  /** Runs one command string; resolves with its exit status. */
  private run(command: string, name: string, o: PctExecOptions = {}): Promise<ExecResult> {
    return this.slot(async () => {
      const c = await this.client()
      const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 120_000
      return new Promise<ExecResult>((resolve, reject) => {
        const env = this.opts.sendNodeEnv === false ? undefined : { PROXIMITY_NODE: this.node }
        let done = false
        const onDrop = (): void => finish(new SshError('closed', `ssh connection to node ${this.node} dropped during ${name}`, { command: name }))
        let timer: NodeJS.Timeout | undefined
        let stream: ClientChannel | undefined
        const finish = (err: Error | undefined, res?: ExecResult): void => {
          if (done) return
          done = true
          if (timer) clearTimeout(timer)
          c.off('close', onDrop)
          if (err) reject(err)
          else resolve(res as ExecResult)
        }
        c.once('close', onDrop)
        timer = setTimeout(() => {
          finish(new SshError('timeout', `${name} on node ${this.node} timed out after ${timeoutMs} ms`, { command: name }))
          try {
            stream?.signal('KILL')
            stream?.close()
          } catch {
            // channel already gone
          }
        }, timeoutMs)
        c.exec(command, env ? { env } : {}, (err, ch) => {
          if (err) return finish(new SshError('closed', `cannot open ssh channel to node ${this.node}: ${err.message}`, { command: name, cause: err }))
          stream = ch
          const out: Buffer[] = []
          const errOut: Buffer[] = []
          let code: number | undefined
          let signal: string | undefined
          ch.on('error', (e: Error) => finish(new SshError('closed', `ssh channel to node ${this.node} failed during ${name}: ${e.message}`, { command: name })))
          ch.on('data', (d: Buffer) => out.push(d))
          ch.stderr.on('data', (d: Buffer) => errOut.push(d))
          ch.on('exit', (c0: number | null, sig?: string) => {
            if (typeof c0 === 'number') code = c0
            else signal = sig
          })
          ch.on('close', () => {
            if (code === undefined && signal === undefined) return finish(new SshError('closed', `${name} on node ${this.node} ended without an exit status`, { command: name }))
            finish(undefined, { code: code ?? 128 + 9, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') })
          })
          if (o.stdin !== undefined) ch.end(o.stdin)
          else ch.end()
        })
      })
    })
  }

  async pctExec(vmid: number, argv: string[], o?: PctExecOptions): Promise<ExecResult> {
    const cmd = pctExecCommand(vmid, argv)
    const target = `${this.node}/lxc/${vmid}`
    try {
      const r = await this.run(cmd, 'pct exec', o)
      this.audit('pct exec', target)
      return r
    } catch (e) {
      this.audit('pct exec', target, e)
      throw e
    }
  }

  async pctExecStream(vmid: number, argv: string[], o: PctExecStreamOptions): Promise<ExecResult & { aborted: boolean }> {
    const cmd = pctExecCommand(vmid, argv)
    const target = `${this.node}/lxc/${vmid}`
    try {
      const r = await this.stream(cmd, 'pct exec', o)
      this.audit('pct exec', target)
      return r
    } catch (e) {
      this.audit('pct exec', target, e)
      throw e
    }
  }

  /** Runs one command string, handing output over as it arrives; no timeout (the caller aborts). */
  private stream(command: string, name: string, o: PctExecStreamOptions): Promise<ExecResult & { aborted: boolean }> {
    return this.slot(async () => {
      const c = await this.client()
      return new Promise<ExecResult & { aborted: boolean }>((resolve, reject) => {
        const env = this.opts.sendNodeEnv === false ? undefined : { PROXIMITY_NODE: this.node }
        let done = false
        let aborted = false
        let channel: ClientChannel | undefined
        const onDrop = (): void => finish(new SshError('closed', `ssh connection to node ${this.node} dropped during ${name}`, { command: name }))
        const onAbort = (): void => {
          aborted = true
          try {
            channel?.close()
          } catch {
            // channel already gone
          }
          if (!channel) finish(undefined, { code: 130, stdout: '', stderr: '', aborted: true })
        }
        const finish = (err: Error | undefined, res?: ExecResult & { aborted: boolean }): void => {
          if (done) return
          done = true
          c.off('close', onDrop)
          o.signal?.removeEventListener('abort', onAbort)
          if (err) reject(err)
          else resolve(res as ExecResult & { aborted: boolean })
        }
        c.once('close', onDrop)
        if (o.signal?.aborted) return onAbort()
        o.signal?.addEventListener('abort', onAbort, { once: true })
        c.exec(command, env ? { env } : {}, (err, ch) => {
          if (err) return finish(new SshError('closed', `cannot open ssh channel to node ${this.node}: ${err.message}`, { command: name, cause: err }))
          channel = ch
          if (aborted) ch.close()
          const errOut: Buffer[] = []
          let code: number | undefined
          ch.on('error', (e: Error) => finish(aborted ? undefined : new SshError('closed', `ssh channel to node ${this.node} failed during ${name}: ${e.message}`, { command: name }), { code: 130, stdout: '', stderr: '', aborted: true }))
          ch.on('data', (d: Buffer) => o.onStdout(d))
          ch.stderr.on('data', (d: Buffer) => (o.onStderr ? o.onStderr(d) : errOut.push(d)))
          ch.on('exit', (c0: number | null) => {
            if (typeof c0 === 'number') code = c0
          })
          ch.on('close', () => {
            if (aborted) return finish(undefined, { code: 130, stdout: '', stderr: Buffer.concat(errOut).toString('utf8'), aborted: true })
            if (code === undefined) return finish(new SshError('closed', `${name} on node ${this.node} ended without an exit status`, { command: name }))
            finish(undefined, { code, stdout: '', stderr: Buffer.concat(errOut).toString('utf8'), aborted: false })
          })
          ch.end()
        })
      })
    })
  }

  private async must(command: string, name: string, target: string, what: string): Promise<void> {
    const r = await this.run(command, name)
    if (r.code !== 0) throw new SshError('command', `${what} failed (exit ${r.code}): ${lastLine(r.stderr)}`, { command: name, stderr: r.stderr, exitCode: r.code })
    void target
  }

  async pushFile(vmid: number, path: string, content: string | Buffer, o: { perms?: string } = {}): Promise<void> {
    checkVmid(vmid)
    checkPath(path)
    const perms = checkPerms(o.perms ?? '0644')
    const target = `${this.node}/lxc/${vmid}`
    const parent = path.slice(0, path.lastIndexOf('/')) || '/'
    const tmp = `/tmp/proximity-${randomUUID()}`
    try {
      if (parent !== '/') await this.must(pctExecCommand(vmid, ['mkdir', '-p', parent]), 'pct exec', target, `creating ${parent} in CT ${vmid}`)
      await this.upload(tmp, typeof content === 'string' ? Buffer.from(content) : content)
      try {
        await this.must(pctPushCommand(vmid, tmp, `${path}.new`, perms), 'pct push', target, `pushing ${path} to CT ${vmid}`)
        await this.must(pctExecCommand(vmid, ['mv', '-f', `${path}.new`, path]), 'pct exec', target, `moving ${path}.new into place in CT ${vmid}`)
      } finally {
        await this.unlink(tmp).catch(() => undefined)
      }
      this.audit('pct push', target)
    } catch (e) {
      this.audit('pct push', target, e)
      throw e
    }
  }

  private withSftp<T>(fn: (s: SFTPWrapper) => Promise<T>): Promise<T> {
    return this.slot(async () => {
      const c = await this.client()
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        c.sftp((err, s) => (err ? reject(new SshError('closed', `cannot open sftp to node ${this.node}: ${err.message}`, { command: 'sftp' })) : resolve(s))),
      )
      sftp.on('error', () => undefined)
      try {
        return await fn(sftp)
      } finally {
        sftp.end()
      }
    })
  }

  private upload(path: string, data: Buffer): Promise<void> {
    return this.withSftp(
      (s) =>
        new Promise<void>((resolve, reject) => {
          const fail = (err: Error): void => reject(new SshError('command', `upload to node ${this.node} failed: ${err.message}`, { command: 'sftp' }))
          s.open(path, 'wx', { mode: 0o600 }, (err, handle) => {
            if (err) return fail(err)
            const close = (after?: Error): void => s.close(handle, (e2) => (after ?? e2 ? fail((after ?? e2) as Error) : resolve()))
            if (data.length === 0) return close()
            s.write(handle, data, 0, data.length, 0, (e) => close(e ?? undefined))
          })
        }),
    )
  }

  private unlink(path: string): Promise<void> {
    return this.withSftp((s) => new Promise<void>((resolve, reject) => s.unlink(path, (err) => (err ? reject(err) : resolve()))))
  }

  async setFeatures(vmid: number, features: Record<string, string | number>): Promise<void> {
    const target = `${this.node}/lxc/${vmid}`
    try {
      await this.must(pctSetFeaturesCommand(vmid, features), 'pct set', target, `setting features of CT ${vmid}`)
      this.audit('pct set', target)
    } catch (e) {
      this.audit('pct set', target, e)
      throw e
    }
  }

  async unlock(vmid: number): Promise<void> {
    const target = `${this.node}/lxc/${vmid}`
    try {
      await this.must(pctUnlockCommand(vmid), 'pct unlock', target, `unlocking CT ${vmid}`)
      this.audit('pct unlock', target)
    } catch (e) {
      this.audit('pct unlock', target, e)
      throw e
    }
  }

  async fileSha256(vmid: number, path: string): Promise<string | undefined> {
    checkPath(path)
    const r = await this.pctExec(vmid, ['sha256sum', path])
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined
      throw new SshError('command', `sha256sum in CT ${vmid} failed (exit ${r.code}): ${lastLine(r.stderr)}`, { command: 'pct exec', stderr: r.stderr, exitCode: r.code })
    }
    return /^[0-9a-f]{64}/.exec(r.stdout)?.[0]
  }

  async nodePackageVersion(pkg: string): Promise<string | undefined> {
    const r = await this.run(dpkgVersionCommand(pkg), 'dpkg-query')
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : undefined
  }

  async close(): Promise<void> {
    const c = this.conn
    this.conn = undefined
    if (!c) return
    await new Promise<void>((resolve) => {
      c.once('close', () => resolve())
      c.end()
      setTimeout(resolve, 1000).unref()
    })
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return (lines[lines.length - 1] ?? '').slice(0, 300) || 'no error output'
}

/**
 * Creates the pool: `forNode(node)` returns that node's shell (one lazily opened connection,
 * reused; reconnects after a drop). `sessionsOpened()` counts connection attempts. Host keys are
 * pinned: a mismatch refuses the connection before any command is sent.
 */
export function createNodeShellPool(opts: NodeShellPoolOptions): SshNodeShellPool {
  if (!opts.privateKey && !opts.password) throw new SshError('invalid-argument', 'ssh needs a private key or a password')
  if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(opts.hostKey.trim())) throw new SshError('invalid-argument', 'ssh hostKey must be a SHA256:<base64> fingerprint as printed by ssh-keygen -lf')
  const shells = new Map<string, NodeConnection>()
  let opened = 0
  return {
    forNode(node: string): SshNodeShell {
      let s = shells.get(node)
      if (!s) {
        s = new NodeConnection(node, opts.nodeHosts?.[node] ?? { host: opts.host, port: opts.port }, opts, () => opened++)
        shells.set(node, s)
      }
      return s
    },
    sessionsOpened: () => opened,
    async closeAll() {
      const all = [...shells.values()]
      shells.clear()
      await Promise.all(all.map((s) => s.close()))
    },
  }
}
