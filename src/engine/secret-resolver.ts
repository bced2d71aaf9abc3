/**
 * Secrets for a reconcile session: finding/creating the sealing key, and the SecretResolver the
 * controllers use (DESIGN §2 "Secrets"). Plaintext lives in memory only.
 */
import { createHash } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Manifest, ManifestSet, SecretRef } from '../model/types.js'
import type { SecretResolver } from '../runtime/controller.js'
import { StalledError } from '../runtime/errors.js'
import type { StateStore } from '../store/types.js'
import type { SecretKey } from '../manifest/secrets.js'

/** The secrets module, imported lazily by the engine (jose is not needed by `get` or `--help`). */
export type SecretsModule = typeof import('../manifest/secrets.js')

/**
 * Loads the key at `path`; when it is missing and `autoCreate`, generates one there (mode 0600,
 * its folder 0700; the default path is `~/.config/proximity/secret.key`, see ./key-location.ts). Resolves undefined when missing and not created.
 */
export async function obtainKey(sec: SecretsModule, path: string, autoCreate: boolean): Promise<SecretKey | undefined> {
  if (existsSync(path)) return sec.loadSecretKey(path)
  if (!autoCreate) return undefined
  const { keyText } = await sec.generateSecretKey()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await chmod(dirname(path), 0o700)
  await writeFile(path, keyText, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e
  })
  await chmod(path, 0o600)
  return sec.loadSecretKey(path)
}

export interface SecretResolverDeps {
  /** The current desired set (a watched source swaps it; file refs resolve beside their manifest). */
  set: ManifestSet | (() => ManifestSet)
  store: StateStore
  key: SecretKey | undefined
  env: NodeJS.ProcessEnv
  keyPath: string
  /** Plan/dry-run: a missing generated value is made up in memory and never stored. */
  dryRun?: boolean
}

/**
 * Resolves secret refs in memory: sealed values with the key, env/file refs through
 * resolveSecretRef (relative to the manifest file), `generate` values created once, stored
 * sealed in the store and never regenerated. Digests are keyed (HMAC) so they reveal nothing.
 */
export function createSecretResolver(sec: SecretsModule, deps: SecretResolverDeps): SecretResolver {
  const cache = new Map<string, Promise<string>>()
  const fallbackDigestKey = createHash('sha256').update(`proximity-digest:${deps.keyPath}`).digest()
  let indexed: { set: ManifestSet; map: Map<string, Manifest> } | undefined
  const manifestOf = (key: string): Manifest | undefined => {
    const s = typeof deps.set === 'function' ? deps.set() : deps.set
    // Indexed once per manifest set (the daemon swaps sets; a lookup per key stays O(1)).
    if (indexed?.set !== s) {
      indexed = {
        set: s,
        map: new Map(
          [s.cluster, ...s.apps, ...s.appliances, ...s.backupPolicies, ...s.restores]
            .filter((m): m is Manifest => m !== undefined)
            .map((m) => [`${m.kind}/${m.metadata.name}`, m]),
        ),
      }
    }
    return indexed.map.get(key)
  }
  const needKey = (what: string): SecretKey => {
    if (!deps.key) throw new StalledError('SecretKeyMissing', `${what} needs the secret key at ${deps.keyPath}; run proximity secret keygen or set PROXIMITY_KEY_FILE`)
    return deps.key
  }
  const resolveNow = async (key: string, name: string, ref: SecretRef): Promise<string> => {
    if ('generate' in ref) {
      const k = needKey(`generated secret ${name} of ${key}`)
      const stored = deps.store.getGeneratedSecret(key, name)
      if (stored) return sec.unsealValue(stored, k)
      const value = sec.generateSecretValue(ref.generate.length)
      // A plan must not write the store (another process may be applying).
      if (deps.dryRun) return value
      await deps.store.putGeneratedSecret(key, name, await sec.sealValue(value, k))
      return value
    }
    const m = manifestOf(key)
    const baseDir = m ? dirname(m.source.file) : process.cwd()
    if ('sealed' in ref) needKey(`sealed secret ${name} of ${key}`)
    return sec.resolveSecretRef(ref, { key: deps.key, env: deps.env, baseDir })
  }
  // Values handed out or remembered in this session, per object: what redaction must hide.
  const seen = new Map<string, Map<string, string>>()
  const see = (key: string, name: string, value: string): void => {
    let m = seen.get(key)
    if (!m) seen.set(key, (m = new Map()))
    m.set(name, value)
  }
  const unsealed = new Map<string, Promise<string>>()
  const resolve = (key: string, name: string, ref: SecretRef): Promise<string> => {
    const id = `${key}\u0000${name}\u0000${JSON.stringify(ref)}`
    let p = cache.get(id)
    if (!p) {
      p = resolveNow(key, name, ref)
      cache.set(id, p)
      p.catch(() => cache.delete(id))
      p.then((v) => see(key, name, v), () => undefined)
    }
    return p
  }
  return {
    resolve,
    digest(value) {
      return sec.keyedDigest(value, deps.key ?? fallbackDigestKey)
    },
    async remember(key, name, value) {
      see(key, name, value)
      if (deps.dryRun || !deps.key || deps.store.getGeneratedSecret(key, name)) return
      await deps.store.putGeneratedSecret(key, name, await sec.sealValue(value, deps.key))
    },
    async known(key) {
      const out = new Map<string, string>(seen.get(key) ?? [])
      const m = manifestOf(key)
      const refs = m?.kind === 'App' ? Object.entries(m.spec.secrets) : []
      for (const [name, ref] of refs) {
        try {
          if ('generate' in ref) {
            const stored = deps.store.getGeneratedSecret(key, name)
            if (!stored || !deps.key) continue
            let p = unsealed.get(stored)
            if (!p) unsealed.set(stored, (p = sec.unsealValue(stored, deps.key)))
            out.set(`${name}\u0000stored`, await p)
          } else out.set(name, await resolve(key, name, ref))
        } catch {
          // not resolvable now (unset variable, missing key): nothing of it can have been deployed by us
        }
      }
      return [...out].map(([name, value]) => ({ name: name.split('\u0000')[0], value }))
    },
  }
}
