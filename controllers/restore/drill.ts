/**
 * Restore drills (issue 11 point 6, the building block): restore one backup of an App into a
 * scratch guest — a new vmid from the range, its NIC link down so it never answers on the app's
 * addresses, its own hostname, tag and description (never the app's marker) — start it, bring
 * the project up, run the app's health check, and destroy the scratch guest whatever happened.
 * A scratch guest left behind by a killed drill carries the `proximity-drill` tag and our owner,
 * and the next drill removes it first.
 *
 * Wiring (`BackupPolicy.spec.verify`, `proximity backup verify APP`) belongs to the BackupPolicy
 * controller and the backup command; this module is what they call.
 */
import { parseTags } from '../../src/model/marker.js'
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'
import { rootStorage } from '../app/desired.js'
import { upExistingProject } from '../app/docker.js'
import { probeHealth } from '../app/health.js'
import { allocateVmid, guestRef, setFeatures, startGuest } from '../lxc/index.js'
import { audited, isNotFound, read, waitTask } from '../shared/call.js'

/** The tag of scratch guests. */
export const DRILL_TAG = 'proximity-drill'
const DRILL_PREFIX = 'proximity:drill '

/** Why a drill ended as it did (the `RestoreVerified` condition's reason). */
export type DrillReason = 'Verified' | 'HealthCheckFailed' | 'RestoreFailed'

/** What a drill found. */
export interface DrillResult {
  ok: boolean
  reason: DrillReason
  volid: string
  /** ms epoch */
  startedAt: number
  durationMs: number
  /** The health probe's last word, or what failed. */
  detail: string
  /** The scratch guest used (destroyed afterwards). */
  scratchVmid?: number
}

export interface DrillOptions {
  node: string
  volid: string
  /** How long the restored app may take to turn healthy. @default the app's health timeout or 5 min */
  healthTimeoutMs?: number
  /** Pause between health probes. @default 1000 */
  probeEveryMs?: number
}

const drillDescription = (owner: string, app: string, volid: string): string => `${DRILL_PREFIX}${JSON.stringify({ owner, app, volid })}`

function drillMarker(description: unknown): { owner: string; app?: string } | undefined {
  const line = String(description ?? '')
    .split('\n')
    .find((l) => l.startsWith(DRILL_PREFIX))
  if (!line) return undefined
  try {
    const o = JSON.parse(line.slice(DRILL_PREFIX.length)) as { owner?: unknown; app?: unknown }
    return typeof o.owner === 'string' ? { owner: o.owner, ...(typeof o.app === 'string' ? { app: o.app } : {}) } : undefined
  } catch {
    return undefined
  }
}

/**
 * Scratch guests drills of this process are using now: never leftovers, whatever runs the
 * cleanup. Process-local is enough: drills and cleanups run under the apply lease.
 */
const inUse = new Set<number>()

/** A scratch guest of ours that no drill of this process is using: left by an interrupted drill. */
export interface LeftoverScratch {
  vmid: number
  node: string
  /** The app its drill was for, from its description. */
  app?: string
}

/**
 * Read-only: the leftover scratch guests of the pass snapshot. Costs one config read per guest
 * tagged {@link DRILL_TAG} (to confirm the owner), nothing when there is none (steady state).
 */
export async function findLeftoverScratch(ctx: Pick<ControllerContext, 'snapshot' | 'pve' | 'cluster' | 'redact'>): Promise<LeftoverScratch[]> {
  const out: LeftoverScratch[] = []
  for (const g of ctx.snapshot.guests) {
    if (!parseTags(g.tags).includes(DRILL_TAG) || inUse.has(g.vmid)) continue
    let cfg: Record<string, unknown>
    try {
      cfg = await read(`read config of guest ${g.vmid}`, () => ctx.pve.lxcConfig(g.node, g.vmid), ctx)
    } catch (e) {
      if (isNotFound(e)) continue // destroyed since the snapshot was taken
      throw e
    }
    const m = drillMarker(cfg.description)
    if (m?.owner !== ctx.cluster.spec.owner) continue
    out.push({ vmid: g.vmid, node: g.node, ...(m.app ? { app: m.app } : {}) })
  }
  return out.sort((a, b) => a.vmid - b.vmid)
}

/**
 * Destroys scratch guests of ours left by an interrupted drill (tag and description both ours;
 * never one a drill of this process is using). Gone already is success. Returns the vmids removed.
 */
