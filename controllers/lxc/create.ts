/**
 * Creating an object's guest (DESIGN §3, §5): place it, resolve the template, allocate a vmid,
 * record the pending create BEFORE the POST, create under the per-node `create` semaphore, wait
 * for the task. A retry after a crash or a lost response finds the guest instead of creating a
 * duplicate (find-before-create).
 */
import type { ControllerContext } from '../../src/runtime/controller.js'
import { StalledError, TransientError } from '../../src/runtime/errors.js'
import { audited, isAlreadyExists, isTaskFailed, mapProviderError, read, TASK_POLL_MS } from '../shared/call.js'
import { isOwnGuest } from './find.js'
import type { GuestIdentity } from './identity.js'
import { resolveTemplate } from './template.js'
import { allocateVmid } from './vmid.js'

/** Semaphore resource of guest creates (per node). */
export const CREATE_RESOURCE = 'create'

/** Where a guest may go: a fixed node, or a placement over nodes. */
export interface Placement {
  node?: string
  placement?: { nodes: string[]; strategy: 'spread' | 'pack' }
}

/** What to create. */
export interface CreateGuestRequest {
  id: GuestIdentity
  where: Placement
  /** The template as written in the spec or the Cluster defaults (volid or aplinfo prefix). */
  templateSpec: string
  /**
   * `POST /nodes/{node}/lxc` parameters without `vmid` and `ostemplate` (added here). The
   * description must already carry the marker (with an empty specHash), so the guest is
   * recognisably ours from its first moment.
   */
  params: Record<string, string | number>
  /** vmid recorded by an earlier, interrupted create (reused when still free). */
  pendingVmid?: number
}

/** The guest createGuest made (or found: our own earlier create). It is stopped. */
export interface CreatedGuest {
  vmid: number
  node: string
  /** The volid the guest was created from. */
  template: string
}

/** What a pick reserves in the run's placement ledger (see ControllerContext.placements). */
export interface Reservation {
  key: string
  /** Memory of the new guest, MiB. */
  memoryMiB: number
}

const MIB = 1024 * 1024

/**
 * Memory given to guests per node (MiB): the snapshot's guests plus this run's placements whose
 * guests the snapshot does not show yet. `except` leaves out a key's own earlier reservation.
 */
function committedMemory(ctx: ControllerContext, except: string | undefined): { mib: Map<string, number>; guests: Map<string, number> } {
  const mib = new Map<string, number>()
  const guests = new Map<string, number>()
  const add = (node: string, m: number): void => {
    mib.set(node, (mib.get(node) ?? 0) + m)
    guests.set(node, (guests.get(node) ?? 0) + 1)
  }
  const seen = new Set<number>()
  for (const g of ctx.snapshot.guests) {
    seen.add(g.vmid)
    add(g.node, (g.maxmem ?? 0) / MIB)
  }
  for (const p of ctx.placements?.list() ?? []) if (p.key !== except && (p.vmid === undefined || !seen.has(p.vmid))) add(p.node, p.memoryMiB)
  return { mib, guests }
}

/**
 * Picks the node: `node`; else `placement` among its nodes that are online (one `/nodes` read) —
 * `pack`: the first listed; `spread`: the one with the least memory given to guests, counting the
 * guests this run already placed (then the fewest guests, then the name) — else the Cluster
 * default, else the first online node.
 * With `reserve`, the choice is recorded in the run's placement ledger in the same synchronous
 * step, so concurrent creates of one apply see each other's picks.
 */
