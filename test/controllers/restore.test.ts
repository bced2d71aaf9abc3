import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { renderNotesTemplate, type BackupNotes } from '../../src/model/backup-notes.js'
import { parseMarker } from '../../src/model/marker.js'
import type { RestoreManifest, RestoreSpec } from '../../src/model/types.js'
import { getCondition } from '../../src/runtime/conditions.js'
import { whileRestoring } from '../../controllers/restore/in-progress.js'
import { app, mutating, OWNER, startHarness, type Harness } from './helpers.js'

function restore(name: string, spec: Partial<RestoreSpec> = {}): RestoreManifest {
  const s: RestoreSpec = { app: 'web', backup: 'latest', mode: 'in-place', ...spec }
  const specHash = createHash('sha256').update(JSON.stringify(s)).digest('hex')
  return { apiVersion: 'proximity/v1alpha1', kind: 'Restore', metadata: { name }, spec: s, source: { file: `${name}.yaml`, line: 1, column: 1 }, specHash }
}

/** A vzdump of `vmid` to `local` with notes, as a BackupPolicy job or `backup now` would write them. */
async function backup(h: Harness, vmid: number, notes: BackupNotes): Promise<string> {
  const upid = await h.pve.vzdump('pve', { vmid: String(vmid), storage: 'local', mode: 'snapshot', compress: 'zstd', 'notes-template': renderNotesTemplate(notes) })
  if (upid !== 'OK') await h.pve.waitTask('pve', upid)
  const items = await h.pve.storageContent('pve', 'local', { content: 'backup', vmid })
  return items.map((i) => i.volid).sort().at(-1) as string
}

const readFile = async (h: Harness, vmid: number, path: string): Promise<string> => (await h.shells.forNode('pve').pctExec(vmid, ['cat', path])).stdout

async function untilDone(h: Harness, key: string) {
  let out = await h.reconcileKey(key)
  for (let i = 0; i < 20 && !out.error && !out.result?.ready; i++) {
    await new Promise((r) => setTimeout(r, 50))
    out = await h.reconcileKey(key)
  }
  return out
}

describe('Restore: one-shot, in place', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('a file changed in the container is back after the restore; same vmid, marker and Ready; runs once', async () => {
    h = await startHarness()
    const web = app('web')
    h.setApps([web])
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    await h.shells.forNode('pve').pushFile(vmid, '/srv/data.txt', 'original\n', { perms: '0644' })
    const volid = await backup(h, vmid, { owner: OWNER, app: 'web', revision: 'main@sha1:1234567', trigger: 'manual' })
    await h.shells.forNode('pve').pushFile(vmid, '/srv/data.txt', 'changed\n', { perms: '0644' })
    // vzdump names archives by the second: keep the safety backup from taking the same name.
    await new Promise((r) => setTimeout(r, 1100))

    const r = restore('web-back')
    h.ctx.set.restores = [r]
    h.sim.log.clear()
    const out = await untilDone(h, 'Restore/web-back')
    expect(out.error?.message).toBeUndefined()
    expect(out.result).toMatchObject({ ready: true })
    expect(await readFile(h, vmid, '/srv/data.txt')).toBe('original\n')

    // In place: a safety vzdump first, then the restore with force over the same vmid; never a delete.
    const calls = mutating(h.sim)
    expect(calls.indexOf('POST /nodes/{node}/vzdump')).toBeLessThan(calls.indexOf('POST /nodes/{node}/lxc'))
    expect(calls).not.toContain('DELETE /nodes/{node}/lxc/{vmid}')
    const g = h.sim.guests().find((x) => x.vmid === vmid)
    expect(g?.status).toBe('running')
    expect(parseMarker(g?.description)).toMatchObject({ owner: OWNER, kind: 'App', name: 'web' })
    expect(String(g?.config.features)).toContain('keyctl=1')
    const backups = await h.pve.storageContent('pve', 'local', { content: 'backup', vmid })
    const safety = backups.find((b) => b.notes?.includes('"trigger":"pre-restore"'))
    expect(safety?.volid).not.toBe(volid)

    const st = h.store.getStatus('Restore/web-back')
    expect(getCondition(st?.conditions ?? [], 'Ready')).toMatchObject({ status: 'True' })
    expect(getCondition(st?.conditions ?? [], 'Restored')?.message).toContain('revision main@sha1:1234567')
    expect(st?.inventory).toMatchObject({ app: 'web', vmid, backup: volid, revision: 'main@sha1:1234567' })

    // The App is still Ready afterwards and in step.
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)

    // Applying the same Restore again runs nothing.
    h.sim.log.clear()
    const again = await h.reconcileKey('Restore/web-back')
    expect(again.result).toMatchObject({ ready: true })
    expect(mutating(h.sim)).toEqual([])
  })

  it('the App waits (RestoreInProgress) while a Restore acts on its guest, even when it finds the guest stopped', async () => {
    h = await startHarness()
    const web = app('web')
    h.setApps([web])
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
    const vmid = Number(h.store.getStatus('App/web')?.inventory?.vmid)
    h.sim.faults.setGuestStatus(vmid, 'stopped')
    h.sim.log.clear()
    const out = await whileRestoring('web', () => h!.reconcile(web))
    expect(out.error?.name).toBe('WaitingError')
    expect(out.actions[0]?.wait?.reason).toBe('RestoreInProgress')
    expect(mutating(h.sim)).toEqual([])
    expect(h.sim.guests().find((g) => g.vmid === vmid)?.status).toBe('stopped')
    // Afterwards the App reconciles as usual.
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
  })

  it('refuses a backup that is not of the app, and changes nothing', async () => {
    h = await startHarness()
    const web = app('web')
    const db = app('db')
    h.setApps([web, db])
    expect((await h.applyUntilReady(web)).result?.ready).toBe(true)
    expect((await h.applyUntilReady(db)).result?.ready).toBe(true)
    const dbVmid = Number(h.store.getStatus('App/db')?.inventory?.vmid)
    const foreign = await backup(h, dbVmid, { owner: OWNER, app: 'db', trigger: 'manual' })

    const r = restore('wrong', { backup: foreign })
    h.ctx.set.restores = [r]
    h.sim.log.clear()
    const out = await h.reconcileKey('Restore/wrong')
    expect(out.error?.name).toBe('StalledError')
    expect(out.error?.message).toContain(`refusing to restore ${foreign} into App web: the backup is of App db`)
    expect(mutating(h.sim)).toEqual([])
    expect(getCondition(h.store.getStatus('Restore/wrong')?.conditions ?? [], 'Stalled')).toMatchObject({ status: 'True', reason: 'BackupNotOfApp' })
  })
})
