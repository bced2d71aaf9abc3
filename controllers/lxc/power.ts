/**
 * Power state of an owned guest: start (under the node's `start` semaphore), shut down, reboot.
 * Each call is audited, waits for its task and maps failures to typed errors. Not idempotent on
 * its own: callers decide from the observed status (a start of a running guest fails).
 */
import type { ControllerContext } from '../../src/runtime/controller.js'
import { audited, waitTask } from '../shared/call.js'

/** Semaphore resource of guest starts (per node). */
export const START_RESOURCE = 'start'

/** Where a guest runs and whose it is: enough to act on its power state. */
export interface PowerTarget {
  key: string
  vmid: number
  node: string
}

/** Starts the guest (reports `starting`), holding a per-node start slot until the task ends. */
export async function startGuest(ctx: ControllerContext, t: PowerTarget, why = 'state: running'): Promise<void> {
  ctx.progress(t.key, 'starting')
  await ctx.semaphores.node(t.node, START_RESOURCE, async () => {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/start', target: `lxc/${t.vmid}`, reason: why, what: `start guest ${t.vmid}` }, () => ctx.pve.startLxc(t.node, t.vmid))
    ctx.progress(t.key, 'starting', `vmid ${t.vmid}, task ${upid}`)
    await waitTask(ctx, t.node, upid, `start guest ${t.vmid}`)
  })
}

/** Shuts the guest down cleanly (reports `stopping`). */
export async function shutdownGuest(ctx: ControllerContext, t: PowerTarget, why = 'state: stopped'): Promise<void> {
  ctx.progress(t.key, 'stopping')
  const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/shutdown', target: `lxc/${t.vmid}`, reason: why, what: `stop guest ${t.vmid}` }, () => ctx.pve.shutdownLxc(t.node, t.vmid))
  await waitTask(ctx, t.node, upid, `stop guest ${t.vmid}`)
}

/** Reboots the guest so pending config changes take effect. */
export async function rebootGuest(ctx: ControllerContext, t: PowerTarget, why = 'pending changes'): Promise<void> {
  const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/reboot', target: `lxc/${t.vmid}`, reason: why, what: `restart guest ${t.vmid}` }, () => ctx.pve.rebootLxc(t.node, t.vmid))
  await waitTask(ctx, t.node, upid, `restart guest ${t.vmid}`)
}
