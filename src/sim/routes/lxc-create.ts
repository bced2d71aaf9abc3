import { flag, str, type RouteContext } from '../core.js'
import { fail, paramError, permError } from '../errors.js'
import { allocateMountPoint, allocateRootfs, canonicalNet, normaliseValue } from '../guest-config.js'
import type { ConfigValue, SimGuest } from '../state.js'
import { storageDef } from './storage-defs.js'
import { checkFeaturePerm, configChanges, ostypeOf, placeholderGuest } from './lxc-common.js'

/**
 * POST /nodes/{node}/lxc: create (`vzcreate`) or restore (`vzrestore`). Synchronous checks, then
 * the config appears at once with `lock: create`, then the task writes the final config; a failed
 * task removes the guest again (REFERENCE §4.2.1, §7.4).
 */
export function createLxc({ core, params, user }: RouteContext): string {
  const node = String(params.node)
  const vmid = Number(params.vmid)
  const restore = flag(params, 'restore')
  const ostemplate = String(params.ostemplate)
  const existing = core.guest(vmid)
  if (existing) {
    if (!(restore && flag(params, 'force')) || existing.node !== node || existing.type !== 'lxc') {
      throw fail(`${existing.type === 'qemu' ? 'VM' : 'CT'} ${vmid} already exists on node '${existing.node}'`)
    }
    core.checkLock(existing)
    if (existing.status === 'running') throw fail("can't overwrite running container")
    if (Number(existing.config.protection ?? 0) === 1) throw fail(`can't remove CT ${vmid} - protection mode enabled`)
  }
  const pool = str(params, 'pool')
  if (pool !== undefined && !core.state.pools[pool]) throw permError(`pool '${pool}' does not exist`)
  const given = configChanges(params)
  checkFeaturePerm(user, given.features, undefined)

  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(vztmpl|backup)\/(.+)$/i.exec(ostemplate)
  const volumes = core.state.nodes[node]!.volumes
  const backup = restore ? volumes[ostemplate] : undefined
  if (restore) {
    if (!m || m[2] !== 'backup' || !backup?.guest) throw fail(`unable to restore CT ${vmid} - volume '${ostemplate}' does not exist`)
  } else {
    if (!m || m[2] !== 'vztmpl') throw fail(`unable to use volume ${ostemplate} - content type needs to be 'vztmpl'`)
    storageDef(m[1] as string)
    if (!volumes[ostemplate]) throw fail(`volume '${ostemplate}' does not exist`)
  }
  const defaultStorage = str(params, 'storage') ?? 'local'
  const rootfsIn = given.rootfs !== undefined ? String(given.rootfs) : backup?.guest?.config.rootfs !== undefined ? sizeOnly(String(backup.guest.config.rootfs), defaultStorage) : undefined
  const rootfs = allocateRootfs(rootfsIn, vmid, defaultStorage)
  const target = storageDef(rootfs.storage)
  if (!target.content.includes('rootdir')) throw paramError({ storage: `storage '${rootfs.storage}' does not support container directories` })

  let guest: SimGuest
  if (existing) {
    guest = existing
    guest.config.lock = 'create'
  } else {
    guest = placeholderGuest(core, vmid, node)
    core.state.guests[String(vmid)] = guest
  }
  core.markDirty()
  const type = restore ? 'vzrestore' : 'vzcreate'
  return core.tasks.start(
    node,
    type,
    String(vmid),
    user,
    (t) => {
      const base: Record<string, ConfigValue> = {}
      if (backup?.guest) {
        t.log(`recovering backed-up configuration from '${ostemplate}'`)
        t.log(`restoring '${ostemplate}' now..`)
        Object.assign(base, backup.guest.config)
        delete base.lock
        t.log('merging backed-up and given configuration..')
      } else {
        t.log(`extracting archive '/var/lib/vz/template/cache/${m![3]}'`)
        base.ostype = ostypeOf(ostemplate)
        base.arch = 'amd64'
        base.unprivileged = 1
      }
      const config: Record<string, ConfigValue> = { ...base, ...given }
      if (backup?.guest && given.unprivileged === undefined && backup.guest.config.unprivileged !== undefined) config.unprivileged = backup.guest.config.unprivileged
      config.hostname ??= `CT${vmid}`
      config.memory ??= 512
      config.swap ??= 512
      config.rootfs = rootfs.value
      const unique = flag(params, 'unique')
      for (const [k, v] of Object.entries(config)) {
        if (given[k] !== undefined) config[k] = normaliseValue(k, v, unique ? undefined : base[k])
        else if (unique && /^net\d+$/.test(k)) config[k] = canonicalNet(String(v).replace(/(^|,)hwaddr=[^,]*/, ''))
      }
      // New mount points in the allocation form get their own volume (after rootfs: disk-1, …).
      for (const k of Object.keys(config).filter((x) => /^mp\d+$/.test(x)).sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))) {
        if (given[k] !== undefined) config[k] = allocateMountPoint(config[k] as ConfigValue, vmid, [config])
      }
      core.noteRrd(guest)
      guest.config = config
      guest.pending = {}
      guest.pendingDelete = []
      guest.snapshots = []
      guest.parent = undefined
      guest.runtime = backup?.guest ? structuredClone(backup.guest.runtime) : {}
      guest.firewall = backup?.guest?.firewall ? structuredClone(backup.guest.firewall) : { rules: [], options: {} }
      guest.created = true
      if (pool !== undefined) {
        for (const p of Object.values(core.state.pools)) p.members = p.members.filter((x) => x !== vmid)
        core.state.pools[pool]?.members.push(vmid)
      }
      if (flag(params, 'start')) {
        t.log(`starting CT ${vmid}`)
        core.setStatus(guest, 'running')
      }
      if (flag(params, 'ha-managed')) core.state.ha[`ct:${vmid}`] = { sid: `ct:${vmid}`, type: 'ct', state: 'started' }
      core.markDirty()
    },
    (message) => {
      if (core.guest(vmid) === guest) delete core.state.guests[String(vmid)]
      core.markDirty()
      void message
    },
  )
}

/** A backup's rootfs reduced to `STORAGE:SIZE_GiB` on the target storage. */
function sizeOnly(rootfs: string, storage: string): string {
  const size = /(?:^|,)size=(\d+)G(?:,|$)/.exec(rootfs)?.[1]
  return `${storage}:${size ?? '8'}`
}
