/**
 * The seam for safe updates (DESIGN §5 "Safe updates", a later issue): before a compose/env
 * change is re-deployed to a running guest, take a snapshot (or vzdump) so a failed health gate
 * can roll back. This issue deploys directly; the hook below is where that work plugs in.
 */
import type { AppManifest } from '../../src/model/types.js'
import type { ControllerContext } from '../../src/runtime/controller.js'

export interface RedeployTarget {
  vmid: number
  node: string
  /** True when the guest already ran an earlier deploy (a first deploy has nothing to protect). */
  hadDeploy: boolean
}

/**
 * Called once before every re-deploy of an existing project. Currently does nothing and resolves;
 * it must stay idempotent (it may run again after a crash) and must not throw for a first deploy.
 */
export async function beforeRedeploy(ctx: ControllerContext, app: AppManifest, target: RedeployTarget): Promise<void> {
  void ctx
  void app
  void target
}
