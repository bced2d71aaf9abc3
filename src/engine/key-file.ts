/** Where the secret key is, for the engine and the CLI (DESIGN §6: keys live apart from state). */
import { resolveKeyLocation, type KeyLocation } from './key-location.js'

/**
 * Where the secret key is (never created in the state dir): see resolveKeyLocation in
 * ./key-location.ts. `notice` is set when a key from an old location is used.
 */
export function resolveKeyFile(env: NodeJS.ProcessEnv, cwd: string, stateDir: string): KeyLocation {
  return resolveKeyLocation(env, cwd, stateDir)
}
