/** Where the secret key is, for the engine and the CLI (DESIGN §6: keys live apart from state). */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

/**
 * Where the secret key is: `PROXIMITY_KEY_FILE`, else `<cwd>/.proximity/secret.key` when it
 * exists, else `<stateDir>/secret.key` (created on first use for newcomers and the sandbox).
 */
export function resolveKeyFile(env: NodeJS.ProcessEnv, cwd: string, stateDir: string): { path: string; autoCreate: boolean } {
  if (env.PROXIMITY_KEY_FILE) return { path: resolve(cwd, env.PROXIMITY_KEY_FILE), autoCreate: false }
  // Same default as `proximity secret keygen` (defaultKeyPath in manifest/secrets.ts).
  const def = join(cwd, '.proximity', 'secret.key')
  if (existsSync(def)) return { path: def, autoCreate: false }
  return { path: join(stateDir, 'secret.key'), autoCreate: true }
}
