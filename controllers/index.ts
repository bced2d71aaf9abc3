/**
 * The controller registry: the runtime registers these at start-up (`src/` never imports
 * `controllers/`). App now; Appliance, BackupPolicy and Restore arrive with their issues.
 */
import type { Manifest } from '../src/model/types.js'
import type { Controller } from '../src/runtime/controller.js'
import { appController } from './app/index.js'

/** Every controller, in dependency order (apps after the appliance they may join). */
export function registerControllers(): Controller[] {
  return [appController as unknown as Controller<Manifest, unknown>]
}
