import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPlan, refusalsOf } from '../../src/plan/build.js'
import { renderPlan } from '../../src/plan/render.js'
import { StalledError } from '../../src/runtime/errors.js'
import { app, mutating, startHarness, type Harness } from './helpers.js'

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

  const volume = { name: 'data', path: '/data', size: 1, backup: true }
  const cases: { name: string; reason: string; given: { first: Over; then: Over }; want: { stalled: string; field: string } }[] = [
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
      name: 'unknown template',
      reason: 'a new guest from a template nothing matches would fail in apply: plan says so first',
      given: { first: { template: 'alpine-3.22' }, then: { template: 'plan9-4' } },
      want: { stalled: 'TemplateNotFound', field: 'template' },
    },
    {
      name: 'replacement with a volume removed',
      reason: 'a new guest is fine, but the volume left out would lose its data: the whole change is refused',
      given: { first: { volumes: [volume] }, then: { volumes: [], template: 'alpine-3.23' } },
      want: { stalled: 'DataLossRefused', field: 'volumes[/data]' },
    },
  ]

  it('unknown template on create: the create is refused in plan and in apply, nothing is created', async () => {
    const bad = app('nowhere', { template: 'plan9-4' })
    h.setApps([bad])
    h.sim.log.clear()
    const out = await h.reconcile(bad)
    const text = renderPlan(buildPlan(out.actions))
    expect(text).toContain('  ! App/nowhere\n')
    expect(text).toContain('      + template: "plan9-4" # refused: template "plan9-4" is neither on storage local nor in the proxmox template index; set spec.template or Cluster.spec.defaults.template to an existing template\n')
    expect(buildPlan(out.actions).summary).toEqual({ add: 0, change: 0, destroy: 0, refused: 1 })
    expect((out.error as StalledError).reason).toBe('TemplateNotFound')
    expect(out.error?.message).toContain('template "plan9-4" is neither on storage local nor in the proxmox template index')
    expect(mutating(h.sim)).toEqual([])
  })

  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, async () => {
      const name = c.name.replace(/[^a-z]+/g, '-').replace(/-$/, '')
      const first = app(name, c.given.first)
      h.setApps([first])
      const ok = await h.applyUntilReady(first)
      expect(ok.result?.ready, ok.error?.message).toBe(true)
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
