/**
 * What Proximity writes into the notes of a backup, and how it reads them back. Pure.
 *
 * Notes are one line (Proxmox's content listing returns only the first line), in the style of the
 * guest marker:
 *
 *   proximity:backup {"owner":"home","app":"web","revision":"3f2c1a9","images":["nginx:1.27"],"trigger":"manual"}
 *
 * Where each fact comes from (a backup job's `notes-template` knows only `{{cluster}}`,
 * `{{guestname}}`, `{{node}}` and `{{vmid}}`, and one job covers many apps, each at its own revision):
 *
 * - A policy's backup job writes the static part: owner, policy, `trigger: "schedule"`, plus the
 *   guest name and vmid that Proxmox substitutes per guest ({@link renderJobNotesTemplate}).
 *   The app is then known from the vmid (the guest's marker) and the revision from the marker
 *   inside the archive's own config; the BackupPolicy controller may complete the notes after the
 *   fact with {@link renderBackupNotes} (one `PUT …/content/{volid}` per new backup, never again).
 * - A one-off vzdump (`proximity backup now`, a safety backup before a restore or an update, the
 *   final backup on deletion) knows its app, revision and images, and writes them literally
 *   ({@link renderNotesTemplate}).
 *
 * Values are JSON inside the line, so any name round-trips; braces inside values are written as
 * `\u007b`/`\u007d` so Proxmox never sees `{{` it would take for a variable.
 */

/** The literal prefix of the notes line. */
export const BACKUP_NOTES_PREFIX = 'proximity:backup'

/** Proxmox's limit on `notes-template` (vzdump and backup jobs). */
export const NOTES_TEMPLATE_MAX_LENGTH = 1024

/** Why a backup was taken. */
export type BackupTrigger = 'schedule' | 'manual' | 'pre-update' | 'pre-restore' | 'deletion' | 'verify'

const TRIGGERS: ReadonlySet<string> = new Set(['schedule', 'manual', 'pre-update', 'pre-restore', 'deletion', 'verify'])

/** The facts a notes line can carry; all but `owner` are optional. */
export interface BackupNotes {
  /** The Proximity installation that made the backup (Cluster.spec.owner). */
  owner: string
  /** App (or Appliance) name, when known at backup time. */
  app?: string
  /** The kind of the guest, when not App. */
  kind?: 'App' | 'Appliance'
  /** BackupPolicy that scheduled it. */
  policy?: string
  /** The manifest revision deployed in the guest (git commit or spec hash). */
  revision?: string
  /** Images the app ran. */
  images?: string[]
  /** Set when `images` had to be left out to fit the 1024-character limit. */
  imagesOmitted?: number
  /** The guest's hostname, as Proxmox substituted `{{guestname}}`. */
  guest?: string
  /** The vmid, as Proxmox substituted `{{vmid}}`. */
  vmid?: number
  trigger?: BackupTrigger
}

/** JSON for a string with braces escaped, so no `{{` can appear inside a value. */
const jsonString = (v: string): string => JSON.stringify(v).replace(/[{}]/g, (c) => (c === '{' ? '\\u007b' : '\\u007d'))

/** The JSON body with keys in a fixed order (stable notes, stable templates). */
function body(n: BackupNotes, raw: Record<string, string> = {}): string {
  const parts: string[] = [`"owner":${jsonString(n.owner)}`]
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined) parts.push(`"${k}":${v}`)
  }
  add('kind', n.kind && n.kind !== 'App' ? jsonString(n.kind) : undefined)
  add('app', n.app !== undefined ? jsonString(n.app) : undefined)
  add('policy', n.policy !== undefined ? jsonString(n.policy) : undefined)
  add('revision', n.revision !== undefined ? jsonString(n.revision) : undefined)
  add('images', n.images !== undefined ? `[${n.images.map(jsonString).join(',')}]` : undefined)
  add('imagesOmitted', n.imagesOmitted !== undefined ? String(n.imagesOmitted) : undefined)
  add('trigger', n.trigger !== undefined ? jsonString(n.trigger) : undefined)
  add('guest', raw.guest ?? (n.guest !== undefined ? jsonString(n.guest) : undefined))
  add('vmid', raw.vmid ?? (n.vmid !== undefined ? String(n.vmid) : undefined))
  return `{${parts.join(',')}}`
}

/** Escapes text for a Proxmox notes template: `\` becomes `\\`, newlines `\n`. */
const templateEscape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

/**
 * The notes line itself (what Proxmox stores after substitution, or what `PUT …/content/{volid}`
 * writes when completing a job backup's notes).
 */
export function renderBackupNotes(n: BackupNotes): string {
  return `${BACKUP_NOTES_PREFIX} ${body(n)}`
}

/**
 * A `notes-template` for a one-off vzdump that records everything literally. When the images make
 * it longer than Proxmox's 1024 characters they are left out and counted in `imagesOmitted`.
 * Throws when even that does not fit (names are bounded, so only an absurd revision can).
 */
export function renderNotesTemplate(n: BackupNotes): string {
  let tpl = templateEscape(renderBackupNotes(n))
  if (tpl.length > NOTES_TEMPLATE_MAX_LENGTH && n.images !== undefined) {
    tpl = templateEscape(renderBackupNotes({ ...n, images: undefined, imagesOmitted: n.images.length }))
  }
  if (tpl.length > NOTES_TEMPLATE_MAX_LENGTH) {
    throw new RangeError(`backup notes are ${tpl.length} characters; Proxmox allows at most ${NOTES_TEMPLATE_MAX_LENGTH} (shorten the revision)`)
  }
  return tpl
}

