/**
 * The placements of one run (DESIGN §10 "placement … spread"): which node each guest created in
 * this run went to, before the cluster snapshot shows it. Creates run concurrently, so a node
 * picked from the snapshot alone would be picked by all of them; every create of a pass shares
 * one ledger through its context and decides from the snapshot plus the ledger.
 */

/** One reservation: `key`'s new guest goes to `node`. */
export interface Placement {
  key: string
  node: string
  /** Memory the guest is given (MiB), for strategies that weigh nodes by it. */
  memoryMiB: number
  /** Set once the vmid is known: the snapshot then counts the guest itself. */
  vmid?: number
}

/** The ledger of a run. Synchronous, so a pick and its reservation never interleave with another create. */
export interface PlacementLedger {
  /** Records (or replaces) `key`'s reservation. */
  reserve(p: Omit<Placement, 'vmid'>): void
  /** Attaches the vmid to `key`'s reservation. No-op without one. */
  assign(key: string, vmid: number): void
  /** The reservations of this run, in the order they were made. */
  list(): readonly Placement[]
}

/** A new, empty ledger (one per pass). */
export function createPlacementLedger(): PlacementLedger {
  const byKey = new Map<string, Placement>()
  return {
    reserve(p) {
      byKey.delete(p.key)
      byKey.set(p.key, { ...p })
    },
    assign(key, vmid) {
      const p = byKey.get(key)
      if (p) p.vmid = vmid
    },
    list: () => [...byKey.values()],
  }
}
