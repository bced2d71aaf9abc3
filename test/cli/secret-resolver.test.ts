/** The session's SecretResolver against a real state store and a real key. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as secrets from '../../src/manifest/secrets.js'
import { createSecretResolver } from '../../src/engine/secret-resolver.js'
import { openStateStore } from '../../src/store/state-store.js'
import type { ManifestSet } from '../../src/model/types.js'

const emptySet: ManifestSet = { apps: [], appliances: [], backupPolicies: [], restores: [], roots: [] }
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function setup(dryRun = false) {
  const dir = await mkdtemp(join(tmpdir(), 'prox-resolver-'))
  dirs.push(dir)
  const store = await openStateStore(join(dir, 'state'))
  const key = await secrets.parseSecretKey((await secrets.generateSecretKey()).keyText)
  const resolver = createSecretResolver(secrets, { set: emptySet, store, key, env: {}, keyPath: join(dir, 'secret.key'), dryRun })
  return { store, key, resolver }
}

describe('generated secrets', () => {
  it('are created once, stored sealed, and resolve to the same value afterwards', async () => {
    const { store, resolver } = await setup()
    const first = await resolver.resolve('App/db', 'PW', { generate: { length: 24 } })
    expect(first).toHaveLength(24)
    const stored = store.getGeneratedSecret('App/db', 'PW')
    expect(stored).toBeDefined()
    expect(stored).not.toContain(first)
    const again = createSecretResolver(secrets, { set: emptySet, store, key: (await setup()).key, env: {}, keyPath: 'x' })
    await expect(again.resolve('App/db', 'PW', { generate: { length: 24 } })).rejects.toThrow() // another key cannot unseal it
    expect(await resolver.resolve('App/db', 'PW', { generate: { length: 24 } })).toBe(first)
  })

  it('remember heals a lost store from the value found in the guest, without overwriting', async () => {
    const { store, key, resolver } = await setup()
    await resolver.remember?.('App/db', 'PW', 'from-the-guest-env')
    await resolver.remember?.('App/db', 'PW', 'something-else')
    // A new session (no in-memory cache) reads the remembered value from the store.
    const next = createSecretResolver(secrets, { set: emptySet, store, key, env: {}, keyPath: 'k' })
    expect(await next.resolve('App/db', 'PW', { generate: { length: 24 } })).toBe('from-the-guest-env')
    expect(store.getGeneratedSecret('App/db', 'PW')).not.toContain('from-the-guest-env')
  })

  it('a dry run neither stores generated values nor remembers', async () => {
    const { store, resolver } = await setup(true)
    await resolver.resolve('App/db', 'PW', { generate: { length: 16 } })
    await resolver.remember?.('App/db', 'OTHER', 'v')
    expect(store.getGeneratedSecret('App/db', 'PW')).toBeUndefined()
    expect(store.getGeneratedSecret('App/db', 'OTHER')).toBeUndefined()
  })
})
