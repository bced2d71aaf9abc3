/**
 * Which backup a Restore uses, and whether it may (pure). A backup is of an app when its notes
 * (src/model/backup-notes.ts) carry our owner and name the app — or, for a scheduled backup whose
 * notes were not completed yet, name no app but the app's vmid. Anything else is refused.
 */
import { parseBackupNotes, type BackupNotes } from '../../src/model/backup-notes.js'
import type { BackupEntry } from '../../src/model/vzdump.js'

/** The App being restored. */
export interface RestoreSubject {
  owner: string
  app: string
  vmid: number
}

/** The chosen backup with its notes, or why none may be used. */
export type BackupChoice = { ok: true; entry: BackupEntry; notes: BackupNotes } | { ok: false; reason: 'BackupNotFound' | 'BackupNotOfApp'; message: string }

/** True when `notes` say the backup is of `s`. */
export function isBackupOf(notes: BackupNotes | undefined, s: RestoreSubject): boolean {
  if (!notes || notes.owner !== s.owner) return false
  if (notes.kind !== undefined && notes.kind !== 'App') return false
  if (notes.app !== undefined) return notes.app === s.app
  return notes.vmid === s.vmid
}

/**
 * Picks `want` (`latest` or a volid) among `entries` (any order). `latest` is the newest backup
 * of the app; a volid must be listed and be of the app.
 */
export function chooseBackup(entries: readonly BackupEntry[], want: string, s: RestoreSubject): BackupChoice {
  if (want === 'latest') {
    const mine = entries.filter((e) => isBackupOf(parseBackupNotes(e.notes), s)).sort((a, b) => b.time.getTime() - a.time.getTime())
    const entry = mine[0]
    if (!entry) return { ok: false, reason: 'BackupNotFound', message: `no backup of App ${s.app} was found; take one with a BackupPolicy or name a volid in spec.backup` }
    return { ok: true, entry, notes: parseBackupNotes(entry.notes) as BackupNotes }
  }
  const entry = entries.find((e) => e.volid === want)
  if (!entry) return { ok: false, reason: 'BackupNotFound', message: `backup ${want} was not found on its storage; list the backups of App ${s.app} and name one of them` }
  const notes = parseBackupNotes(entry.notes)
  if (!notes || !isBackupOf(notes, s)) {
    const whose = notes?.app !== undefined ? `App ${notes.app}${notes.owner !== s.owner ? ` of owner ${notes.owner}` : ''}` : notes ? `guest ${notes.vmid ?? entry.vmid}` : 'no Proximity app (its notes carry no proximity:backup line)'
    return { ok: false, reason: 'BackupNotOfApp', message: `refusing to restore ${want} into App ${s.app}: the backup is of ${whose}; name a backup of App ${s.app}` }
  }
  return { ok: true, entry, notes }
}
