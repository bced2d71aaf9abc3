import { describe, expect, it } from 'vitest'
import {
  completeBackupNotes,
  expandNotesTemplate,
  needsCompletion,
  NOTES_TEMPLATE_MAX_LENGTH,
  parseBackupNotes,
  renderBackupNotes,
  renderJobNotesTemplate,
  renderNotesTemplate,
  type BackupNotes,
} from '../../src/model/backup-notes.js'

const full: BackupNotes = { owner: 'home', app: 'web', revision: '3f2c1a9', images: ['nginx:1.27', 'redis:7-alpine'], trigger: 'manual' }

describe('notes of a one-off vzdump record app, revision and images literally', () => {
  it('renders one stable line', () => {
    expect(renderBackupNotes(full)).toBe('proximity:backup {"owner":"home","app":"web","revision":"3f2c1a9","images":["nginx:1.27","redis:7-alpine"],"trigger":"manual"}')
  })

  const cases: { name: string; reason: string; given: BackupNotes }[] = [
    { name: 'plain', reason: 'the usual backup now', given: full },
    { name: 'braces in a value', reason: '`{{` would be taken for a Proxmox variable; it must survive as text', given: { owner: 'home', app: 'web', revision: 'x{{vmid}}y' } },
    { name: 'backslash and newline', reason: 'Proxmox unescapes `\\\\` and `\\n`; our JSON escapes must survive that', given: { owner: 'home', app: 'web', revision: 'a\\b\nc"d' } },
    { name: 'appliance', reason: 'the appliance is backed up too (includeAppliance)', given: { owner: 'home', kind: 'Appliance', app: 'gw', trigger: 'schedule', policy: 'nightly' } },
  ]
  for (const c of cases) {
    it(`round-trips through Proxmox's template expansion: ${c.name} (${c.reason})`, () => {
      const tpl = renderNotesTemplate(c.given)
      expect(tpl).not.toMatch(/\n/)
      const stored = expandNotesTemplate(tpl, { guestname: 'web', vmid: 105 })
      expect(stored.split('\n')).toHaveLength(1)
      expect(parseBackupNotes(stored)).toEqual(c.given)
    })
  }

  it('leaves images out (and counts them) when they would break the 1024-character limit', () => {
    const images = Array.from({ length: 40 }, (_, i) => `registry.example.com/team/service-${i}:1.2.3`)
    const tpl = renderNotesTemplate({ owner: 'home', app: 'big', revision: 'abc', images })
    expect(tpl.length).toBeLessThanOrEqual(NOTES_TEMPLATE_MAX_LENGTH)
    expect(parseBackupNotes(expandNotesTemplate(tpl, { guestname: 'big', vmid: 1 }))).toEqual({ owner: 'home', app: 'big', revision: 'abc', imagesOmitted: 40 })
  })

  it('refuses notes that cannot fit even without images', () => {
    expect(() => renderNotesTemplate({ owner: 'home', app: 'web', revision: 'r'.repeat(1100) })).toThrow(/at most 1024/)
  })
})

describe('the backup job template uses only the variables Proxmox knows', () => {
  const tpl = renderJobNotesTemplate({ owner: 'home', policy: 'nightly' })

  it('is deterministic and single-line', () => {
    expect(tpl).toBe(renderJobNotesTemplate({ owner: 'home', policy: 'nightly' }))
    expect(tpl).toBe('proximity:backup {"owner":"home","policy":"nightly","trigger":"schedule","guest":"{{guestname}}","vmid":"{{vmid}}"}')
    expect(tpl.length).toBeLessThanOrEqual(NOTES_TEMPLATE_MAX_LENGTH)
  })

  it('expands per guest into notes naming the guest, vmid, policy and owner', () => {
    const notes = parseBackupNotes(expandNotesTemplate(tpl, { guestname: 'web', vmid: 105, node: 'pve', cluster: 'lab' }))
    expect(notes).toEqual({ owner: 'home', policy: 'nightly', trigger: 'schedule', guest: 'web', vmid: 105 })
    expect(needsCompletion(notes)).toBe(true)
  })

  it('a completed job backup needs nothing more', () => {
    expect(needsCompletion({ owner: 'home', policy: 'nightly', trigger: 'schedule', app: 'web', revision: 'abc', vmid: 105 })).toBe(false)
    expect(needsCompletion(full)).toBe(false)
  })
})

describe('parseBackupNotes is tolerant and claims nothing it cannot read', () => {
  const cases: { name: string; reason: string; given: string | undefined; want: BackupNotes | undefined }[] = [
    { name: 'missing', reason: 'most backups have no notes', given: undefined, want: undefined },
    { name: 'foreign notes', reason: 'notes a person wrote are not ours', given: 'before upgrading to 9.0', want: undefined },
    { name: 'our line after a user line', reason: 'a person may add text above ours in the UI', given: 'keep this one\r\nproximity:backup {"owner":"home","app":"web"}\n', want: { owner: 'home', app: 'web' } },
    { name: 'no owner', reason: 'without an owner the claim cannot be checked', given: 'proximity:backup {"app":"web"}', want: undefined },
    { name: 'broken JSON', reason: 'a truncated line is ignored, not half-read', given: 'proximity:backup {"owner":"home","app":', want: undefined },
    { name: 'wrong types', reason: 'bad fields are dropped, good ones kept', given: 'proximity:backup {"owner":"home","app":7,"images":[1],"vmid":"x","trigger":"cron"}', want: { owner: 'home' } },
    { name: 'unknown keys', reason: 'newer versions may add fields', given: 'proximity:backup {"owner":"home","app":"web","future":true}', want: { owner: 'home', app: 'web' } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(parseBackupNotes(c.given)).toEqual(c.want)
    })
  }
})

describe('expandNotesTemplate behaves as vzdump does', () => {
  it('refuses unknown variables and escapes', () => {
    expect(() => expandNotesTemplate('{{app}}', { guestname: 'g', vmid: 1 })).toThrow(/unexpected variable name 'app'/)
    expect(() => expandNotesTemplate('a\\tb', { guestname: 'g', vmid: 1 })).toThrow(/unexpected escape character 't'/)
    expect(expandNotesTemplate('{{guestname}}\\n{{vmid}}\\\\', { guestname: 'g', vmid: 1 })).toBe('g\n1\\')
  })
})

describe('completeBackupNotes: a job backup once its app is known', () => {
  const job = parseBackupNotes(expandNotesTemplate(renderJobNotesTemplate({ owner: 'home', policy: 'nightly' }), { guestname: 'web', vmid: 105 }))!

  it('keeps the job facts and adds app, revision and images', () => {
    const line = completeBackupNotes(job, { app: 'web', revision: 'c0ffee1', images: ['nginx:1.27'] })
    expect(parseBackupNotes(line)).toEqual({ owner: 'home', policy: 'nightly', trigger: 'schedule', guest: 'web', vmid: 105, app: 'web', revision: 'c0ffee1', images: ['nginx:1.27'] })
    expect(needsCompletion(parseBackupNotes(line))).toBe(false)
  })

  it('records the appliance kind and fits long image lists into the limit', () => {
    const images = Array.from({ length: 40 }, (_, i) => `registry.example.com/team/service-${i}:1.2.3`)
    const line = completeBackupNotes(job, { app: 'gw', kind: 'Appliance', revision: 'r1', images })
    expect(line.length).toBeLessThanOrEqual(NOTES_TEMPLATE_MAX_LENGTH)
    expect(parseBackupNotes(line)).toMatchObject({ kind: 'Appliance', app: 'gw', imagesOmitted: 40 })
  })
})
