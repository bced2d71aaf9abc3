/**
 * The controller registry: the runtime registers these at start-up (`src/` never imports
 * `controllers/`). App and Appliance now; BackupPolicy and Restore arrive with their issues.
 */
import type { AnyController } from '../src/runtime/attempt.js'
import { appController } from './app/index.js'
import { applianceController } from './appliance/index.js'

/** Every controller, in dependency order (apps after the appliance they may join). */
export function registerControllers(): AnyController[] {
  return [applianceController, appController]
}
