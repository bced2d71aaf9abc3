import { SimCommandError, type SimGuestView, type SimNodeAccess, type SimRequestLogEntry } from './contracts.js'
import type { SimCore } from './core.js'
import { PveError } from './errors.js'
import { effectiveConfig } from './guest-config.js'
import { validateParams } from './params.js'
import type { MemoryRequestLog } from './request-log.js'
import { updateConfig } from './routes/lxc.js'
import { methodSchema } from './schema.js'
import type { SimGuest } from './state.js'

function pctMessage(e: PveError): string {
  if (e.errors) return `${e.message}\n${Object.entries(e.errors).map(([k, v]) => `${k}: ${v.replace(/\n$/, '')}`).join('\n')}`
  return e.message
}

/** The SSH node's view of the simulator (contracts.ts), implemented over the core state. */
export function createNodeAccess(core: SimCore, log: MemoryRequestLog): SimNodeAccess {
  const guestOnNode = (node: string, vmid: number): SimGuest => {
    const g = core.guest(vmid)
    if (!g || g.node !== node) throw new SimCommandError(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`, 2)
    return g
  }
  const view = (g: SimGuest): SimGuestView => ({ vmid: g.vmid, node: g.node, type: g.type, status: g.status, ...(g.config.lock !== undefined ? { lock: String(g.config.lock) } : {}), config: effectiveConfig(g, true) })
  return {
    nodeNames: () => core.nodeNames(),
    getGuest: (vmid: number): SimGuestView | undefined => {
      const g = core.guest(vmid)
      return g ? view(g) : undefined
    },
    guestsOn: (node: string): SimGuestView[] => Object.values(core.state.guests).filter((g) => g.node === node).map(view),
    setConfigAsRoot: (node, vmid, changes) => {
      const g = guestOnNode(node, vmid)
      try {
        const schema = methodSchema('PUT', '/nodes/{node}/lxc/{vmid}/config')!
        const params = validateParams(schema, { ...changes, node, vmid: String(vmid) })
        updateConfig({ core, user: 'root@pam' }, g, params)
      } catch (e) {
        if (e instanceof PveError) throw new SimCommandError(pctMessage(e), 255)
        throw e
      }
    },
    unlock: (node, vmid) => {
      const g = guestOnNode(node, vmid)
      delete g.config.lock
      core.markDirty()
    },
    runtime: (vmid) => {
      const g = core.guest(vmid)
      if (!g) throw new SimCommandError(`CT ${vmid} does not exist`, 2)
      g.runtime ??= {}
      return g.runtime
    },
    markDirty: () => core.markDirty(),
    log: (entry: Omit<SimRequestLogEntry, 'time'>) => {
      core.touch() // a node command may have changed state
      log.add({ ...entry, time: core.now() })
    },
    now: () => core.now(),
  }
}
