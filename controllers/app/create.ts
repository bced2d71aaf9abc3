/**
 * Creating the guest (DESIGN §3, §5): place it, resolve the template, allocate a vmid, record the
 * pending create BEFORE the POST, create under the per-node semaphore, wait for the task. A retry
 * after a crash or a lost response finds the guest instead of creating a duplicate.
 */
import { isOwned, parseMarker } from '../../src/model/marker.js'
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { audited, isAlreadyExists, isNotFound, mapProviderError, read, TASK_POLL_MS } from './call.js'
import { createParams, desiredGuest } from './desired.js'
import { templateSpecOf } from './plan.js'
import { resolveTemplate } from './template.js'
import { allocateVmid } from './vmid.js'

export interface CreatedGuest {
  vmid: number
  node: string
  template: string
}

/** Picks the node: `spec.node`, else `placement` (spread: fewest guests; pack: first listed), else the default, else the first online node. */
export async function pickNode(ctx: ControllerContext, app: AppManifest): Promise<string> {
  if (app.spec.node) return app.spec.node
  const p = app.spec.placement
  if (p && p.nodes.length > 0) {
    if (p.strategy === 'pack') return p.nodes[0]
    const count = (n: string): number => ctx.snapshot.guests.filter((g) => g.node === n).length
    return [...p.nodes].sort((a, b) => count(a) - count(b) || (a < b ? -1 : 1))[0]
  }
  if (ctx.cluster.spec.defaults.node) return ctx.cluster.spec.defaults.node
  const nodes = await read('list nodes', () => ctx.pve.nodes())
  const online = nodes.filter((n) => n.status === 'online').map((n) => n.node).sort()
  if (online.length === 0) throw new TransientError('no proxmox node is online; waiting for one')
  return online[0]
}

/** Reads the config of a vmid and says whether it is our App guest. */
async function isOurs(ctx: ControllerContext, app: AppManifest, node: string, vmid: number): Promise<boolean> {
  try {
    const cfg = await ctx.pve.lxcConfig(node, vmid)
    const m = parseMarker(cfg.description === undefined ? undefined : String(cfg.description))
    return isOwned(m, ctx.cluster.spec.owner) && m.kind === 'App' && m.name === app.metadata.name
  } catch (err) {
    if (isNotFound(err)) return false
    throw mapProviderError(err, `read config of guest ${vmid}`)
  }
}

/**
 * Creates the guest (stopped, unprivileged, `nesting=1`, marker with an empty specHash so it is
 * recognisably ours from the first moment). Idempotent across retries via the pending record.
 */
export async function createGuest(ctx: ControllerContext, app: AppManifest, pendingVmid: number | undefined): Promise<CreatedGuest> {
  const key = `App/${app.metadata.name}`
  const node = await pickNode(ctx, app)
  ctx.progress(key, 'creating', `on ${node}`)
  const template = await resolveTemplate(ctx, node, templateSpecOf(app, ctx.cluster.spec), key)
  const taken = new Set<number>(ctx.snapshot.guests.map((g) => g.vmid))
  for (const p of ctx.store.listPendingCreates()) if (p.key !== key) taken.add(p.vmid)
  let vmid = pendingVmid !== undefined && !taken.has(pendingVmid) ? pendingVmid : allocateVmid(ctx.cluster.spec.vmidRange, taken)
  const guest = desiredGuest(app, ctx.cluster.spec, { markerSpecHash: '' })

  for (let attempt = 0; attempt < 5; attempt++) {
    await ctx.store.putPendingCreate({ key, vmid, node, startedAt: new Date(ctx.now()).toISOString() })
    let upid: string
    try {
      upid = await ctx.semaphores.node(node, 'create', () =>
        audited(ctx, { action: 'POST /nodes/{node}/lxc', target: `lxc/${vmid}`, reason: `create ${key}`, what: `create guest for App ${app.metadata.name}` }, () =>
          ctx.pve.createLxc(node, createParams(guest, vmid, template)),
        ),
      )
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
      // A retried POST or someone else's guest: look before doing anything else.
      if (await isOurs(ctx, app, node, vmid)) return { vmid, node, template }
      taken.add(vmid)
      vmid = allocateVmid(ctx.cluster.spec.vmidRange, taken)
      continue
    }
    ctx.progress(key, 'creating', `vmid ${vmid} on ${node}, task ${upid}`)
    try {
      await ctx.pve.waitTask(node, upid, { pollMs: TASK_POLL_MS })
    } catch (err) {
      await ctx.store.clearPendingCreate(key)
      const mapped = mapProviderError(err, `create guest for App ${app.metadata.name}`)
      if (mapped instanceof StalledError && mapped.reason === 'TaskFailed' && !isNotFound(err)) {
        // Proxmox rolled the create back; the vmid is free again. Retry later with backoff.
        throw new TransientError(mapped.message, { cause: err })
      }
      throw mapped
    }
    await ctx.refreshSnapshot()
    return { vmid, node, template }
  }
  throw new TransientError(`cannot create guest for App ${app.metadata.name}: every vmid tried was taken; retrying`)
}
