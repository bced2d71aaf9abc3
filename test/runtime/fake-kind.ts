/**
 * A small but realistic test kind for the reconciler: "App" objects whose far end is an in-memory
 * map of guests. Faults are queued per app name and thrown by apply in order.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppManifest, AppSpec, ManifestSet } from '../../src/model/types.js'
import type { Controller, OrphanRecord, PassContext, Wait } from '../../src/runtime/controller.js'
import { createSemaphores } from '../../src/runtime/semaphore.js'
import { openStateStore } from '../../src/store/state-store.js'
import type { StateStore } from '../../src/store/types.js'
import { WaitingError } from '../../src/runtime/errors.js'

export interface FarEnd {
  guests: Map<string, { memory: number; vmid: number }>
  faults: Map<string, Error[]>
  calls: { observe: number; apply: number; finalize: number }
  orphans: OrphanRecord[]
  /** Per app name: plan says "wait" (a noop with Action.wait) instead of acting. */
  waits: Map<string, Wait>
  /** Progress phases apply reports, in order (the controller declares `resizing`). */
  phases: string[]
}

export const app = (name: string, memory = 512, dependsOn: string[] = []): AppManifest => ({
  apiVersion: 'proximity/v1alpha1',
  kind: 'App',
  metadata: { name },
  spec: { resources: { cores: 1, memory, swap: 0, disk: 4 }, dependsOn } as unknown as AppSpec,
  source: { file: 'apps.yaml', line: 1, column: 1 },
  specHash: `hash-${memory}`,
})

export function fakeAppController(far: FarEnd): Controller<AppManifest, { memory?: number }> {
  let nextVmid = 100
  return {
    kind: 'App',
    phases: ['resizing'],
    async observe(ctx, obj) {
      far.calls.observe++
      for (const dep of obj.spec.dependsOn) {
        if (!ctx.statusOf(`App/${dep}`)?.ready) throw new WaitingError('DependencyNotReady', `waiting for App/${dep} to be ready`, 60_000)
      }
      return { memory: far.guests.get(obj.metadata.name)?.memory }
    },
    // Like the App controller: apps naming the changed one in dependsOn are looked at again.
    requeueOnChange(changed, set) {
      return set.apps.filter((a) => a.spec.dependsOn.includes(changed.slice('App/'.length))).map((a) => `App/${a.metadata.name}`)
    },
    plan(obj, observed) {
      const wait = far.waits.get(obj.metadata.name)
      if (wait) return [{ type: 'noop', key: `App/${obj.metadata.name}`, kind: 'App', name: obj.metadata.name, changes: [], summary: wait.message, wait }]
      if (observed.memory === obj.spec.resources.memory) return []
      return [{
        type: observed.memory === undefined ? 'create' : 'update', key: `App/${obj.metadata.name}`, kind: 'App', name: obj.metadata.name,
        changes: [{ path: 'resources.memory', before: observed.memory, after: obj.spec.resources.memory, impact: 'live' }],
      }]
    },
    async apply(ctx, obj, actions) {
      far.calls.apply++
      // Memory recorded before anything can fail: the runtime keeps it on every exit path.
      ctx.status.remember({ applyCalls: far.calls.apply })
      for (const p of far.phases) ctx.progress(`App/${obj.metadata.name}`, p)
      const fault = far.faults.get(obj.metadata.name)?.shift()
      if (fault) throw fault
      const changed: string[] = []
      for (const a of actions) {
        const cur = far.guests.get(obj.metadata.name)
        far.guests.set(obj.metadata.name, { memory: obj.spec.resources.memory, vmid: cur?.vmid ?? nextVmid++ })
        ctx.audit({ action: a.type === 'create' ? 'POST /nodes/{node}/lxc' : 'PUT /nodes/{node}/lxc/{vmid}/config', result: 'ok' })
        changed.push(`${a.type} memory=${obj.spec.resources.memory}`)
      }
      return { ready: true, reason: 'Succeeded', message: 'app is ready', changed, inventory: { vmid: far.guests.get(obj.metadata.name)?.vmid, node: 'pve' } }
    },
    async orphans() {
      return far.orphans
    },
    async finalize(_ctx, record) {
      far.calls.finalize++
      far.guests.delete(record.name)
      return { ready: true, reason: 'Deleted', message: `deleted ${record.target}` }
    },
  }
}

export const orphan = (name: string, vmid: number): OrphanRecord => ({ key: `App/${name}`, kind: 'App', name, destroys: true, target: `guest ${vmid} on pve`, detail: { vmid } })

export async function fixture(): Promise<{ far: FarEnd; store: StateStore; set: ManifestSet; context: () => Promise<PassContext>; setRevision: (r: string) => void }> {
  const far: FarEnd = { guests: new Map(), faults: new Map(), calls: { observe: 0, apply: 0, finalize: 0 }, orphans: [], waits: new Map(), phases: [] }
  const store = await openStateStore(join(await mkdtemp(join(tmpdir(), 'proximity-rec-')), 'state'), { batchMs: 1 })
  const set: ManifestSet = { apps: [], appliances: [], backupPolicies: [], restores: [], roots: ['.'] }
  let revision = 'local@sha256:1'
  const context = async (): Promise<PassContext> => ({
    pve: undefined as never,
    shells: undefined as never,
    store,
    set,
    cluster: { spec: { concurrency: { perNode: 2, perStorage: 1 } } as never, origin: 'test' },
    revision,
    secrets: { resolve: async () => '', digest: (v) => v },
    semaphores: createSemaphores({ perNode: 2, perStorage: 1 }),
    snapshot: { takenAt: 0, guests: [] },
    refreshSnapshot: async () => ({ takenAt: 0, guests: [] }),
    statusOf: () => undefined,
    audit: () => {},
    progress: () => {},
    now: () => Date.now(),
    dryRun: false,
  })
  return { far, store, set, context, setRevision: (r) => (revision = r) }
}
