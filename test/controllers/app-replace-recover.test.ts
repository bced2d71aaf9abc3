import { describe, expect, it } from 'vitest'
import type { AppObservation, ObservedAppGuest } from '../../controllers/app/observation.js'
import { recoverReplacement } from '../../controllers/app/plan.js'
import { app, OWNER } from './helpers.js'

const a = app('web')
const guest = (vmid: number, specHash: string, status: string, volumes: string[] = []): ObservedAppGuest => ({
  vmid,
  node: 'pve',
  status,
  marker: { kind: 'App', name: 'web', owner: OWNER, specHash },
  config: Object.fromEntries(volumes.map((k) => [k, `local-lvm:vm-${vmid}-disk-1,mp=/data,size=1G`])),
})
const obs = (g: ObservedAppGuest, ...duplicates: ObservedAppGuest[]): AppObservation => ({ steady: false, extra: {}, notReady: [], now: 0, guest: g, duplicates })

/** Two guests with the app's marker and no record (state directory lost): which one is the app. */
describe('recoverReplacement (pure)', () => {
  const cases: { name: string; reason: string; given: AppObservation; want: unknown }[] = [
    {
      name: 'interrupted before the switch',
      reason: 'the new guest never got a complete marker: go back to the old one, with the volumes the new one holds',
      given: obs(guest(101, 'old', 'stopped'), guest(102, '', 'running', ['mp0'])),
      want: { phase: 'undo', from: { vmid: 101, running: true }, to: { vmid: 102 }, volumes: ['mp0'] },
    },
    {
      name: 'interrupted after the switch',
      reason: 'the guest with this spec is the app; the other holds no volume any more and is cleaned up',
      given: obs(guest(102, a.specHash, 'running', ['mp0']), guest(101, 'old', 'stopped')),
      want: { phase: 'cleanup', from: { vmid: 101 }, to: { vmid: 102 } },
    },
    {
      name: 'both complete, the other still holds data',
      reason: 'destroying it could lose data: a person decides',
      given: obs(guest(102, a.specHash, 'running'), guest(101, 'old', 'stopped', ['mp0'])),
      want: 'ambiguous',
    },
    { name: 'three guests', reason: 'no rule picks one safely', given: obs(guest(101, 'x', 'running'), guest(102, '', 'stopped'), guest(103, '', 'stopped')), want: 'ambiguous' },
    { name: 'one guest', reason: 'nothing to recover', given: obs(guest(101, 'x', 'running')), want: undefined },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = recoverReplacement(a, c.given)
      if (typeof c.want === 'object' && c.want !== null) expect(got).toMatchObject(c.want)
      else expect(got).toBe(c.want)
    })
  }
})
