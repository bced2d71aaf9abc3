/**
 * VMID allocation inside `Cluster.vmidRange` (DESIGN §3). Pure.
 */
import type { ClusterSpec } from '../../src/model/types.js'
import { StalledError } from '../../src/runtime/errors.js'

/**
 * The lowest vmid in `[range.min, range.max]` not in `taken` (every guest in the snapshot,
 * foreign ones too, plus every pending create and any id a create just found occupied).
 * Throws StalledError `VmidRangeExhausted` when the range is full.
 */
export function allocateVmid(range: ClusterSpec['vmidRange'], taken: Iterable<number>): number {
  const used = new Set(taken)
  for (let id = Math.max(100, range.min); id <= range.max; id++) if (!used.has(id)) return id
  throw new StalledError('VmidRangeExhausted', `no free vmid in ${range.min}-${range.max}; widen Cluster.spec.vmidRange or remove unused guests`)
}
