/**
 * The node-shell port: the fixed vocabulary of node commands Proximity runs over SSH
 * (REFERENCE §8.2). Implemented by `createNodeShell` (client.ts) over ssh2, pinned to the host
 * key. Every argument is validated and shell-quoted by the command builders (commands.ts);
 * nothing a manifest contains is ever run as shell text.
 */

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface PctExecOptions {
  /** Bytes written to the command's stdin, then closed. */
  stdin?: string | Buffer
  /** @default 120_000 */
  timeoutMs?: number
}

export interface NodeShell {
  /** `pct exec <vmid> --keep-env 0 -- <argv…>`; resolves with the exit code (never throws for non-zero). */
  pctExec(vmid: number, argv: string[], opts?: PctExecOptions): Promise<ExecResult>
  /**
   * Writes `content` to `path` inside the CT: mkdir -p of the parent, upload to a temp file on
   * the node, `pct push` to `<path>.new` with `perms`, then `mv -f` into place (atomic).
   */
  pushFile(vmid: number, path: string, content: string | Buffer, opts?: { perms?: string }): Promise<void>
  /** `pct set <vmid> --features <k=v,…>` as root@pam (the only way to set keyctl=1). */
  setFeatures(vmid: number, features: Record<string, string | number>): Promise<void>
  /** `pct unlock <vmid>` — clears a stale lock. */
  unlock(vmid: number): Promise<void>
  /**
   * Like `pctExec`, but hands output over as it arrives and has no timeout (for `logs --follow`).
   * Resolves with the exit code (`aborted: true` and code 130 when `signal` ended it first);
   * `stdout` of the result is empty (it went to `onStdout`). Optional: added for `proximity logs`.
   */
  pctExecStream?(vmid: number, argv: string[], opts: PctExecStreamOptions): Promise<ExecResult & { aborted: boolean }>
  /** Closes the connection (idempotent); a later call reconnects lazily. */
  close(): Promise<void>
  /**
   * `sha256sum <path>` inside the CT: hex digest, or undefined when the file does not exist
   * (compare before pushFile to skip unchanged files). Optional: added after the first contract.
   */
  fileSha256?(vmid: number, path: string): Promise<string | undefined>
  /**
   * Version of a Debian package on the node (`dpkg-query -W -f='${Version}'`), undefined when not
   * installed; e.g. the lxc-pve ≥ 6.0.5-2 preflight (runtime REFERENCE §1.6). Optional.
   */
  nodePackageVersion?(pkg: string): Promise<string | undefined>
}

/** Options of `NodeShell.pctExecStream`. */
export interface PctExecStreamOptions {
  /** Called with each chunk of stdout as it arrives. */
  onStdout(chunk: Buffer): void
  /** Called with each chunk of stderr as it arrives. @default stderr is collected into the result */
  onStderr?(chunk: Buffer): void
  /** Aborting closes the channel (the remote command sees its client go); the call then resolves. */
  signal?: AbortSignal
}

/** Opens (or reuses) one connection per node. */
export interface NodeShellPool {
  forNode(node: string): NodeShell
  /** Number of SSH sessions opened so far (for the steady-state budget). */
  sessionsOpened(): number
  closeAll(): Promise<void>
}
