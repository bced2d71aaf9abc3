/**
 * The data `get` and `describe` show: the stored statuses of a state folder and, unless the
 * user said `--no-refresh`, one live `GET /cluster/resources?type=vm` snapshot of the target
 * (the only Proxmox request made). Also the manifests that give apps their addresses: the `-f`
 * inputs, else the `-f` inputs the last apply of this state folder recorded.
 *
 * The target is the Cluster manifest among those manifests, else `PROXIMITY_ENDPOINT`, else the
 * sandbox whose cluster this state folder holds. A sandbox in use by another run (`serve`) is
 * not opened a second time: the status that run keeps current is shown, and a notice says so.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { CliContext } from './context.js'
import type { ManifestSet } from '../model/types.js'
import type { ClusterGuest } from '../providers/proxmox/types.js'
import type { ObjectStatus, StateStore, StoredEvent } from '../store/types.js'
import type { SourceLoaded } from '../engine/sources/types.js'
import { cliLogger, loadSource, pathsSource } from './session.js'
import { redactSecrets } from '../store/redact.js'

/** One live snapshot of the target's guests. */
export interface LiveSnapshot {
  guests: ClusterGuest[]
  /** ISO time the snapshot was read. */
  at: string
}

/** What a read command works from. */
export interface LiveView {
  statuses: ObjectStatus[]
  events: (key: string, limit: number) => StoredEvent[]
  set?: ManifestSet
  live?: LiveSnapshot
  /** App name → the IPv4 address its running guest reports (`interfaces` lookups only). */
  ips: Map<string, string>
  /** One line for stderr when the live read was wanted but not made (why, and how to get it). */
  notice?: string
}

/** Options of {@link openLiveView}. */
export interface LiveViewOptions {
  stateDir: string
  /** `-f` inputs (may be empty). */
  filename: string[]
  refresh: boolean
  /** Events of these keys are kept for `describe`. @default none */
  eventsFor?: { key: string; limit: number }
  /**
   * Also ask these Apps' running guests for their addresses (`GET …/lxc/{vmid}/interfaces`, one
   * read per guest) when neither the status, the appliance nor the manifest knows it (DHCP on
   * a plain bridge), for at most `interfacesLimit` guests (a notice names how many more there
   * are). @default none
   */
  interfacesOf?: (name: string) => boolean
  /** @default Infinity */
  interfacesLimit?: number
}

/**
 * Reads the state folder and (when `refresh`) the live snapshot. Resolves undefined after
 * printing located errors when the `-f` manifests are invalid; never creates the state folder.
 */
