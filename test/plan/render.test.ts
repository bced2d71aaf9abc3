import { describe, expect, it } from 'vitest'
import { buildPlan } from '../../src/plan/build.js'
import { planToJson } from '../../src/plan/json.js'
import { renderPlan } from '../../src/plan/render.js'
import type { Action } from '../../src/runtime/controller.js'

const update: Action = {
  type: 'update',
  key: 'App/web',
  kind: 'App',
  name: 'web',
  changes: [
    { path: 'resources.memory', before: 512, after: 1024, impact: 'live' },
    { key: 'features', path: 'features.keyctl', before: undefined, after: 1, impact: 'restart' } as Action['changes'][number],
    { path: 'secrets.DB_PASSWORD', before: 'digest-a', after: 'digest-b', impact: 'live', sensitive: true },
  ],
}
const create: Action = {
  type: 'create',
  key: 'App/db',
  kind: 'App',
  name: 'db',
  changes: [
    { path: 'hostname', after: 'db', impact: 'live' },
    { path: 'resources.memory', after: 256, impact: 'live' },
  ],
}
const replace: Action = {
  type: 'replace',
  key: 'App/cache',
  kind: 'App',
  name: 'cache',
  changes: [{ path: 'resources.storage', before: 'local-lvm', after: 'fast', impact: 'replace', forcesReplacement: true }],
}
const destroy: Action = {
  type: 'delete',
  key: 'App/old',
  kind: 'App',
  name: 'old',
  summary: 'final backup, then destroy guest 105 on pve',
  changes: [{ path: 'guest', before: '105 on pve', impact: 'data-loss' }],
}
const shrink: Action = {
  type: 'update',
  key: 'App/web',
  kind: 'App',
  name: 'web',
  changes: [{ path: 'resources.disk', before: 8, after: 4, impact: 'live', refused: 'proxmox only grows disks: set it back to 8 or larger' } as Action['changes'][number]],
}

describe('renderPlan', () => {
  it('renders creates, updates, replacements and deletions Terraform-style (snapshot)', () => {
    const text = renderPlan(buildPlan([update, create, replace, destroy]))
    expect(text).toBe(`Resource actions are indicated with the following symbols:
  + create
  ~ update in-place
  - destroy
-/+ destroy and then create replacement

Each change says how it lands: live (on the running guest), restart (the guest or the
app's containers restart), replace (a new guest), data-loss (data is deleted).

Proximity will perform the following actions:

  # App/cache will be replaced
-/+ App/cache
      ~ resources.storage: "local-lvm" -> "fast" # replace, forces replacement

  # App/db will be created
  + App/db
      + hostname: "db"
      + resources.memory: 256Mi

  # App/old will be destroyed (final backup, then destroy guest 105 on pve)
  - App/old
      - guest: "105 on pve" # data-loss

  # App/web will be updated in-place
  ~ App/web
      + features.keyctl: 1 # restart: the guest restarts to apply it
      ~ resources.memory: 512Mi -> 1Gi # live
      ~ secrets.DB_PASSWORD: (sensitive) # live

Plan: 2 to add, 1 to change, 2 to destroy.
`)
    expect(text).not.toContain('digest-a')
  })

  it('says "No changes" for an empty plan and shows suspended notes', () => {
    expect(renderPlan(buildPlan([]))).toBe('No changes. Your cluster matches the manifests.\n')
    const noop: Action = { type: 'noop', key: 'App/web', kind: 'App', name: 'web', changes: [], summary: 'suspended; nothing is reconciled' }
    expect(renderPlan(buildPlan([noop]))).toBe('# App/web: suspended; nothing is reconciled\n\nNo changes. Your cluster matches the manifests.\n')
  })

  it('marks an action apply refuses with its own symbol, header and count, the field saying why and what to do', () => {
    const text = renderPlan(buildPlan([shrink, create]))
    expect(text).toContain('  ! refused: apply will not do it (the reason and the way forward are on the field)\n')
    expect(text).toContain('  # App/web is refused: apply will not change it\n  ! App/web\n')
    expect(text).toContain('      ~ resources.disk: 8Gi -> 4Gi # live; refused: proxmox only grows disks: set it back to 8 or larger\n')
    // Counted as refused, not as a change apply would make.
    expect(text).toContain('Plan: 1 to add, 0 to change, 0 to destroy, 1 refused.\n')
    const json = planToJson(buildPlan([shrink, create]))
    expect(json.summary).toEqual({ add: 1, change: 0, destroy: 0, refused: 1 })
    expect(json.changes.find((c) => c.key === 'App/web')?.refused).toBe('resources.disk: proxmox only grows disks: set it back to 8 or larger')
    expect(json.changes.find((c) => c.key === 'App/db')?.refused).toBeNull()
  })

  it('says nothing of refusals when nothing is refused', () => {
    const text = renderPlan(buildPlan([update]))
    expect(text).not.toContain('refused')
    expect(text).toContain('Plan: 0 to add, 1 to change, 0 to destroy.\n')
  })

  it('colours symbols only when asked', () => {
    const plain = renderPlan(buildPlan([update]))
    const coloured = renderPlan(buildPlan([update]), { color: true })
    expect(plain).not.toContain('\x1b[')
    expect(coloured).toContain('\x1b[33m~\x1b[0m App/web')
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(plain)
  })
})

