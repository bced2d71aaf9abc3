import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEEP_CHECK_INTERVAL_MS } from '../../controllers/app/observe.js'
import { parseMarker } from '../../src/model/marker.js'
import { buildPlan, refusalsOf } from '../../src/plan/build.js'
import { renderPlan } from '../../src/plan/render.js'
import { StalledError } from '../../src/runtime/errors.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

type Over = Parameters<typeof app>[1]

/**
 * Plan and apply agree (issue 9, point 2): for every change App apply refuses, the plan text of
 * that very reconcile marks the action refused (`!`, its own header, `N refused` in the summary)
 * with the reason and the way forward on the field, and apply stops with a Stalled error naming
 * the same reason, having changed nothing in Proxmox.
 */
describe('App: what apply refuses, plan shows as refused', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  const vmidOf = (name: string): number => {
    const g = h.sim.guests().find((x) => parseMarker(x.description)?.name === name && parseMarker(x.description)?.owner === OWNER)
    if (!g) throw new Error(`no guest for ${name}`)
    return g.vmid
  }

  const volume = { name: 'data', path: '/data', size: 1, backup: true }
  const cases: { name: string; reason: string; given: { first: Over; then: Over; drift?: Record<string, string | number> }; want: { stalled: string; field: string } }[] = [
    {
      name: 'disk shrink',
      reason: 'Proxmox only grows disks; a plan counting it as a change would promise what apply refuses',
      given: { first: {}, then: { resources: { cores: 1, memory: 512, swap: 512, disk: 4 } } },
      want: { stalled: 'DiskShrinkRefused', field: 'resources.disk' },
    },
    {
      name: 'volume removed',
      reason: 'dropping a mount point would delete its data: apply never does that silently',
      given: { first: { volumes: [volume] }, then: { volumes: [] } },
      want: { stalled: 'DataLossRefused', field: 'volumes[/data]' },
    },
    {
      name: 'volume storage',
      reason: 'a mount point on another storage would be a new, empty volume (the root disk moving with it forces a new guest)',
      given: { first: { volumes: [volume] }, then: { volumes: [volume], resources: { cores: 1, memory: 512, swap: 512, disk: 8, storage: 'local' } } },
      want: { stalled: 'ReplaceRequired', field: 'volumes.data.storage' },
    },
    {
      name: 'template',
      reason: 'a template is only set when a container is created',
      given: { first: { template: 'alpine-3.22' }, then: { template: 'alpine-3.23' } },
      want: { stalled: 'ReplaceRequired', field: 'template' },
    },
    {
      name: 'root disk storage',
      reason: 'the root disk lives where the guest was created',
      given: { first: {}, then: { resources: { cores: 1, memory: 512, swap: 512, disk: 8, storage: 'local' } } },
      want: { stalled: 'ReplaceRequired', field: 'resources.storage' },
    },
    {
      name: 'privileged behind our back',
      reason: 'unprivileged is only set at creation; a guest made privileged by hand is drift only a new guest corrects',
      given: { first: {}, then: {}, drift: { unprivileged: 0 } },
      want: { stalled: 'ReplaceRequired', field: 'unprivileged' },
    },
  ]

  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, async () => {
      const name = c.name.replace(/[^a-z]+/g, '-').replace(/-$/, '')
      const first = app(name, c.given.first)
      h.setApps([first])
      const ok = await h.applyUntilReady(first)
      expect(ok.result?.ready, ok.error?.message).toBe(true)
      if (c.given.drift) {
        h.sim.faults.editGuest(vmidOf(name), c.given.drift)
        // The snapshot cannot show this drift: wait for the periodic deep check to read the config.
        h.advance(DEEP_CHECK_INTERVAL_MS)
      }
      const then = app(name, c.given.then)
      h.setApps([then])
      h.sim.log.clear()
      const out = await h.reconcile(then)

      // The plan of this reconcile, as `proximity plan` prints it.
      const plan = buildPlan(out.actions)
      const text = renderPlan(plan)
      expect(text).toContain(`  # App/${name} is refused: apply will not change it`)
      expect(text).toContain(`  ! App/${name}\n`)
      const line = text.split('\n').find((l) => /^ {6}[~+-] /.test(l) && l.slice(8).startsWith(`${c.want.field}:`))
      expect(line, text).toMatch(/# .*refused: /)
      expect(plan.summary).toEqual({ add: 0, change: 0, destroy: 0, refused: 1 })
      expect(text).toContain(', 1 refused.')

      // What apply did: refused with the same reason, nothing changed.
      expect(out.error).toBeInstanceOf(StalledError)
      expect((out.error as StalledError).reason).toBe(c.want.stalled)
      const reasons = refusalsOf(out.actions[0]!).map((r) => r.slice(r.indexOf(': ') + 2))
      expect(reasons.some((r) => out.error!.message.includes(r) || (c.want.stalled === 'DiskShrinkRefused' && /proxmox only grows disks/i.test(out.error!.message)))).toBe(true)
      expect(mutating(h.sim)).toEqual([])
    })
  }
})
