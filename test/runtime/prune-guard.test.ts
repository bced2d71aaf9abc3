import { describe, expect, it } from 'vitest'
import type { OrphanRecord } from '../../src/runtime/controller.js'
import { checkPruneGuard, countByKind, MassDeleteRefusedError } from '../../src/runtime/prune-guard.js'

const orphan = (key: string, destroys = true): OrphanRecord => {
  const [kind, name] = key.split('/') as [OrphanRecord['kind'], string]
  return { key, kind, name, destroys, target: key, detail: undefined }
}

describe('checkPruneGuard', () => {
  const cases: { name: string; reason: string; given: { orphans: OrphanRecord[]; desired: Record<string, number>; threshold?: number }; want: RegExp | undefined }[] = [
    {
      name: 'over the threshold, mixed kinds',
      reason: 'objects are counted and named by kind, not as guests: a backup job is not a guest',
      given: { orphans: [orphan('App/a'), orphan('App/b'), orphan('BackupPolicy/nightly')], desired: { App: 4, BackupPolicy: 1 }, threshold: 2 },
      want: /^refusing to delete 2 Apps and 1 BackupPolicy \(App\/a, App\/b, BackupPolicy\/nightly\): more than the limit of 2/,
    },
    {
      name: 'released objects do not count',
      reason: 'an orphan that is only let go (App deletionPolicy Retain) destroys nothing',
      given: { orphans: [orphan('App/a', false), orphan('App/b', false), orphan('App/c')], desired: { App: 1 }, threshold: 1 },
      want: undefined,
    },
    {
      name: 'every object of a kind',
      reason: 'a wrong -f path must not wipe a kind out, whatever the count',
      given: { orphans: [orphan('BackupPolicy/nightly')], desired: { App: 3 } },
      want: /^refusing to delete every managed BackupPolicy \(BackupPolicy\/nightly\): the manifests define none/,
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const run = (): void => checkPruneGuard(c.given.orphans, c.given.desired, { threshold: c.given.threshold })
      if (c.want) expect(run).toThrow(MassDeleteRefusedError)
      if (c.want) expect(run).toThrow(c.want)
      else expect(run).not.toThrow()
    })
  }

  it('counts kinds with their plural', () => {
    expect(countByKind(['App'])).toBe('1 App')
    expect(countByKind(['Restore', 'App', 'Restore', 'BackupPolicy'])).toBe('1 App, 1 BackupPolicy and 2 Restores')
  })
})
