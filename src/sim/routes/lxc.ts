import { flag, num, str, type RouteContext, type RouteDef } from '../core.js'
import { fail, paramError } from '../errors.js'
import { splitList } from '../formats.js'
import { allocateMountPoint, appliesLive, configDigest, effectiveConfig, normaliseValue } from '../guest-config.js'
import type { ConfigValue, SimGuest } from '../state.js'
import { checkFeaturePerm, configChanges, isConfigKey } from './lxc-common.js'
import { createLxc } from './lxc-create.js'
import { lxcListItem } from './shapes.js'

const REQUIRED = new Set(['memory', 'rootfs', 'ostype'])

/**
 * Applies a config update (PUT config and `pct set`): lock and digest checks, read-only and
 * permission rules, delete/revert lists, and pending semantics on a running CT (§5.3).
 */
export function updateConfig(ctx: Pick<RouteContext, 'core' | 'user'>, g: SimGuest, params: Record<string, unknown>): void {
  const { core, user } = ctx
  const changes = configChanges(params)
  const del = params.delete !== undefined ? splitList(String(params.delete)) : []
  const revert = params.revert !== undefined ? splitList(String(params.revert)) : []
  if (Object.keys(changes).length === 0 && del.length === 0 && revert.length === 0) throw fail('no options specified')
  core.checkLock(g)
  const digest = params.digest !== undefined ? String(params.digest) : undefined
  if (digest !== undefined && digest !== configDigest(g)) throw fail('detected modified configuration - file changed by other user? Try again.')
  if (changes.unprivileged !== undefined) throw fail("unable to modify read-only option: 'unprivileged'")
  checkFeaturePerm(user, changes.features, effectiveConfig(g, false).features)
  for (const k of [...del, ...revert]) {
    if (!isConfigKey(k)) throw paramError({ [del.includes(k) ? 'delete' : 'revert']: `unknown option '${k}'` })
    if (changes[k] !== undefined) throw paramError({ [k]: `cannot set and delete/revert '${k}' at the same time` })
  }
  for (const k of del) if (REQUIRED.has(k)) throw fail(`unable to delete required option '${k}'`)
  if (changes.hostname !== undefined) core.noteRrd(g)
  for (const k of revert) {
    delete g.pending[k]
    g.pendingDelete = g.pendingDelete.filter((x) => x !== k)
  }
  const running = g.status === 'running'
  for (const [k, v] of Object.entries(changes)) {
    // A mount point in the allocation form (`STORAGE:SIZE`) gets a new volume of its own.
    const given = /^mp\d+$/.test(k) ? allocateMountPoint(v, g.vmid, [g.config, g.pending, ...g.snapshots.map((x) => x.config)]) : v
    const value: ConfigValue = normaliseValue(k, given, g.pending[k] ?? g.config[k])
    g.pendingDelete = g.pendingDelete.filter((x) => x !== k)
    if (!running || appliesLive(k, g)) {
      g.config[k] = value
      delete g.pending[k]
    } else g.pending[k] = value
  }
  for (const k of del) {
    delete g.pending[k]
    if (!running || appliesLive(k, g)) delete g.config[k]
    else if (g.config[k] !== undefined && !g.pendingDelete.includes(k)) g.pendingDelete.push(k)
  }
  core.markDirty()
}

/** Applies pending changes (at start/reboot). */
export function applyPending(g: SimGuest): void {
  Object.assign(g.config, g.pending)
  for (const k of g.pendingDelete) delete g.config[k]
  g.pending = {}
  g.pendingDelete = []
}

/** LXC list, create, config, pending and destroy routes (REFERENCE §4.2, §5). */
export const lxcRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/lxc',
    handler: ({ core, params }) =>
      Object.values(core.state.guests)
        .filter((g) => g.node === params.node && g.type === 'lxc')
        .map((g) => lxcListItem(core, g)),
  },
  { method: 'POST', path: '/nodes/{node}/lxc', handler: createLxc },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/config',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      const snapname = str(params, 'snapshot')
      if (snapname !== undefined) {
        const s = g.snapshots.find((x) => x.name === snapname)
        if (!s) throw fail(`snapshot '${snapname}' does not exist`)
        return { ...s.config, snaptime: s.snaptime, ...(s.parent ? { parent: s.parent } : {}), digest: configDigest(g) }
      }
      const cfg: Record<string, unknown> = effectiveConfig(g, flag(params, 'current'))
      if (g.parent) cfg.parent = g.parent
      cfg.digest = configDigest(g)
      return cfg
    },
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/lxc/{vmid}/config',
    handler: (ctx) => {
      const g = ctx.core.guestOn(String(ctx.params.node), Number(ctx.params.vmid))
      updateConfig(ctx, g, ctx.params)
      return null
    },
  },
  {
    method: 'GET',
    path: '/nodes/{node}/lxc/{vmid}/pending',
    handler: ({ core, params }) => {
      const g = core.guestOn(String(params.node), Number(params.vmid))
      const keys = new Set([...Object.keys(g.config), ...Object.keys(g.pending), ...g.pendingDelete])
      return [...keys].sort().map((key) => {
        // Typed like GET config (integers and booleans as numbers): pve-container's check_type
        // turns them into Perl numbers when it reads the file, whatever the schema's 'string' says.
        const item: Record<string, unknown> = { key }
        if (g.config[key] !== undefined) item.value = g.config[key]
        if (g.pending[key] !== undefined) item.pending = g.pending[key]
        if (g.pendingDelete.includes(key)) item.delete = 1
        return item
      })
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/lxc/{vmid}',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const vmid = Number(params.vmid)
      const g = core.guestOn(node, vmid)
      if (Number(g.config.protection ?? 0) === 1) throw fail(`can't remove CT ${vmid} - protection mode enabled`)
      core.checkLock(g)
      const purge = flag(params, 'purge')
      if (core.state.ha[`ct:${vmid}`] && !purge) throw fail(`unable to remove CT ${vmid} - used in HA resources and purge parameter not set.`)
      if (g.status === 'running' && !flag(params, 'force')) throw fail(`unable to destroy CT ${vmid} - container is running`)
      void num
      return core.tasks.start(
        node,
        'vzdestroy',
        String(vmid),
        user,
        (t) => {
          g.config.lock = 'destroyed'
          if (g.status === 'running') core.setStatus(g, 'stopped')
          t.log(`Logical volume "vm-${vmid}-disk-0" successfully removed.`)
          delete core.state.guests[String(vmid)]
          for (const p of Object.values(core.state.pools)) p.members = p.members.filter((x) => x !== vmid)
          if (purge) {
            t.log(`purging CT ${vmid} from related configurations..`)
            delete core.state.ha[`ct:${vmid}`]
            for (const job of Object.values(core.state.backupJobs)) {
              if (job.vmid === undefined) continue
              const rest = splitList(String(job.vmid)).filter((x) => x !== String(vmid))
              if (rest.length > 0) job.vmid = rest.join(',')
              else delete job.vmid
            }
          }
          core.markDirty()
        },
        () => {
          if (g.config.lock === 'destroyed') delete g.config.lock
        },
      )
    },
  },
]