export async function openLiveView(ctx: CliContext, o: LiveViewOptions): Promise<LiveView | undefined> {
  if (!existsSync(o.stateDir)) return { statuses: [], events: () => [], ips: new Map() }
  const given = o.filename.length > 0
  const paths = given ? o.filename : await recordedFiles(o.stateDir)
  let initial: SourceLoaded | undefined
  let source
  if (paths.length > 0) {
    source = await pathsSource(ctx, paths, { stateDir: o.stateDir, requireKey: false })
    if (given) {
      initial = await loadSource(ctx, source)
      if (!initial) return undefined
    } else {
      // Files recorded at the last apply may have moved since: they only add addresses.
      const res = await source.load().catch(() => undefined)
      if (res?.ok) initial = res
    }
  }
  const set = initial?.set
  const real = set?.cluster !== undefined || Boolean(ctx.env.PROXIMITY_ENDPOINT)
  const sandbox = !real && existsSync(join(o.stateDir, 'sandbox')) // its cluster (even just reset)
  if (!o.refresh || (!real && !sandbox)) {
    const view = await storedView(o.stateDir, o.eventsFor)
    const notice = o.refresh
      ? 'notice: not observed live (this state folder names no target): showing the status last recorded; pass -f with the Cluster manifest or set PROXIMITY_ENDPOINT'
      : undefined
    return { ...view, ...(set ? { set } : {}), ...(notice ? { notice } : {}) }
  }
  const loaded: SourceLoaded = initial ?? { ok: true, set: { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [ctx.cwd] }, revision: 'none', warnings: [] }
  const { openEngine } = await import('../engine/open.js')
  let engine
  try {
    engine = await openEngine({
      source: source ?? { kind: 'paths', inputs: [], load: async () => loaded },
      initial: loaded,
      stateDir: o.stateDir,
      env: ctx.env,
      cwd: ctx.cwd,
      dryRun: true,
      // A read: never wait behind another run of the sandbox, and say nothing about it.
      announce: () => {},
      logger: cliLogger(ctx, o.stateDir),
      ...(sandbox ? { lease: { waitMs: 0, purpose: 'get' } } : {}),
    })
  } catch (e) {
    const holder = (e as { holder?: { owner: string } }).holder
    const view = await storedView(o.stateDir, o.eventsFor)
    const notice = holder
      ? `notice: the sandbox is in use by ${holder.owner}, which keeps this status current; not observed live`
      : notObserved(e)
    return { ...view, ...(set ? { set } : {}), notice }
  }
  let guests: ClusterGuest[]
  try {
    guests = await engine.pve.clusterGuests()
  } catch (e) {
    await engine.close()
    return { ...(await storedView(o.stateDir, o.eventsFor)), ...(set ? { set } : {}), notice: notObserved(e) }
  }
  try {
    const at = new Date().toISOString()
    const view = viewOf(engine.store, o.eventsFor)
    let skipped = 0
    if (o.interfacesOf) {
      let asked = 0
      for (const s of view.statuses) {
        if (s.kind !== 'App' || !o.interfacesOf(s.name) || !needsLookup(s, set)) continue
        const g = guests.find((x) => x.vmid === s.inventory?.vmid && x.status === 'running')
        if (!g) continue
        if (asked >= (o.interfacesLimit ?? Infinity)) {
          skipped++
          continue
        }
        asked++
        const nics = await engine.pve.lxcInterfaces(g.node, g.vmid).catch(() => [])
        const ip = nics.find((n) => n.name !== 'lo' && n.inet)?.inet?.split('/')[0]
        if (ip) view.ips.set(s.name, ip)
      }
    }
    const notice = skipped > 0 ? `notice: the addresses of ${skipped} more DHCP app${skipped === 1 ? ' are' : 's are'} known only to their guests: -o wide asks each one` : undefined
    return { ...view, live: { guests, at }, ...(set ? { set } : {}), ...(notice ? { notice } : {}) }
  } finally {
    await engine.close()
  }
}

/** The notice of a live read that failed: the recorded status is shown instead, and why. */
const notObserved = (e: unknown): string =>
  `notice: not observed live (${redactSecrets((e instanceof Error ? e.message : String(e)).split('\n')[0])}); showing the status last recorded`

/** The `-f` inputs of the last apply that held objects (files or folders still there). */
async function recordedFiles(stateDir: string): Promise<string[]> {
  const { readManifestSources } = await import('../store/manifest-sources.js')
  const roots = new Set(Object.values(await readManifestSources(stateDir)).map((s) => s.root))
  return [...roots].filter((f) => existsSync(f)).sort()
}

async function storedView(stateDir: string, eventsFor: LiveViewOptions['eventsFor']): Promise<Omit<LiveView, 'set'>> {
  const { openStateStore } = await import('../store/state-store.js')
  const store = await openStateStore(stateDir)
  try {
    return viewOf(store, eventsFor)
  } finally {
    await store.close()
  }
}

/** Copies what the commands need out of an open store (the store is closed afterwards). */
function viewOf(store: StateStore, eventsFor: LiveViewOptions['eventsFor']): Omit<LiveView, 'set'> {
  const statuses = store.listStatus()
  const events = eventsFor ? store.listEvents({ key: eventsFor.key, limit: eventsFor.limit }) : []
  return { statuses, events: () => events, ips: new Map() }
}

/** True when nothing but the guest itself can tell the App's address (DHCP on a plain bridge). */
function needsLookup(s: ObjectStatus, set: ManifestSet | undefined): boolean {
  if (typeof s.extra?.ip === 'string') return false
  const app = set?.apps.find((a) => a.metadata.name === s.name)
  return !app || (!app.spec.network.appliance && app.spec.network.ip === 'dhcp')
}
