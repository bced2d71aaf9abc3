import { describe, expect, it } from 'vitest'
import { buildPlan } from '../../src/plan/build.js'
import { describeDestructive, destructiveChanges } from '../../src/plan/destructive.js'
import type { Action } from '../../src/runtime/controller.js'

const action = (type: Action['type'], changes: Action['changes'], key = 'App/web'): Action => ({ type, key, kind: 'App', name: key.slice(4), changes })

describe('destructiveChanges: what apply asks about first (issue 9 point 8)', () => {
  const cases = [
    { name: 'create', reason: 'making something new never needs approval', given: action('create', [{ path: 'hostname', after: 'web', impact: 'live' }]), want: [] },
    { name: 'live update', reason: 'a memory change on the running guest loses nothing', given: action('update', [{ path: 'resources.memory', before: 256, after: 512, impact: 'live' }]), want: [] },
    { name: 'restart update', reason: 'a restart interrupts but deletes nothing', given: action('update', [{ path: 'features.keyctl', before: 0, after: 1, impact: 'restart' }]), want: [] },
    { name: 'replace', reason: 'a new guest replaces the old one', given: action('replace', [{ path: 'template', before: 'a', after: 'b', impact: 'replace' }]), want: [{ key: 'App/web', what: 'replace' }] },
    { name: 'destroy', reason: 'a prune with deletionPolicy Delete or Backup destroys the guest', given: action('delete', [{ path: 'guest', before: '104 on pve', impact: 'data-loss' }]), want: [{ key: 'App/web', what: 'destroy' }] },
    { name: 'delete without fields', reason: 'a deleted backup job lists no fields but is gone all the same', given: action('delete', []), want: [{ key: 'App/web', what: 'destroy' }] },
    { name: 'release', reason: 'deletionPolicy Retain only lets go of the guest, which keeps running', given: action('delete', [{ path: 'guest', before: '104 on pve', impact: 'live' }]), want: [] },
    {
      name: 'data-loss update',
      reason: 'removing a volume deletes its data even though the guest stays',
      given: action('update', [{ path: 'volumes.cache', before: '1Gi', impact: 'data-loss' }, { path: 'resources.memory', before: 1, after: 2, impact: 'live' }]),
      want: [{ key: 'App/web', what: 'data-loss', paths: ['volumes.cache'] }],
    },
    {
      name: 'refused data-loss',
      reason: 'a change apply refuses (a disk shrink) is never made, so there is nothing to approve',
      given: action('update', [{ path: 'resources.disk', before: 8, after: 4, impact: 'data-loss', refused: 'proxmox only grows disks' } as Action['changes'][number]]),
      want: [],
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(destructiveChanges(buildPlan([c.given]))).toEqual(c.want)
    })
  }

  it('describes them in one line for the prompt and the refusal', () => {
    expect(describeDestructive([{ key: 'App/a', what: 'replace' }, { key: 'App/b', what: 'data-loss', paths: ['volumes.x', 'volumes.y'] }])).toBe('App/a (replace), App/b (data-loss: volumes.x, volumes.y)')
  })
})
