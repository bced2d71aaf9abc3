/**
 * Starts the in-process simulator over HTTPS and builds our client against it with the real
 * proxmox-api proxy, for the provider's end-to-end tests.
 */
import { startSimulator } from '../../src/sim/index.js'
import type { RunningSimulator, SimulatorOptions } from '../../src/sim/types.js'
import { createPveClient, type PveAuditEntry, type PveClientOptions, type PveHttpClient } from '../../src/providers/proxmox/client.js'

export interface Harness {
  sim: RunningSimulator
  audit: PveAuditEntry[]
  /** A token-authenticated client pinned to the simulator's fingerprint (tracked for close). */
  client(extra?: Partial<PveClientOptions>): PveHttpClient
  close(): Promise<void>
}

/**
 * Fast defaults: short tasks, no 401 delay, fault endpoint off (the API object is used), and every
 * response checked against its schema (a drift answers 500 `simulator response drift`).
 */
export async function startHarness(opts: SimulatorOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ taskLatencyMs: 20, authFailureDelayMs: 0, verifyResponses: true, ...opts })
  const clients: PveHttpClient[] = []
  const audit: PveAuditEntry[] = []
  return {
    sim,
    audit,
    client(extra = {}) {
      const c = createPveClient({
        endpoint: sim.endpoint,
        tls: { fingerprint: sim.fingerprint },
        auth: { tokenId: sim.tokenId, tokenSecret: sim.tokenSecret },
        retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 },
        timeoutMs: 5000,
        audit: (e) => audit.push(e),
        ...extra,
      })
      clients.push(c)
      return c
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()))
      await sim.stop()
    },
  }
}

/** The seeded Alpine template the simulator ships in `local`. */
export const TEMPLATE = 'local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz'
