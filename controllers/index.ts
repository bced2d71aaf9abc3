/**
 * The controller registry: the runtime registers these at start-up (`src/` never imports
 * `controllers/`). Every kind: Appliance, App, BackupPolicy and Restore.
 */
import type { AnyController } from '../src/runtime/attempt.js'
import { appController } from './app/index.js'
import { applianceController } from './appliance/index.js'
import { backupPolicyController } from './backup-policy/index.js'
import { restoreController } from './restore/index.js'

/**
 * Every controller, in dependency order (apps after the appliance they may join; backup
 * policies after the apps they select, and queued again when an app changes: `watches`).
 */
export function registerControllers(): AnyController[] {
  return [applianceController, appController, backupPolicyController, restoreController]
}
