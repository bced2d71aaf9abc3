import { flag, str, type RouteDef } from '../core.js'
import { fail } from '../errors.js'
import { configDigest, normaliseValue } from '../guest-config.js'
import type { ConfigValue, SimGuest } from '../state.js'

function snapshotOf(g: SimGuest, name: string) {
  const s = g.snapshots.find((x) => x.name === name)
  if (!s) throw fail(`snapshot '${name}' does not exist`)
  return s
}

/** A config without the keys a snapshot never copies (lock, description, unusedN). */
function copyConfig(cfg: Record<string, ConfigValue>): Record<string, ConfigValue> {
  return Object.fromEntries(Object.entries(cfg).filter(([k]) => k !== 'lock' && k !== 'description' && !/^unused\d+$/.test(k)))
}

/** Adds a snapshot of the current config/runtime (also used by vzdump for `vzdump`). */
export function takeSnapshot(g: SimGuest, name: string, description: string, now: number): void {
  // AbstractConfig __snapshot_copy_config: everything but lock, description and unusedN; the
  // comment becomes the section's description, stored as `#` lines, so it reads back with a
  // trailing newline like a config description.
  const config = copyConfig(g.config)
  if (description !== '') config.description = normaliseValue('description', description)
  g.snapshots.push({ name, snaptime: Math.floor(now / 1000), description: String(config.description ?? ''), ...(g.parent ? { parent: g.parent } : {}), config, runtime: structuredClone(g.runtime) })
  g.parent = name
}

/** Removes a snapshot, re-linking children to its parent. */
export function dropSnapshot(g: SimGuest, name: string): void {
  const s = snapshotOf(g, name)
  g.snapshots = g.snapshots.filter((x) => x !== s)
  for (const c of g.snapshots) if (c.parent === name) c.parent = s.parent
  if (g.parent === name) g.parent = s.parent
}

/** Snapshot list/create/delete/rollback (REFERENCE §4.2). */
export const lxcSnapshotRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/snapshot',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      return [
        ...g.snapshots.map((s) => ({ name: s.name, snaptime: s.snaptime, description: s.description, ...(s.parent ? { parent: s.parent } : {}), ...(s.snapstate ? { snapstate: s.snapstate } : {}) })),
        { name: 'current', description: 'You are here!', digest: configDigest(g), running: g.status === 'running' ? 1 : 0, ...(g.parent ? { parent: g.parent } : {}) },
      ]
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/snapshot',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const g = core.guestOn(node, Number(params.vmid))
      const name = String(params.snapname)
      if (name === 'current' || name === 'vzdump') throw fail(`unable to use snapshot name '${name}' (reserved name)`)
      if (g.snapshots.some((s) => s.name === name)) throw fail(`snapshot name '${name}' already used`)
      return core.tasks.start(node, 'vzsnapshot', String(g.vmid), user, (t) => {
        if (g.config.lock !== undefined) throw new Error(`CT is locked (${g.config.lock})`)
        if (Number(g.config.template ?? 0) === 1) throw new Error("you can't take a snapshot if it's a template")
        if (g.snapshots.some((s) => s.name === name)) throw new Error(`snapshot name '${name}' already used`)
        takeSnapshot(g, name, str(params, 'description') ?? '', core.now())
        t.log(`snapshot '${name}' created`)
        core.markDirty()
      })
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/lxc/{vmid}/snapshot/{snapname}',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const g = core.guestOn(node, Number(params.vmid))
      const name = String(params.snapname)
      snapshotOf(g, name)
      return core.tasks.start(node, 'vzdelsnapshot', String(g.vmid), user, () => {
        if (g.config.lock !== undefined && !flag(params, 'force')) throw new Error(`CT is locked (${g.config.lock})`)
        dropSnapshot(g, name)
        core.markDirty()
      })
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/snapshot/{snapname}',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      snapshotOf(g, String(params.snapname))
      return [{ rel: 'rollback' }, { rel: 'config' }]
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const g = core.guestOn(node, Number(params.vmid))
      const s = snapshotOf(g, String(params.snapname))
      return core.tasks.start(node, 'vzrollback', String(g.vmid), user, (t) => {
        if (g.config.lock !== undefined) throw new Error(`CT is locked (${g.config.lock})`)
        if (g.status === 'running') core.setStatus(g, 'stopped')
        // __snapshot_apply_config: keep the current description and unusedN, take the rest.
        const kept = Object.fromEntries(Object.entries(g.config).filter(([k]) => k === 'description' || /^unused\d+$/.test(k)))
        g.config = { ...kept, ...copyConfig(s.config) }
        g.pending = {}
        g.pendingDelete = []
        if (s.runtime) g.runtime = structuredClone(s.runtime)
        g.parent = s.name
        if (flag(params, 'start')) core.setStatus(g, 'running')
        t.log(`rollback to snapshot '${s.name}' done`)
        core.markDirty()
      })
    },
  },
]
