/**
 * Test far end: a real ssh2 server (startSshNode) over a tiny SimNodeAccess backed by plain
 * objects, so tests drive the real client against a realistic node without the HTTP simulator.
 */
import ssh2 from 'ssh2'
import type { SimGuestView, SimNodeAccess, SimRequestLogEntry } from '../../src/sim/contracts.js'
import { SimCommandError } from '../../src/sim/contracts.js'
import { startSshNode } from '../../src/sim/ssh-node.js'
import type { SshNode } from '../../src/sim/ssh-node.js'
import { createNodeShellPool } from '../../src/providers/ssh/client.js'
import type { NodeShellPoolOptions, SshAuditEvent } from '../../src/providers/ssh/client.js'
import { applyPowerChange } from '../../src/sim/ct-runtime.js'
import { generateEd25519 } from '../../src/sim/keys.js'

export interface TestGuest extends SimGuestView {
  runtime: Record<string, unknown>
}

export interface TestNode {
  node: SshNode
  guests: Map<number, TestGuest>
  log: SimRequestLogEntry[]
  clock: { now: number }
  keys: { clientPrivate: string; clientPublic: string; otherPrivate: string }
  password: string
  dirty: number
  addGuest(vmid: number, opts?: Partial<Pick<TestGuest, 'node' | 'status' | 'config' | 'type'>>): TestGuest
  setStatus(vmid: number, status: 'running' | 'stopped'): void
  pool(extra?: Partial<NodeShellPoolOptions>): ReturnType<typeof createNodeShellPool> & { audits: SshAuditEvent[] }
  close(): Promise<void>
}

const clientKeys = generateEd25519()
const hostKeys = generateEd25519()
const otherKeys = generateEd25519()

/** Starts an SSH node on 127.0.0.1:0 with nodes `pve1`, `pve2`. */
export async function startTestNode(): Promise<TestNode> {
  const guests = new Map<number, TestGuest>()
  const log: SimRequestLogEntry[] = []
  const clock = { now: Date.parse('2026-03-02T09:00:00Z') }
  const pools: ReturnType<typeof createNodeShellPool>[] = []
  const t: Partial<TestNode> & { dirty: number } = { dirty: 0 }
  const access: SimNodeAccess = {
    nodeNames: () => ['pve1', 'pve2'],
    getGuest: (vmid) => guests.get(vmid),
    guestsOn: (node) => [...guests.values()].filter((g) => g.node === node),
    setConfigAsRoot(node, vmid, changes) {
      const g = guests.get(vmid)
      if (!g || g.node !== node) throw new SimCommandError(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`)
      if (g.lock) throw new SimCommandError(`CT is locked (${g.lock})`)
      for (const [k, v] of Object.entries(changes)) {
        if (k !== 'features' && k !== 'memory' && k !== 'description') throw new SimCommandError(`400 Parameter verification failed.\n${k}: property is not defined in schema and the schema does not allow additional properties`)
        g.config[k] = v
      }
    },
    unlock(node, vmid) {
      const g = guests.get(vmid)
      if (!g || g.node !== node) throw new SimCommandError(`Configuration file 'nodes/${node}/lxc/${vmid}.conf' does not exist`)
      delete g.lock
    },
    runtime: (vmid) => {
      const g = guests.get(vmid)
      if (!g) throw new Error(`no guest ${vmid}`)
      return g.runtime
    },
    markDirty: () => {
      t.dirty++
    },
    log: (e) => log.push({ ...e, time: clock.now }),
    now: () => clock.now,
  }
  const node = await startSshNode(access, {
    host: '127.0.0.1',
    port: 0,
    hostKeyPem: hostKeys.private,
    authorizedPublicKey: clientKeys.public,
    password: 'node-secret-pw',
    user: 'root',
  })
  return Object.assign(t, {
    node,
    guests,
    log,
    clock,
    keys: { clientPrivate: clientKeys.private, clientPublic: clientKeys.public, otherPrivate: otherKeys.private },
    password: 'node-secret-pw',
    addGuest(vmid: number, o: Partial<Pick<TestGuest, 'node' | 'status' | 'config' | 'type'>> = {}) {
      const g: TestGuest = {
        vmid,
        node: o.node ?? 'pve1',
        type: o.type ?? 'lxc',
        status: o.status ?? 'running',
        config: o.config ?? { unprivileged: 1, features: 'nesting=1,keyctl=1', hostname: `ct${vmid}` },
        runtime: {},
      }
      guests.set(vmid, g)
      return g
    },
    setStatus(vmid: number, status: 'running' | 'stopped') {
      const g = guests.get(vmid)!
      g.status = status
      applyPowerChange(g.runtime, status, g.config, () => clock.now)
    },
    pool(extra: Partial<NodeShellPoolOptions> = {}) {
      const audits: SshAuditEvent[] = []
      const p = createNodeShellPool({
        host: '127.0.0.1',
        port: node.port,
        user: 'root',
        privateKey: clientKeys.private,
        hostKey: node.hostKeyFingerprint,
        timeoutMs: 10_000,
        audit: (e) => audits.push(e),
        ...extra,
      })
      pools.push(p)
      return Object.assign(p, { audits })
    },
    async close() {
      await Promise.all(pools.map((p) => p.closeAll()))
      await node.close()
    },
  }) as TestNode
}