export async function removeLeftoverScratch(ctx: ControllerContext, found?: readonly LeftoverScratch[]): Promise<number[]> {
  const removed: number[] = []
  for (const g of found ?? (await findLeftoverScratch(ctx))) {
    if (inUse.has(g.vmid)) continue
    try {
      await destroyScratch(ctx, g.node, g.vmid)
    } catch (e) {
      if (!isNotFound(e)) throw e
    }
    removed.push(g.vmid)
  }
  return removed
}

async function destroyScratch(ctx: ControllerContext, node: string, vmid: number): Promise<void> {
  const st = await read(`read status of guest ${vmid}`, () => ctx.pve.lxcStatus(node, vmid), ctx)
  if (st.status === 'running') {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc/{vmid}/status/stop', target: `lxc/${vmid}`, reason: 'restore drill done', what: `stop scratch guest ${vmid}` }, () => ctx.pve.stopLxc(node, vmid))
    await waitTask(ctx, node, upid, `stop scratch guest ${vmid}`)
  }
  const upid = await audited(ctx, { action: 'DELETE /nodes/{node}/lxc/{vmid}', target: `lxc/${vmid}`, reason: 'restore drill done', what: `destroy scratch guest ${vmid}` }, () => ctx.pve.deleteLxc(node, vmid, { purge: true }))
  await waitTask(ctx, node, upid, `destroy scratch guest ${vmid}`)
}

/**
 * Runs one drill of `app` from `opts.volid` on `opts.node`. Never throws for a failed restore,
 * start or health check (the result says so); the scratch guest is destroyed on every path that
 * reaches it. Not idempotent: every call restores once.
 */
export async function runRestoreDrill(ctx: ControllerContext, app: AppManifest, opts: DrillOptions): Promise<DrillResult> {
  const startedAt = ctx.now()
  const key = `App/${app.metadata.name}`
  // A fresh look: the pass snapshot may still list the scratch guest of a drill just finished.
  const seen = await ctx.refreshSnapshot()
  const removed = await removeLeftoverScratch(ctx)
  const fresh = removed.length > 0 ? await ctx.refreshSnapshot() : seen
  // Ids of other drills of this process count as taken (their guest may not be listed yet); the
  // id is marked in use before any await, so two drills never pick the same one.
  const vmid = allocateVmid(ctx.cluster.spec.vmidRange, [...fresh.guests.map((g) => g.vmid), ...inUse])
  inUse.add(vmid)
  const bridge = app.spec.network.bridge ?? ctx.cluster.spec.defaults.bridge
  const params = {
    vmid,
    ostemplate: opts.volid,
    restore: 1,
    unique: 1,
    storage: rootStorage(app, ctx.cluster.spec),
    hostname: `drill-${app.metadata.name}`.slice(0, 63),
    net0: `name=eth0,bridge=${bridge},ip=manual,link_down=1`,
    tags: DRILL_TAG,
    description: drillDescription(ctx.cluster.spec.owner, app.metadata.name, opts.volid),
    onboot: 0,
  }
  const done = (reason: DrillReason, detail: string): DrillResult => ({ ok: reason === 'Verified', reason, volid: opts.volid, startedAt, durationMs: ctx.now() - startedAt, detail, scratchVmid: vmid })
  let created = false
  let restored = false
  try {
    const upid = await audited(ctx, { action: 'POST /nodes/{node}/lxc', target: `lxc/${vmid}`, reason: `restore drill of ${key}`, what: `restore ${opts.volid} into scratch guest ${vmid}` }, () => ctx.pve.createLxc(opts.node, params))
    created = true
    await waitTask(ctx, opts.node, upid, `restore ${opts.volid} into scratch guest ${vmid}`)
    restored = true
    const g = guestRef(ctx, key, vmid, opts.node)
    await setFeatures(g, { nesting: 1, keyctl: 1 }, 'features of the scratch guest (keyctl needs root@pam)')
    await startGuest(ctx, { key, vmid, node: opts.node }, 'restore drill')
    await upExistingProject(g, app.metadata.name)
    const timeout = opts.healthTimeoutMs ?? app.spec.health?.timeout ?? 300_000
    const every = opts.probeEveryMs ?? 1000
    const until = Date.now() + timeout
    for (;;) {
      const probe = await probeHealth(g, app)
      if (probe.healthy) return done('Verified', probe.detail)
      if (Date.now() >= until) return done('HealthCheckFailed', `not healthy after restore: ${probe.detail}`)
      await new Promise((r) => setTimeout(r, every))
    }
  } catch (e) {
    // Restored but it would not start or bring its project up: the app fails, not the backup store.
    return done(restored ? 'HealthCheckFailed' : 'RestoreFailed', (e as Error).message)
  } finally {
    if (created) await destroyScratch(ctx, opts.node, vmid).catch(() => undefined)
    inUse.delete(vmid)
  }
}
