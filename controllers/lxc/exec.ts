/**
 * Audited node commands for one guest (`pct exec`, `pct push`, `pct set`) over SSH, with failures
 * mapped to typed errors (host-key and auth failures stall, connection failures are transient).
 * Arguments are argv arrays (the ssh provider quotes them); nothing is shell text.
 */
import type { ControllerContext } from '../../src/runtime/controller.js'
import type { ExecResult, NodeShell } from '../../src/providers/ssh/types.js'
import { audited } from '../shared/call.js'

/** A guest on a node plus the key of the object acting on it. */
export interface GuestRef {
  ctx: ControllerContext
  shell: NodeShell
  vmid: number
  node: string
  key: string
}

/** Opens the shell of the guest's node. */
export function guestRef(ctx: ControllerContext, key: string, vmid: number, node: string): GuestRef {
  return { ctx, shell: ctx.shells.forNode(node), vmid, node, key }
}

/**
 * `pct exec <vmid> -- argv…` (audited; resolves with the exit code, never throws for non-zero).
 * The output of a failed command (the text that ends up in error messages) has the object's
 * secret values replaced by `(sensitive)` (issue 7); `raw` keeps it as is, for callers that
 * read secrets back on purpose (the guest's `.env`) and never show the text.
 */
export async function exec(g: GuestRef, argv: string[], why: string, opts?: { stdin?: string; timeoutMs?: number; quiet?: boolean; raw?: boolean }): Promise<ExecResult> {
  const r = await audited(g.ctx, { action: 'ssh pct exec', target: `lxc/${g.vmid}`, reason: why, what: `${why} in guest ${g.vmid}` }, () =>
    g.shell.pctExec(g.vmid, argv, { stdin: opts?.stdin, timeoutMs: opts?.timeoutMs }),
  )
  if (r.code === 0 || opts?.raw || !g.ctx.redact) return r
  return { ...r, stdout: await g.ctx.redact(r.stdout), stderr: await g.ctx.redact(r.stderr) }
}

/** `pct push` of one file (atomic `.new` + `mv`), audited without its content. */
export function push(g: GuestRef, path: string, content: string, perms: string): Promise<void> {
  return audited(g.ctx, { action: 'ssh pct push', target: `lxc/${g.vmid}:${path}`, reason: `write ${path}`, what: `write ${path} in guest ${g.vmid}` }, () =>
    g.shell.pushFile(g.vmid, path, content, { perms }),
  )
}

/**
 * `pct set <vmid> --features …` as root@pam (Proxmox lets only root@pam set `keyctl`, so an API
 * token cannot). `why` is the audit reason. @default 'features for docker (keyctl needs root@pam)'
 */
export function setFeatures(g: GuestRef, features: Record<string, number>, why = 'features for docker (keyctl needs root@pam)'): Promise<void> {
  return audited(g.ctx, { action: 'ssh pct set', target: `lxc/${g.vmid}`, reason: why, what: `set features of guest ${g.vmid}` }, () =>
    g.shell.setFeatures(g.vmid, features),
  )
}

/** Last non-empty line of a command's stderr (or stdout), trimmed to 200 chars, for messages. */
export function tail(r: ExecResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => l.trim() !== '')
  const last = text[text.length - 1] ?? `exit ${r.code}`
  return last.length > 200 ? `${last.slice(0, 200)}…` : last
}
