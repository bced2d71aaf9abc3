import { describe, expect, it } from 'vitest'
import { buildPlan } from '../../src/plan/build.js'
import { deployChanges, diffDeploy, readDeploySummary, summarizeDeploy, type DeployInput } from '../../src/plan/deploy.js'
import { planToJson } from '../../src/plan/json.js'
import { renderPlan } from '../../src/plan/render.js'
import type { Action } from '../../src/runtime/controller.js'

/** A keyed digest stand-in: deterministic, and visibly not the value. */
const digest = (v: string): string => `hmac:${v.length}:${[...v].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7).toString(16)}`

const base: DeployInput = {
  compose: { services: { web: { image: 'nginx:1.25', ports: ['8080:80'] }, db: { image: 'postgres:16', volumes: ['/data/db:/var/lib/postgresql/data'] } } },
  env: { TZ: 'UTC', LOG_LEVEL: 'info' },
  secrets: { DB_PASSWORD: { sealed: 'eyJhbGciOi.aaa' } },
}
const variant = (over: Partial<DeployInput>): DeployInput => ({ ...base, ...over })
const services = (s: Record<string, unknown>): DeployInput['compose'] => ({ services: s })

describe('diffDeploy: what a re-deploy changes, named by service, image and env key', () => {
  const cases: { name: string; reason: string; given: DeployInput; want: { path: string; before?: unknown; after?: unknown; sensitive?: boolean; note?: RegExp }[] }[] = [
    {
      name: 'image bump',
      reason: 'the issue: an image bump must name the service and both images, not "previous compose"',
      given: variant({ compose: services({ web: { image: 'nginx:1.27', ports: ['8080:80'] }, db: { image: 'postgres:16', volumes: ['/data/db:/var/lib/postgresql/data'] } }) }),
      want: [{ path: 'services.web.image', before: 'nginx:1.25', after: 'nginx:1.27', note: /service web is recreated/ }],
    },
    {
      name: 'ports only',
      reason: 'a setting other than the image names the compose key that changed (values may be long)',
      given: variant({ compose: services({ web: { image: 'nginx:1.25', ports: ['9090:80'] }, db: { image: 'postgres:16', volumes: ['/data/db:/var/lib/postgresql/data'] } }) }),
      want: [{ path: 'services.web.ports', note: /changed; service web is recreated/ }],
    },
    {
      name: 'service added and removed',
      reason: 'a new or dropped service shows its image with + / -',
      given: variant({ compose: services({ web: { image: 'nginx:1.25', ports: ['8080:80'] }, cache: { image: 'redis:7' } }) }),
      want: [
        { path: 'services.cache', before: undefined, after: 'redis:7', note: /started/ },
        { path: 'services.db', before: 'postgres:16', after: undefined, note: /stopped and removed/ },
      ],
    },
    {
      name: 'top-level volumes',
      reason: 'compose keys outside services (networks, volumes) are changes too',
      given: variant({ compose: { ...base.compose, volumes: { data: {} } } }),
      want: [{ path: 'compose.volumes', note: /added/ }],
    },
    {
      name: 'env keys',
      reason: 'env keys added, removed and changed are listed with their (plain, committed) values',
      given: variant({ env: { TZ: 'Europe/Paris', DEBUG: '1' } }),
      want: [
        { path: 'env.DEBUG', before: undefined, after: '1' },
        { path: 'env.LOG_LEVEL', before: 'info', after: undefined },
        { path: 'env.TZ', before: 'UTC', after: 'Europe/Paris' },
      ],
    },
    {
      name: 'secret changed and added',
      reason: 'secrets are named but never shown: both sides are "(sensitive)", an added one has no before',
      given: variant({ secrets: { DB_PASSWORD: { sealed: 'eyJhbGciOi.bbb' }, API_KEY: { generate: { length: 32 } } } }),
      want: [
        { path: 'secrets.API_KEY', before: undefined, after: '(sensitive)', sensitive: true },
        { path: 'secrets.DB_PASSWORD', before: '(sensitive)', after: '(sensitive)', sensitive: true },
      ],
    },
    {
      name: 'built service',
      reason: 'a service without image (build:) still reads, as "(built)"',
      given: variant({ compose: services({ web: { build: '.', ports: ['8080:80'] }, db: { image: 'postgres:16', volumes: ['/data/db:/var/lib/postgresql/data'] } }) }),
      want: [
        { path: 'services.web.image', before: 'nginx:1.25', after: '(built)' },
        { path: 'services.web.build', note: /added/ },
      ],
    },
    { name: 'same', reason: 'an identical deploy has no changes (no perpetual diff)', given: base, want: [] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const got = diffDeploy(summarizeDeploy(base, digest), summarizeDeploy(c.given, digest))
      expect(got.map((g) => g.path)).toEqual(c.want.map((w) => w.path))
      c.want.forEach((w, i) => {
        expect(got[i].impact).toBe('restart')
        if ('before' in w) expect(got[i].before).toEqual(w.before)
        if ('after' in w) expect(got[i].after).toEqual(w.after)
        expect(got[i].sensitive === true).toBe(w.sensitive === true)
        if (w.note) expect(got[i].note).toMatch(w.note)
      })
    })
  }

  it('keeps secrets out of the summary, the diff, the text plan and the JSON plan', () => {
    const plaintextLike = 'eyJhbGciOi.zzz-very-secret'
    const before = summarizeDeploy(base, digest)
    const after = summarizeDeploy(variant({ secrets: { DB_PASSWORD: { sealed: plaintextLike } } }), digest)
    expect(JSON.stringify(after)).not.toContain(plaintextLike)
    const changes = diffDeploy(before, after)
    const action: Action = { type: 'update', key: 'App/web', kind: 'App', name: 'web', changes }
    const text = renderPlan(buildPlan([action]))
    const json = JSON.stringify(planToJson(buildPlan([action])))
    for (const out of [text, json]) {
      expect(out).not.toContain(plaintextLike)
      expect(out).not.toContain(after.secrets.DB_PASSWORD)
      expect(out).not.toContain(before.secrets.DB_PASSWORD)
    }
    expect(text).toContain('~ secrets.DB_PASSWORD: (sensitive) # restart')
  })

  it('without a recorded previous deploy, lists the images that will run instead of "previous compose/env"', () => {
    const got = deployChanges(undefined, summarizeDeploy(base, digest))
    expect(got).toEqual([{ path: 'deploy', after: 'db: postgres:16, web: nginx:1.25', impact: 'restart', note: expect.stringMatching(/not recorded/) }])
    // A stored value of another shape (an older status file) counts as unknown, not as a crash.
    expect(deployChanges({ deployHash: 'abc' }, summarizeDeploy(base, digest))[0].path).toBe('deploy')
    expect(readDeploySummary(JSON.parse(JSON.stringify(summarizeDeploy(base, digest))))).toEqual(summarizeDeploy(base, digest))
  })

  it('renders an image bump the way the README promises', () => {
    const changes = deployChanges(summarizeDeploy(base, digest), summarizeDeploy(variant({ compose: services({ web: { image: 'nginx:1.27', ports: ['8080:80'] }, db: base.compose.services && (base.compose.services as Record<string, unknown>).db }) }), digest))
    const text = renderPlan(buildPlan([{ type: 'update', key: 'App/web', kind: 'App', name: 'web', changes, summary: 'guest 1001 on pve' }]))
    expect(text).toContain('  # App/web will be updated in-place (guest 1001 on pve)\n  ~ App/web\n      ~ services.web.image: "nginx:1.25" -> "nginx:1.27" # restart: service web is recreated\n')
    expect(text).not.toMatch(/previous compose/)
  })
})

