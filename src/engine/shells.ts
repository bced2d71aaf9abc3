/** Node-shell pools the engine hands to controllers: a lazy SSH pool, or one that explains what to set. */
import { StalledError } from '../runtime/errors.js'
import type { NodeShell, NodeShellPool } from '../providers/ssh/types.js'

/**
 * A pool that loads ssh2 and connects only when the first node command runs: a steady-state
 * plan or resync runs none, so it pays neither the import nor a connection.
 */
export function lazyShellPool(create: () => Promise<NodeShellPool>): NodeShellPool {
  let pool: Promise<NodeShellPool> | undefined
  let ready: NodeShellPool | undefined
  const get = (): Promise<NodeShellPool> => {
    pool ??= create().then((p) => (ready = p))
    return pool
  }
  return {
    forNode(node: string): NodeShell {
      const on = async (): Promise<NodeShell> => (await get()).forNode(node)
      return {
        pctExec: async (vmid, argv, o) => (await on()).pctExec(vmid, argv, o),
        pushFile: async (vmid, path, content, o) => (await on()).pushFile(vmid, path, content, o),
        setFeatures: async (vmid, features) => (await on()).setFeatures(vmid, features),
        unlock: async (vmid) => (await on()).unlock(vmid),
        fileSha256: async (vmid, path) => {
          const sh = await on()
          if (!sh.fileSha256) throw new Error('this ssh client cannot hash files')
          return sh.fileSha256(vmid, path)
        },
        nodePackageVersion: async (pkg) => {
          const sh = await on()
          if (!sh.nodePackageVersion) throw new Error('this ssh client cannot query node packages')
          return sh.nodePackageVersion(pkg)
        },
        close: async () => {
          if (ready) await ready.forNode(node).close()
        },
      }
    },
    sessionsOpened: () => ready?.sessionsOpened() ?? 0,
    closeAll: async () => {
      if (pool) await (await pool).closeAll()
    },
  }
}

/** A pool for targets without SSH: any node command is a Stalled error saying what to set. */
export function noShellPool(): NodeShellPool {
  const fail = (): never => {
    throw new StalledError('SshNotConfigured', 'no ssh access to the nodes: set spec.ssh in the Cluster manifest or PROXIMITY_SSH_HOST')
  }
  const shell: NodeShell = {
    pctExec: async () => fail(),
    pushFile: async () => fail(),
    setFeatures: async () => fail(),
    unlock: async () => fail(),
    close: async () => {},
  }
  return { forNode: () => shell, sessionsOpened: () => 0, closeAll: async () => {} }
}
