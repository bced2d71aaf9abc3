/**
 * `POST /nodes/{node}/lxc/{vmid}/move_volume` with `target-vmid`: reassigning a mount point to
 * another container (pve-container API2/LXC.pm `move_volume`, the reassign branch). The checks run
 * before the task starts (a 500 with PVE's message) and again inside it; the volume is renamed for
 * its new owner (`vm-<target>-disk-<n>`), its key leaves the source config and appears in the
 * target's with the same options, and the files under its mount path travel with it (the
 * simulator keeps a container's files in its runtime slot). Moving to another storage (`storage`)
 * is not simulated and answers PVE's "not supported" style 500.
 */
import { num, str, type RouteContext, type RouteDef } from '../core.js'
import { ctState } from '../ct-state.js'
import { fail } from '../errors.js'
import { configDigest, freeDiskName, printPropertyString } from '../guest-config.js'
import { parsePropertyString, type Params } from '../params.js'
import type { SimGuest } from '../state.js'

interface Checked {
  source: SimGuest
  target: SimGuest
  key: string
  targetKey: string
  map: Record<string, string>
}

/** The checks of `$load_and_check_reassign_configs`, in PVE's order. */
function check(ctx: Pick<RouteContext, 'core'>, node: string, vmid: number, p: Params): Checked {
  const { core } = ctx
  const key = String(p.volume)
  const targetVmid = num(p, 'target-vmid') as number
  const targetKey = str(p, 'target-volume') ?? key
  if (key === 'rootfs' || targetKey === 'rootfs') throw fail("Cannot move to/from 'rootfs'")
  if (/^unused\d+$/.test(key) && !/^unused\d+$/.test(targetKey)) throw fail('Moving an unused volume to a used one is not possible')
  const source = core.guest(vmid)
  if (!source || source.type !== 'lxc') throw fail(`could not find CT ${vmid}`)
  const target = core.guest(targetVmid)
  if (!target || target.type !== 'lxc') throw fail(`could not find CT ${targetVmid}`)
  if (source.node !== target.node) throw fail(`Both containers need to be on the same node (${source.node} != ${target.node})`)
  if (source.node !== node) throw fail(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`)
  core.checkLock(source)
  if (target !== source) core.checkLock(target)
  if (Number(source.config.template ?? 0) === 1 || Number(target.config.template ?? 0) === 1) throw fail("Can't move volumes from or to template CT")
  const digest = str(p, 'digest')
  if (digest !== undefined && digest !== configDigest(source)) throw fail(`Container ${vmid}: detected modified configuration - file changed by other user? Try again.`)
  const targetDigest = str(p, 'target-digest')
  if (targetDigest !== undefined && targetDigest !== configDigest(target)) throw fail(`Container ${targetVmid}: detected modified configuration - file changed by other user? Try again.`)
  if (source.config[key] === undefined) throw fail(`volume '${key}' for container '${vmid}' does not exist`)
  if (target.config[targetKey] !== undefined) throw fail(`Target volume key '${targetKey}' is already in use for container '${targetVmid}'`)
  const map = parsePropertyString(String(source.config[key]), 'volume') ?? {}
  const volid = map.volume ?? ''
  if (!volid) throw fail(`Volume '${key}' has no associated image`)
  if (volid.startsWith('/')) throw fail('Cannot move a bindmount or device mount to another container')
  if (source.snapshots.some((s) => Object.entries(s.config).some(([k, v]) => /^(mp|rootfs|unused)/.test(k) && (parsePropertyString(String(v), 'volume') ?? {}).volume === volid))) {
    throw fail('Cannot move volume used by a snapshot to another container')
  }
  if (source.status === 'running' && !/^unused\d+$/.test(key)) throw fail('Cannot move in-use volume while the source CT is running - detach or shutdown first')
  return { source, target, key, targetKey, map }
}

/** Moves the files under `path` from one container's filesystem to another's. */
function moveFiles(core: RouteContext['core'], from: SimGuest, to: SimGuest, path: string): number {
  const now = core.now()
  const a = ctState(from.runtime, now).fs
  const b = ctState(to.runtime, now).fs
  const inside = (p: string): boolean => p === path || p.startsWith(`${path}/`)
  let moved = 0
  for (const [p, mode] of Object.entries(a.dirs)) {
    if (!inside(p)) continue
    b.dirs[p] = mode
    if (p !== path) delete a.dirs[p]
  }
  for (const [p, f] of Object.entries(a.files)) {
    if (!inside(p)) continue
    b.files[p] = f
    delete a.files[p]
    moved++
  }
  // Parents of the mount path exist in the target too.
  for (let d = path.slice(0, path.lastIndexOf('/')); d.length > 0; d = d.slice(0, d.lastIndexOf('/'))) b.dirs[d] ??= 0o755
  return moved
}

/** `move_volume` (reassign to another CT only). */
export const lxcMoveVolumeRoutes: RouteDef[] = [
  {
    method: 'POST',
    path: '/nodes/{node}/lxc/{vmid}/move_volume',
    handler: ({ core, params, user }) => {
      const node = String(params.node)
      const vmid = Number(params.vmid)
      const storage = str(params, 'storage')
      const targetVmid = num(params, 'target-vmid')
      if (storage !== undefined && targetVmid !== undefined) throw fail('either set storage or target-vmid, but not both')
      if (targetVmid === undefined) {
        if (storage === undefined) throw fail("Provide either a 'storage' to move the mount point to a different storage or 'target-vmid' and 'target-mp' to move the mount point to another container")
        throw fail('moving a volume to another storage is not simulated; reassign it with target-vmid')
      }
      core.guestOn(node, vmid)
      check({ core }, node, vmid, params)
      return core.tasks.start(node, 'move_volume', String(vmid), user, (t) => {
        const c = check({ core }, node, vmid, params)
        const volid = c.map.volume as string
        const storageId = volid.slice(0, volid.indexOf(':'))
        const renamed = freeDiskName(storageId, c.target.vmid, [c.target.config, c.target.pending, ...c.target.snapshots.map((s) => s.config)])
        t.log(`moving volume '${volid}' from container '${vmid}' to '${c.target.vmid}'`)
        t.log(`  Renamed "${volid.slice(volid.indexOf(':') + 1)}" to "${renamed.slice(renamed.indexOf(':') + 1)}" in volume group "pve"`)
        const mountPath = c.map.mp
        const map = { ...c.map, volume: renamed }
        delete c.source.config[c.key]
        delete c.source.pending[c.key]
        c.target.config[c.targetKey] = printPropertyString(map, 'volume')
        if (mountPath && mountPath.startsWith('/')) moveFiles(core, c.source, c.target, mountPath.replace(/\/+$/, '') || '/')
        t.log(`removing volume '${c.key}' from container '${vmid}'`)
        t.log(`target container '${c.target.vmid}' updated with '${c.targetKey}'`)
        core.markDirty()
      })
    },
  },
]