describe('renderPlan: field lines in manifest words, with units and impact', () => {
  const cases: { name: string; reason: string; given: Action; want: string }[] = [
    {
      name: 'memory with units',
      reason: 'sizes keep the units people write (256Mi -> 1Gi), not bare MiB numbers',
      given: { type: 'update', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'resources.memory', before: 256, after: 1024, impact: 'live' }] },
      want: '      ~ resources.memory: 256Mi -> 1Gi # live\n',
    },
    {
      name: 'disk in GiB',
      reason: 'disk numbers are GiB; a fraction is shown in Mi',
      given: { type: 'update', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'volumes.data.size', before: 0.5, after: 2, impact: 'live' }] },
      want: '      ~ volumes.data.size: 512Mi -> 2Gi # live\n',
    },
    {
      name: 'guest restart',
      reason: 'a restart-class guest setting says the guest restarts',
      given: { type: 'update', key: 'App/a', kind: 'App', name: 'a', changes: [{ key: 'nameserver', path: 'nameserver', before: '1.1.1.1', after: '9.9.9.9', impact: 'restart' } as Action['changes'][number]] },
      want: '      ~ nameserver: "1.1.1.1" -> "9.9.9.9" # restart: the guest restarts to apply it\n',
    },
    {
      name: 'boolean start on boot',
      reason: 'onboot is shown as state.startOnBoot with booleans',
      given: { type: 'update', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'state.startOnBoot', before: true, after: false, impact: 'live' }] },
      want: '      ~ state.startOnBoot: true -> false # live\n',
    },
    {
      name: 'data loss',
      reason: 'a removed volume says its data goes, whatever the action',
      given: { type: 'update', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'volumes[/cache]', before: '/cache', impact: 'data-loss' }] },
      want: '      - volumes[/cache]: "/cache" # data-loss: the data on it is deleted\n',
    },
    {
      name: 'replace',
      reason: 'the field forcing a replacement says so, as Terraform does',
      given: { type: 'replace', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'template', before: 'alpine-3.21', after: 'alpine-3.22', impact: 'replace', forcesReplacement: true }] },
      want: '      ~ template: "alpine-3.21" -> "alpine-3.22" # replace, forces replacement\n',
    },
    {
      name: 'create has no per-field impact',
      reason: 'on a create every field is new: impact notes would be noise',
      given: { type: 'create', key: 'App/a', kind: 'App', name: 'a', changes: [{ path: 'resources.disk', after: 8, impact: 'live' }] },
      want: '      + resources.disk: 8Gi\n',
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(renderPlan(buildPlan([c.given]))).toContain(c.want)
    })
  }
})
