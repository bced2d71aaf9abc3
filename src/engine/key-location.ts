/**
 * Where the secret key lives (DESIGN §6): in the per-user configuration folder
 * (`$XDG_CONFIG_HOME/proximity/secret.key`, by default `~/.config/proximity/secret.key`), apart
 * from the state directory that holds the sealed generated values it protects. Keys made by
 * older versions in `./.proximity/` or in the state directory are still found, with a notice
 * saying how to move them. Pure apart from `existsSync` checks; writes nothing.
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'

/** The key file to use, whether it may be created there, and an optional migration notice. */
export interface KeyLocation {
  path: string
  /** True for the default per-user path when no key exists yet (sandbox and newcomers). */
  autoCreate: boolean
  /** Set when an old location is used: one line for stderr saying how to move the key. */
  notice?: string
}

/**
 * `$XDG_CONFIG_HOME/proximity` when XDG_CONFIG_HOME is an absolute path (the XDG spec ignores
 * relative values), else `$HOME/.config/proximity`; the OS home folder only when the
 * environment has no HOME.
 */
export function configDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'proximity')
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir()
  return join(home, '.config', 'proximity')
}

/** The default private key path: `<configDir>/secret.key`. */
export const configKeyPath = (env: NodeJS.ProcessEnv): string => join(configDir(env), 'secret.key')

/**
 * Resolves the key file, first match wins:
 * 1. `PROXIMITY_KEY_FILE` (relative to `cwd`), never created automatically;
 * 2. `<configDir>/secret.key` when it exists;
 * 3. legacy `<cwd>/.proximity/secret.key`, then `<stateDir>/secret.key`, when they exist (with a
 *    notice);
 * 4. `<configDir>/secret.key`, which the caller may create (mode 0600, folder 0700).
 */
export function resolveKeyLocation(env: NodeJS.ProcessEnv, cwd: string, stateDir?: string): KeyLocation {
  const fromEnv = env.PROXIMITY_KEY_FILE
  if (fromEnv && fromEnv.trim() !== '') return { path: resolve(cwd, fromEnv), autoCreate: false }
  const wanted = configKeyPath(env)
  if (existsSync(wanted)) return { path: wanted, autoCreate: false }
  const legacy = [join(cwd, '.proximity', 'secret.key'), ...(stateDir ? [join(resolve(cwd, stateDir), 'secret.key')] : [])]
  for (const old of legacy) {
    if (!existsSync(old)) continue
    return { path: old, autoCreate: false, notice: moveNotice(old, wanted, cwd) }
  }
  return { path: wanted, autoCreate: true }
}

function moveNotice(old: string, wanted: string, cwd: string): string {
  const shown = (p: string): string => {
    const rel = relative(cwd, p)
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? `./${rel}` : p
  }
  const pub = existsSync(`${old}.pub`) ? ` ${shown(`${old}.pub`)}` : ''
  return (
    `notice: using the secret key at ${shown(old)}, next to the state it protects; keys now live in ${dirname(wanted)}. ` +
    `Move it: mkdir -p -m 700 ${dirname(wanted)} && mv ${shown(old)}${pub} ${dirname(wanted)}/`
  )
}
