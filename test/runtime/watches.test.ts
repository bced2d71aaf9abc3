/**
 * Controller.watches: a kind whose desired state depends on another kind's objects (BackupPolicy
 * lists the vmids of Apps) is queued again when one of them changes — even when it was not among
 * the keys of the run (a converged policy that `apply` skipped), and even after it finished.
 */
import { describe, expect, it } from 'vitest'
import type { BackupPolicyManifest } from '../../src/model/types.js'
import type { Controller } from '../../src/runtime/controller.js'
import { createReconciler } from '../../src/runtime/reconciler.js'
import { app, fakeAppController, fixture, type FarEnd } from './fake-kind.js'

const policy: BackupPolicyManifest = {
  apiVersion: 'proximity/v1alpha1',
  kind: 'BackupPolicy',
  metadata: { name: 'nightly' },
  spec: { schedule: 'daily', selector: { all: true }, mode: 'snapshot', compress: 'zstd', retention: {}, includeAppliance: false, suspend: false },
  source: { file: 'p.yaml', line: 1, column: 1 },
  specHash: 'p',
}

/** A watcher whose observation is the guests that exist (recorded by the caller). */
function watcher(far: FarEnd, watches: Controller['watches']): Controller<BackupPolicyManifest, string[]> {
  return {
    kind: 'BackupPolicy',
    phases: [],
    ...(watches ? { watches } : {}),
    observe: async () => [...far.guests.keys()].sort(),
    plan: () => [],
    apply: async () => ({ ready: true, reason: 'Succeeded', message: 'ok' }),
    finalize: async () => ({ ready: true, reason: 'Deleted', message: 'gone' }),
  }
}

async function run(watches: Controller['watches'], keys: string[]) {
  const f = await fixture()
  f.set.apps = [app('web'), app('db')]
  f.set.backupPolicies = [policy]
  const seen: string[][] = []
  const w = watcher(f.far, watches)
  const observe = w.observe
  w.observe = async (ctx, obj) => {
    const o = await observe(ctx, obj)
    seen.push(o)
    return o
  }
  const rec = createReconciler({
    controllers: [fakeAppController(f.far), w],
    store: f.store,
    manifests: () => f.set,
    context: f.context,
    logger: { error: () => {}, warn: () => {}, info: () => {} },
    options: { workers: 1, backoff: { baseMs: 1, maxMs: 5 } },
  })
  const outcomes = await rec.runOnce(keys)
  return { seen, outcomes }
}

describe('Controller.watches', () => {
  it('a policy that ran before the apps were created looks again and sees every app', async () => {
    const { seen, outcomes } = await run(['App'], ['BackupPolicy/nightly', 'App/web', 'App/db'])
    expect(seen[0]).toEqual([])
    expect(seen.at(-1)).toEqual(['db', 'web'])
    expect(outcomes.get('BackupPolicy/nightly')?.result).toBe('Ready')
  })

  it('a policy outside the run joins it when a watched app changes', async () => {
    const { seen, outcomes } = await run(['App'], ['App/web', 'App/db'])
    expect(seen.at(-1)).toEqual(['db', 'web'])
    expect(outcomes.get('BackupPolicy/nightly')?.result).toBe('Ready')
  })

  it('without the declaration nothing is re-queued (the control case)', async () => {
    const { seen, outcomes } = await run(undefined, ['BackupPolicy/nightly', 'App/web', 'App/db'])
    expect(seen).toEqual([[]])
    expect(outcomes.get('BackupPolicy/nightly')?.result).toBe('Ready')
  })
})