export async function pickNode(ctx: ControllerContext, where: Placement, reserve?: Reservation): Promise<string> {
  const chosen = (node: string): string => {
    if (reserve) ctx.placements?.reserve({ key: reserve.key, node, memoryMiB: reserve.memoryMiB })
    return node
  }
  if (where.node) return chosen(where.node)
  const p = where.placement
  if (p && p.nodes.length > 0) {
    // Only nodes that are up: a guest placed on an offline node could not be created at all.
    const nodes = await read('list nodes', () => ctx.pve.nodes())
    const up = new Set(nodes.filter((n) => n.status === 'online').map((n) => n.node))
    const candidates = p.nodes.filter((n) => up.has(n))
    if (candidates.length === 0) {
      const known = new Set(nodes.map((n) => n.node))
      if (!p.nodes.some((n) => known.has(n))) {
        throw new StalledError('UnknownNode', `no node of placement.nodes (${p.nodes.join(', ')}) is in the cluster; its nodes are ${[...known].sort().join(', ')}: fix placement.nodes`)
      }
      throw new TransientError(`none of the placement nodes ${p.nodes.join(', ')} is online; waiting for one`, { failure: 'network' })
    }
    // From here on nothing awaits: the pick and its reservation happen in one step.
    if (p.strategy === 'pack') return chosen(candidates[0])
    const { mib, guests } = committedMemory(ctx, reserve?.key)
    const score = (n: string): [number, number] => [mib.get(n) ?? 0, guests.get(n) ?? 0]
    const best = [...candidates].sort((a, b) => {
      const [ma, ga] = score(a)
      const [mb, gb] = score(b)
      return ma - mb || ga - gb || (a < b ? -1 : a > b ? 1 : 0)
    })[0]
    return chosen(best)
  }
  if (ctx.cluster.spec.defaults.node) return chosen(ctx.cluster.spec.defaults.node)
  const nodes = await read('list nodes', () => ctx.pve.nodes())
  const online = nodes.filter((n) => n.status === 'online').map((n) => n.node).sort()
  if (online.length === 0) throw new TransientError('no proxmox node is online; waiting for one', { failure: 'network' })
  return chosen(online[0])
}

/**
 * Creates the guest (stopped). Idempotent across retries via the pending record: an `already
 * exists` answer for a vmid that carries our marker is our own earlier create. A failed create
 * task (Proxmox rolled it back, the vmid is free again) is retried later with backoff.
 */
export async function createGuest(ctx: ControllerContext, req: CreateGuestRequest): Promise<CreatedGuest> {
  const { id } = req
  const memory = Number(req.params.memory)
  const node = await pickNode(ctx, req.where, { key: id.key, memoryMiB: Number.isFinite(memory) ? memory : 0 })
  ctx.progress(id.key, 'creating', `on ${node}`)
  const template = await resolveTemplate(ctx, node, req.templateSpec, id.key)
  const taken = new Set<number>(ctx.snapshot.guests.map((g) => g.vmid))
  for (const p of ctx.store.listPendingCreates()) if (p.key !== id.key) taken.add(p.vmid)
  const range = ctx.cluster.spec.vmidRange
  let vmid = req.pendingVmid !== undefined && !taken.has(req.pendingVmid) ? req.pendingVmid : allocateVmid(range, taken)
  const what = `create guest for ${id.label}`

  for (let attempt = 0; attempt < 5; attempt++) {
    await ctx.store.putPendingCreate({ key: id.key, vmid, node, startedAt: new Date(ctx.now()).toISOString() })
    ctx.placements?.assign(id.key, vmid)
    let upid: string
    try {
      upid = await ctx.semaphores.node(node, CREATE_RESOURCE, () =>
        audited(ctx, { action: 'POST /nodes/{node}/lxc', target: `lxc/${vmid}`, reason: `create ${id.key}`, what }, () =>
          ctx.pve.createLxc(node, { ...req.params, vmid, ostemplate: template }),
        ),
      )
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
      // A retried POST or someone else's guest: look before doing anything else.
      if (await isOwnGuest(ctx, id, node, vmid)) return { vmid, node, template }
      taken.add(vmid)
      vmid = allocateVmid(range, taken)
      continue
    }
    ctx.progress(id.key, 'creating', `vmid ${vmid} on ${node}, task ${upid}`)
    try {
      await ctx.pve.waitTask(node, upid, { pollMs: TASK_POLL_MS })
    } catch (err) {
      await ctx.store.clearPendingCreate(id.key)
      const mapped = mapProviderError(err, what)
      // Proxmox rolled the create back; the vmid is free again. Retry later with backoff.
      if (isTaskFailed(mapped)) throw new TransientError(mapped.message, { cause: err, failure: 'task-failed' })
      throw mapped
    }
    await ctx.refreshSnapshot()
    return { vmid, node, template }
  }
  throw new TransientError(`cannot ${what}: every vmid tried was taken; retrying`)
}