/**
 * The `notes-template` of a policy's backup job: owner and policy literally, guest name and vmid
 * as Proxmox variables. Deterministic, so a converged job plans no change.
 */
export function renderJobNotesTemplate(opts: { owner: string; policy: string }): string {
  const line = `${BACKUP_NOTES_PREFIX} ${body({ owner: opts.owner, policy: opts.policy, trigger: 'schedule' }, { guest: '"{{guestname}}"', vmid: '"{{vmid}}"' })}`
  // Escape only outside the variables (they contain no backslash or newline anyway).
  return templateEscape(line)
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

function parseLine(line: string): BackupNotes | undefined {
  const t = line.trim()
  if (!t.startsWith(BACKUP_NOTES_PREFIX)) return undefined
  let v: unknown
  try {
    v = JSON.parse(t.slice(BACKUP_NOTES_PREFIX.length).trim())
  } catch {
    return undefined
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined
  const o = v as Record<string, unknown>
  const owner = str(o.owner)
  if (!owner) return undefined
  const out: BackupNotes = { owner }
  if (o.kind === 'Appliance' || o.kind === 'App') out.kind = o.kind
  if (str(o.app)) out.app = o.app as string
  if (str(o.policy)) out.policy = o.policy as string
  if (str(o.revision)) out.revision = o.revision as string
  if (Array.isArray(o.images) && o.images.every((i) => typeof i === 'string')) out.images = o.images as string[]
  if (typeof o.imagesOmitted === 'number' && Number.isInteger(o.imagesOmitted)) out.imagesOmitted = o.imagesOmitted
  if (str(o.guest)) out.guest = o.guest as string
  const vmid = typeof o.vmid === 'number' ? o.vmid : typeof o.vmid === 'string' && /^[0-9]+$/.test(o.vmid) ? Number(o.vmid) : undefined
  if (vmid !== undefined && Number.isSafeInteger(vmid)) out.vmid = vmid
  if (typeof o.trigger === 'string' && TRIGGERS.has(o.trigger)) out.trigger = o.trigger as BackupTrigger
  return out
}

/**
 * Reads Proximity's line from backup notes (full notes or the listing's first line). Tolerant:
 * other lines, `\r\n`, blanks and unknown keys are ignored; returns undefined when there is no
 * well-formed line with an owner (the backup then carries no claim of ours).
 */
export function parseBackupNotes(notes: string | undefined | null): BackupNotes | undefined {
  if (!notes) return undefined
  for (const line of String(notes).split(/\r?\n/)) {
    const n = parseLine(line)
    if (n) return n
  }
  return undefined
}

/** True when notes from a job template lack what only the controller can add (app, revision). */
export function needsCompletion(n: BackupNotes | undefined): boolean {
  return n !== undefined && n.trigger === 'schedule' && (n.app === undefined || n.revision === undefined)
}

/**
 * What Proxmox does with a notes template (`PVE::VZDump` `generate_notes`): unescape `\\` and
 * `\n`, then substitute the four variables. Throws on an unknown escape or variable, as vzdump
 * does. Used by tests and by `plan` to show the notes a job will write.
 */
export function expandNotesTemplate(tpl: string, vars: { cluster?: string; guestname: string; node?: string; vmid: number | string }): string {
  const unescaped = tpl.replace(/\\(.)/g, (_, c: string) => {
    if (c === '\\') return '\\'
    if (c === 'n') return '\n'
    throw new Error(`unexpected escape character '${c}' in notes template`)
  })
  const values: Record<string, string> = { cluster: vars.cluster ?? '', guestname: vars.guestname, node: vars.node ?? '', vmid: String(vars.vmid) }
  const out = unescaped.replace(/\{\{(cluster|guestname|node|vmid)\}\}/g, (_, k: string) => values[k] ?? '')
  const left = /\{\{([^\s}]+)\}\}/.exec(out)
  if (left) throw new Error(`unexpected variable name '${left[1]}' in notes template`)
  return out
}

/**
 * The notes line for a job backup once the controller knows whose it is: the job's facts (owner,
 * policy, trigger, guest, vmid) kept, the app's (name, kind, revision, images) added. Written with
 * `PUT …/content/{volid}` once per new backup (after that {@link needsCompletion} is false).
 * Images that would not fit Proxmox's notes are left out and counted, as in templates.
 */
export function completeBackupNotes(
  existing: BackupNotes,
  facts: { app: string; kind?: 'App' | 'Appliance'; revision?: string; images?: string[] },
): string {
  const merged: BackupNotes = { ...existing, app: facts.app, kind: facts.kind ?? existing.kind, revision: facts.revision ?? existing.revision, images: facts.images ?? existing.images }
  if (merged.kind === 'App' || merged.kind === undefined) delete merged.kind
  for (const k of ['revision', 'images'] as const) if (merged[k] === undefined) delete merged[k]
  const line = renderBackupNotes(merged)
  if (line.length <= NOTES_TEMPLATE_MAX_LENGTH || merged.images === undefined) return line
  return renderBackupNotes({ ...merged, images: undefined, imagesOmitted: merged.images.length })
}
