import { describe, expect, it } from 'vitest'
import {
  getCondition,
  isValidReason,
  setCondition,
  setStandardConditions,
} from '../../src/runtime/conditions.js'

const T1 = '2026-01-01T00:00:00.000Z'
const T2 = '2026-01-01T00:05:00.000Z'

describe('conditions', () => {
  const reasons = [
    { reason: 'DependencyNotReady', valid: true, why: 'the usual PascalCase form' },
    { reason: 'Progressing:Retry_2', valid: true, why: 'colons, underscores and digits are allowed inside' },
    { reason: 'not ready', valid: false, why: 'spaces make it a message, not a reason' },
    { reason: '1Failed', valid: false, why: 'a reason must start with a letter' },
    { reason: 'Failed,', valid: false, why: 'a reason must not end with a separator' },
    { reason: '', valid: false, why: 'empty reasons say nothing' },
  ]
  for (const c of reasons) {
    it(`reason ${JSON.stringify(c.reason)} valid=${c.valid}: ${c.why}`, () => {
      expect(isValidReason(c.reason)).toBe(c.valid)
    })
  }

  it('keeps lastTransitionTime while the status is unchanged and moves it on a change', () => {
    let cs = setCondition([], { type: 'Ready', status: 'False', reason: 'Progressing', message: 'creating' }, T1, 1)
    cs = setCondition(cs, { type: 'Ready', status: 'False', reason: 'ProgressingWithRetry', message: 'retrying' }, T2, 2)
    expect(getCondition(cs, 'Ready')).toEqual({
      type: 'Ready', status: 'False', reason: 'ProgressingWithRetry', message: 'retrying', lastTransitionTime: T1, observedGeneration: 2,
    })
    cs = setCondition(cs, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok' }, T2, 2)
    expect(getCondition(cs, 'Ready')?.lastTransitionTime).toBe(T2)
  })

  it('refuses an invalid reason with a message naming it', () => {
    expect(() => setCondition([], { type: 'Ready', status: 'True', reason: 'all good', message: '' }, T1, 1)).toThrow(/"all good"/)
  })

  it('always has Ready; Reconciling and Stalled only while True; domain conditions kept after them', () => {
    const input = setCondition([], { type: 'UpdateRolledBack', status: 'True', reason: 'HealthCheckFailed', message: 'x' }, T1, 1)
    let cs = setStandardConditions(input, {
      ready: { status: 'False', reason: 'Progressing', message: 'creating' },
      reconciling: { reason: 'Progressing', message: 'creating' },
    }, T1, 1)
    expect(cs.map((c) => c.type)).toEqual(['Ready', 'Reconciling', 'UpdateRolledBack'])
    cs = setStandardConditions(cs, {
      ready: { status: 'False', reason: 'InvalidTemplate', message: 'no such template' },
      stalled: { reason: 'InvalidTemplate', message: 'no such template' },
    }, T2, 1)
    expect(cs.map((c) => c.type)).toEqual(['Ready', 'Stalled', 'UpdateRolledBack'])
    cs = setStandardConditions(cs, { ready: { status: 'True', reason: 'Succeeded', message: 'ok' } }, T2, 2)
    expect(cs.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True', 'UpdateRolledBack=True'])
    expect(input.map((c) => c.type)).toEqual(['UpdateRolledBack'])
  })
})
