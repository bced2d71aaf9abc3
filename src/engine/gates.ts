/**
 * Wrappers the engine puts around its ports: a store that tells listeners what changed (the
 * API/SSE of the next issue subscribes), and Proxmox/SSH clients that refuse to START new
 * changes once the engine drains for shutdown (calls already in flight, and task waits, finish).
 */
import type { PveClient } from '../providers/proxmox/types.js'
import type { NodeShell, NodeShellPool } from '../providers/ssh/types.js'
import type { ObjectStatus, StateStore, StoredEvent } from '../store/types.js'
import { TransientError } from '../runtime/errors.js'

/** Client methods that change Proxmox (everything else reads or waits). */
const MUTATING = /^(create|update|start|stop|shutdown|reboot|delete|resize|rollback|download|vzdump|apply|revert)/

const refuse = (): Promise<never> => Promise.reject(new TransientError('shutting down: no new change is started; the next run picks this up'))

/** A PveClient whose mutating calls reject with a TransientError while `draining()` is true. */
export function gatePve(pve: PveClient, draining: () => boolean): PveClient {
  return new Proxy(pve, {
    get(t, p) {
      const v: unknown = Reflect.get(t, p, t)
      if (typeof v !== 'function') return v
      const fn = v as (...a: unknown[]) => unknown
      if (typeof p === 'string' && MUTATING.test(p)) return (...a: unknown[]) => (draining() ? refuse() : fn.apply(t, a))
      return fn.bind(t)
    },
  })
}

/** A NodeShellPool whose node commands reject with a TransientError while `draining()` is true. */
export function gateShells(pool: NodeShellPool, draining: () => boolean): NodeShellPool {
  const gate = (sh: NodeShell): NodeShell => ({
    ...sh,
    pctExec: (vmid, argv, o) => (draining() ? refuse() : sh.pctExec(vmid, argv, o)),
    pushFile: (vmid, path, content, o) => (draining() ? refuse() : sh.pushFile(vmid, path, content, o)),
    setFeatures: (vmid, f) => (draining() ? refuse() : sh.setFeatures(vmid, f)),
    unlock: (vmid) => (draining() ? refuse() : sh.unlock(vmid)),
    close: () => sh.close(),
  })
  return { forNode: (node) => gate(pool.forNode(node)), sessionsOpened: () => pool.sessionsOpened(), closeAll: () => pool.closeAll() }
}

/** What changed in the store, as the engine reports it. */
export type StoreChange = { type: 'status'; key: string; status?: ObjectStatus } | { type: 'event'; event: StoredEvent }

/** What a status change is about (conditions, inventory, revisions); timestamps of a repeat are not a change. */
const gist = (s: ObjectStatus | undefined): string =>
  s === undefined ? '' : JSON.stringify([s.conditions.map((c) => [c.type, c.status, c.reason, c.message]), s.inventory, s.lastAppliedRevision, s.lastAttemptedRevision, s.specHash])

/**
 * A store that calls `notify` after each status write that changes something visible, each
 * status deletion and each recorded event. Everything else passes through unchanged.
 */
export function notifyingStore(store: StateStore, notify: (c: StoreChange) => void): StateStore {
  const putStatus = (s: ObjectStatus): void => {
    const before = gist(store.getStatus(s.key))
    store.putStatus(s)
    if (gist(s) !== before) notify({ type: 'status', key: s.key, status: store.getStatus(s.key) })
  }
  const deleteStatus = (key: string): void => {
    const had = store.getStatus(key) !== undefined
    store.deleteStatus(key)
    if (had) notify({ type: 'status', key })
  }
  const addEvent = (e: Parameters<StateStore['addEvent']>[0]): void => {
    store.addEvent(e)
    notify({ type: 'event', event: { time: e.time ?? new Date().toISOString(), key: e.key, type: e.type, reason: e.reason, message: e.message } })
  }
  return new Proxy(store, {
    get(t, p) {
      if (p === 'putStatus') return putStatus
      if (p === 'deleteStatus') return deleteStatus
      if (p === 'addEvent') return addEvent
      const v: unknown = Reflect.get(t, p, t)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    },
  })
}