describe('planToJson', () => {
  it('never carries a secret or its digest, only "(sensitive)" for a present side', () => {
    const json = JSON.stringify(planToJson(buildPlan([update])))
    expect(json).not.toContain('digest-a')
    expect(json).not.toContain('digest-b')
  })

  it('has a stable documented shape, sorted by key then path, with no sensitive values', () => {
    const json = planToJson(buildPlan([update, create, { type: 'noop', key: 'App/a', kind: 'App', name: 'a', changes: [] }]))
    expect(JSON.stringify(json)).toBe(
      JSON.stringify({
        formatVersion: 1,
        changes: [
          {
            key: 'App/db',
            kind: 'App',
            name: 'db',
            action: 'create',
            summary: null,
            fields: [
              { path: 'hostname', before: null, after: 'db', impact: 'live', sensitive: false, forcesReplacement: false, refused: null, unit: null, display: { before: null, after: '"db"' }, note: null },
              { path: 'resources.memory', before: null, after: 256, impact: 'live', sensitive: false, forcesReplacement: false, refused: null, unit: 'MiB', display: { before: null, after: '256Mi' }, note: null },
            ],
            refused: null,
          },
          {
            key: 'App/web',
            kind: 'App',
            name: 'web',
            action: 'update',
            summary: null,
            fields: [
              { path: 'features.keyctl', before: null, after: 1, impact: 'restart', sensitive: false, forcesReplacement: false, refused: null, unit: null, display: { before: null, after: '1' }, note: null },
              { path: 'resources.memory', before: 512, after: 1024, impact: 'live', sensitive: false, forcesReplacement: false, refused: null, unit: 'MiB', display: { before: '512Mi', after: '1Gi' }, note: null },
              { path: 'secrets.DB_PASSWORD', before: '(sensitive)', after: '(sensitive)', impact: 'live', sensitive: true, forcesReplacement: false, refused: null, unit: null, display: { before: '(sensitive)', after: '(sensitive)' }, note: null },
            ],
            refused: null,
          },
        ],
        summary: { add: 1, change: 1, destroy: 0, refused: 0 },
      }),
    )
  })

  it('does not depend on input order', () => {
    const a = JSON.stringify(planToJson(buildPlan([update, create, replace, destroy])))
    const reversed = { ...update, changes: [...update.changes].reverse() }
    const b = JSON.stringify(planToJson(buildPlan([destroy, replace, create, reversed])))
    expect(b).toBe(a)
  })
})

describe('renderPlan: "No changes" only when true (issue 9 point 4)', () => {
  const sick = { key: 'App/web', reason: 'HealthCheckFailed', message: 'App web is not healthy 1s after deploy: GET /: 503', stalled: true }
  const cases = [
    {
      name: 'not Ready',
      reason: 'after a failed health gate the cluster does not match the manifests: say which app, why, what apply does and where to look',
      given: { notReady: [sick] },
      want:
        'No changes to make, but 1 app is not Ready:\n' +
        '  web — HealthCheckFailed: App web is not healthy 1s after deploy: GET /: 503\n' +
        '    (stalled: apply does not try again until the manifests change; see `proximity describe app web` / `proximity logs web`)\n',
    },
    {
      name: 'not Ready, retried',
      reason: 'an object that failed transiently is retried by apply, and other kinds are named Kind/name with their own describe hint',
      given: { notReady: [{ key: 'Appliance/lan', reason: 'ProgressingWithRetry', message: 'dnsmasq did not start', stalled: false }] },
      want: 'No changes to make, but 1 object is not Ready:\n  Appliance/lan — ProgressingWithRetry: dnsmasq did not start\n    (apply tries again; see `proximity describe appliance lan`)\n',
    },
    {
      name: 'orphans',
      reason: 'managed guests whose manifest is gone are listed with what --prune would do, deletions and releases apart',
      given: {
        orphans: [
          { key: 'App/old', target: 'guest 104 on pve', destroys: true },
          { key: 'App/kept', target: 'guest 105 on pve', destroys: false },
        ],
      },
      want:
        'No changes to make, but 2 managed objects have no manifest (left alone without `--prune`):\n' +
        '  `--prune` would delete 1: App/old (guest 104 on pve)\n' +
        '  `--prune` would release 1 (deletionPolicy: Retain; the guest keeps running): App/kept (guest 105 on pve)\n',
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const text = renderPlan(buildPlan([]), c.given)
      expect(text).toBe(c.want)
      expect(text).not.toContain('Your cluster matches the manifests')
    })
  }

  it('lists objects not Ready and orphans after the footer of a plan with changes too', () => {
    const text = renderPlan(buildPlan([update]), { notReady: [sick], orphans: [{ key: 'App/old', target: 'guest 104 on pve', destroys: true }] })
    expect(text).toContain('Plan: 0 to add, 1 to change, 0 to destroy.\n\n1 app is not Ready:\n  web — HealthCheckFailed:')
    expect(text).toContain('\n\n1 managed object has no manifest (left alone without `--prune`):\n  `--prune` would delete 1: App/old (guest 104 on pve)\n')
  })

  it('still says the cluster matches when nothing is listed', () => {
    expect(renderPlan(buildPlan([]), { notReady: [], orphans: [] })).toBe('No changes. Your cluster matches the manifests.\n')
  })
})
