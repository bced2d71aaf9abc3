import { flag, str, type RouteDef } from '../core.js'
import { fail, permError } from '../errors.js'
import { canonicalNet, printPropertyString } from '../guest-config.js'
import { parsePropertyString } from '../params.js'
import type { ConfigValue } from '../state.js'
import { placeholderGuest } from './lxc-common.js'
import { storageDef } from './storage-defs.js'

/** Keys a clone never copies (pve-container API2/LXC.pm clone_vm). */
const NOT_CLONED = new Set(['lock', 'parent', 'snaptime', 'snapstate', 'template'])

/** The rootfs volume name without storage: `vm-101-disk-0` or `base-101-disk-0`. */
const volumeName = (rootfs: ConfigValue | undefined): { storage: string; name: string; map: Record<string, string> } => {
  const map = parsePropertyString(String(rootfs ?? ''), 'volume') ?? {}
  const vol = map.volume ?? ''
  const i = vol.indexOf(':')
  return { storage: vol.slice(0, i), name: vol.slice(i + 1), map }
}

/** Template conversion and clones (pve-container API2/LXC.pm `template`, `clone_vm`). */
export const lxcCloneRoutes: RouteDef[] = [
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/template',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const g = core.guestOn(node, Number(params.vmid))
      core.checkLock(g)
      if (g.snapshots.length > 0) throw fail('unable to create template, because CT contains snapshots')
      if (Number(g.config.template ?? 0) === 1) throw fail("you can't convert a template to a template")
      if (g.status === 'running') throw fail("you can't convert a CT to template if the CT is running")
      // The API answers null at once; the conversion (volumes renamed to base-*) runs as a task.
      core.tasks.start(node, 'vztemplate', String(g.vmid), user, (t) => {
        const { storage, name, map } = volumeName(g.config.rootfs)
        if (storage === 'local-lvm' && name.startsWith('vm-')) {
          map.volume = `${storage}:base-${name.slice(3)}`
          g.config.rootfs = printPropertyString(map, 'volume')
          t.log(`  Renamed "${name}" to "base-${name.slice(3)}" in volume group "pve"`)
        }
        g.config.template = 1
        core.markDirty()
      })
      return null
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/clone',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const vmid = Number(params.vmid)
      const newid = Number(params.newid)
      const src = core.guestOn(node, vmid)
      const pool = str(params, 'pool')
      if (pool !== undefined && !core.state.pools[pool]) throw permError(`pool '${pool}' does not exist`)
      let target = str(params, 'target')
      if (target === node || target === 'localhost') target = undefined
      if (target !== undefined && !core.state.nodes[target]) throw fail(`no such cluster node '${target}'`)
      const storage = str(params, 'storage')
      if (storage !== undefined) storageDef(storage)
      core.checkLock(src)
      const existing = core.guest(newid)
      if (existing) throw fail(`${existing.type === 'qemu' ? 'VM' : 'CT'} ${newid} already exists on node '${existing.node}'`)
      const template = Number(src.config.template ?? 0) === 1
      const full = params.full !== undefined ? flag(params, 'full') : !template
      if (storage !== undefined && !full) throw fail("parameter 'storage' not allowed for linked clones")
      const snapname = str(params, 'snapname')
      const snap = snapname === undefined ? undefined : src.snapshots.find((s) => s.name === snapname)
      if (snapname !== undefined && !snap) throw fail(`snapshot '${snapname}' does not exist`)
      const from = snap ? snap.config : src.config
      const { storage: srcStorage, name, map } = volumeName(from.rootfs)
      if (full && src.status === 'running' && snapname === undefined) throw fail('Full clone of a running container is only possible from a snapshot')
      if (!full && !name.startsWith('base-')) throw fail(`Linked clone feature for '${srcStorage}:${name}' is not available`)
      // Every storage the simulator has is node-local.
      if (target !== undefined) throw fail(`can't clone CT to node '${target}' (CT uses local storage)`)
      const targetStorage = storage ?? srcStorage
      if (full && !storageDef(targetStorage).content.includes('rootdir')) throw fail(`storage '${targetStorage}' does not support container directories`)

      const config: Record<string, ConfigValue> = {}
      for (const [k, v] of Object.entries(from)) {
        if (NOT_CLONED.has(k) || /^unused\d+$/.test(k)) continue
        // A clone always gets new MAC addresses.
        config[k] = /^net\d+$/.test(k) ? canonicalNet(String(v).replace(/(^|,)hwaddr=[^,]*/, '')) : v
      }
      if (params.hostname !== undefined) config.hostname = String(params.hostname)
      src.config.lock = 'disk'
      const clone = placeholderGuest(core, newid, node)
      core.state.guests[String(newid)] = clone
      core.markDirty()
      return core.tasks.start(
        node,
        'vzclone',
        String(vmid),
        user,
        (t) => {
          t.log(`creating a clone of container ${vmid} with ID ${newid}`)
          map.volume = full ? `${targetStorage}:vm-${newid}-disk-0` : `${srcStorage}:${name}/vm-${newid}-disk-0`
          t.log(full ? `create full clone of mountpoint rootfs (${srcStorage}:${name})` : `create linked clone of mount point rootfs (${srcStorage}:${name})`)
          config.rootfs = printPropertyString(map, 'volume')
          core.noteRrd(clone)
          clone.config = config
          clone.runtime = structuredClone(snap?.runtime ?? src.runtime)
          clone.firewall = structuredClone(src.firewall)
          clone.created = true
          if (pool !== undefined) core.state.pools[pool]?.members.push(newid)
          if (src.config.lock === 'disk') delete src.config.lock
          core.markDirty()
        },
        () => {
          if (src.config.lock === 'disk') delete src.config.lock
          if (core.guest(newid) === clone) delete core.state.guests[String(newid)]
          core.markDirty()
        },
      )
    },
  },
]
