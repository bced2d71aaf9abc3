/**
 * Observe (read-only) for Appliance: the guest (shared machinery, controllers/lxc), the LAN
 * bridge on every node that needs it (`GET /nodes/{node}/network`), and — when the guest runs —
 * the hashes of its config files (`sha256sum` over the fixed file list, one `pct exec`), plus
 * the text of the files that differ from the rendered ones, for plan lines.
 */
import type { ApplianceManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { TransientError } from '../../src/runtime/errors.js'
import { read } from '../shared/call.js'
import { exec, findGuest, guestRef, tail, type GuestRef } from '../lxc/index.js'
import { addressesFromDhcpHosts, APPLIANCE_CHECK_INTERVAL_MS, applianceIdentity, applianceKey, filesDigest, isOurBridge, lanNodes, membersOf, renderAppliance } from './desired.js'
import type { ApplianceObservation, ApplianceStatusExtra, ObservedBridge } from './observation.js'
import { APPLIANCE_FILES, ApplianceRenderError, type ApplianceFileId } from './render/index.js'

/** Reads the Appliance's status extra from the store (empty when none). */
export function storedApplianceExtra(ctx: Pick<ControllerContext, 'store'>, name: string): ApplianceStatusExtra {
  return { ...((ctx.store.getStatus(applianceKey(name))?.extra ?? {}) as ApplianceStatusExtra) }
}

/** `sha256sum` of every appliance file: id → hash (missing files are absent). Read-only. */
export async function readFileHashes(g: GuestRef): Promise<Partial<Record<ApplianceFileId, string>>> {
  const r = await exec(g, ['sha256sum', ...APPLIANCE_FILES.map((f) => f.path)], 'read config file hashes')
  if (r.code !== 0 && r.stdout.trim() === '' && !/No such file/.test(r.stderr)) throw new TransientError(`cannot read the config files of guest ${g.vmid}: ${tail(r)}`)
  const out: Partial<Record<ApplianceFileId, string>> = {}
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(line.trim())
    const f = m ? APPLIANCE_FILES.find((x) => x.path === m[2]) : undefined
    if (f && m) out[f.id] = m[1]
  }
  return out
}

/** `cat` of one appliance file; undefined when absent. Read-only. */
export async function readFileText(g: GuestRef, path: string): Promise<string | undefined> {
  const r = await exec(g, ['cat', path], `read ${path}`)
  return r.code === 0 ? r.stdout : undefined
}

async function observeBridges(ctx: ControllerContext, a: ApplianceManifest, guestNode: string | undefined): Promise<ObservedBridge[]> {
  const nodes = await read('list nodes', () => ctx.pve.nodes())
  const online = nodes.filter((n) => n.status === 'online').map((n) => n.node)
  const want = lanNodes(a, membersOf(ctx.set, a.metadata.name), ctx.cluster.spec, guestNode, online)
  const out: ObservedBridge[] = []
  for (const node of want) {
    const list = await read(`list network of node ${node}`, () => ctx.pve.nodeNetworks(node))
    const b = list.find((i) => i.iface === a.spec.lan.bridge)
    // Interfaces that are not active and not our bridge: someone else's queued changes.
    const oursPending = Boolean(b && !b.active && isOurBridge(b.comments, ctx.cluster.spec.owner))
    // Queued changes we did not make (new interfaces, or edits Proxmox reports in its diff): never applied by us.
    const changes = ctx.pve.nodeNetworkChanges ? await read(`read pending network changes of node ${node}`, () => ctx.pve.nodeNetworkChanges!(node)) : ''
    const foreignPending = list.some((i) => !i.active && !(i.iface === a.spec.lan.bridge && oursPending)) || (changes.trim() !== '' && !oursPending)
    out.push({ node, state: !b ? 'missing' : isOurBridge(b.comments, ctx.cluster.spec.owner) ? 'ours' : 'foreign', active: Boolean(b?.active), foreignPending })
  }
  return out
}

/** Observes one Appliance. Read-only. */
export async function observeAppliance(ctx: ControllerContext, a: ApplianceManifest): Promise<ApplianceObservation> {
  const name = a.metadata.name
  const extra = storedApplianceExtra(ctx, name)
  let digest: string | undefined
  try {
    digest = filesDigest(renderAppliance(a, ctx.set, ctx.cluster.spec.owner, extra.addresses ?? {}).files)
  } catch (err) {
    if (!(err instanceof ApplianceRenderError)) throw err
  }
  const recent = extra.lastCheckAt !== undefined && ctx.now() - extra.lastCheckAt < APPLIANCE_CHECK_INTERVAL_MS
  const found = await findGuest(ctx, applianceIdentity(name), {
    desiredState: 'running',
    steady: (g) => recent && digest !== undefined && extra.filesDigest === digest && extra.appliedSpecHash === a.specHash && extra.setupVmid === g.vmid && g.status === 'running' && !g.lock,
  })
  const guest = found.found === 'none' ? undefined : found.guest
  if (found.found === 'steady') return { steady: true, guest: found.guest, bridges: [], current: {}, previous: extra.addresses ?? {}, extra, now: ctx.now() }
  const base: ApplianceObservation = {
    steady: false,
    ...(guest ? { guest } : {}),
    ...(found.found === 'creating' ? { creating: true } : {}),
    ...(found.pendingCreate ? { pendingCreate: found.pendingCreate } : {}),
    ...(found.found === 'none' && found.pendingVmidTaken ? { pendingVmidTaken: true } : {}),
    bridges: await observeBridges(ctx, a, guest?.node),
    current: {},
    previous: extra.addresses ?? {},
    extra,
    now: ctx.now(),
  }
  if (!guest || found.found === 'creating' || guest.status !== 'running') return base
  const g = guestRef(ctx, applianceKey(name), guest.vmid, guest.node)
  const hashes = await readFileHashes(g)
  if (!extra.addresses && hashes['dhcp-hosts']) base.previous = addressesFromDhcpHosts((await readFileText(g, '/etc/proximity/dhcp-hosts')) ?? '')
  let rendered
  try {
    rendered = renderAppliance(a, ctx.set, ctx.cluster.spec.owner, base.previous)
  } catch (err) {
    if (err instanceof ApplianceRenderError) return { ...base, hashes }
    throw err
  }
  for (const f of rendered.files) {
    if (hashes[f.id] === undefined || hashes[f.id] === f.hash) continue
    const text = await readFileText(g, f.path)
    if (text !== undefined) base.current[f.id] = text
  }
  return { ...base, hashes }
}
