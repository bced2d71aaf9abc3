/**
 * `renderPlan`: the Terraform-style text plan (CONVENTIONS "Plan rendering"). Pure.
 */
import type { Action } from '../runtime/controller.js'
import { isRefused } from './build.js'
import { displayValue } from './display.js'
import type { Plan, PlanFieldChange } from './types.js'

export { formatValue } from './display.js'

export interface RenderPlanOptions {
  /** ANSI colours (green +, yellow ~, red -). @default false */
  color?: boolean
  /**
   * Objects of the manifests whose stored status is not Ready (a failed health gate, a stalled
   * or failed reconcile). With any, an empty plan never claims the cluster matches. @default none
   */
  notReady?: readonly NotReadyNote[]
  /**
   * Owned objects whose manifest is gone and which this plan leaves alone (planned without
   * `--prune`). With any, an empty plan never claims the cluster matches. @default none
   */
  orphans?: readonly OrphanNote[]
}

/** An object whose last reconcile left it not Ready, as its stored status says (already redacted). */
export interface NotReadyNote {
  /** `Kind/name`. */
  key: string
  /** The Ready condition's reason (`HealthCheckFailed`), or `Unknown`. */
  reason: string
  message: string
  /** Stalled: apply does not try again until the manifest (or the manifest set) changes. */
  stalled: boolean
}

/** An owned object without a manifest, left alone by this plan. */
export interface OrphanNote {
  /** `Kind/name`. */
  key: string
  /** What a prune acts on: `guest 104 on pve`, `backup job nightly`. */
  target: string
  /** False when a prune only lets go of it (`deletionPolicy: Retain`). */
  destroys: boolean
}

const ANSI = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m' }

const HEADER: Record<Exclude<Action['type'], 'noop'>, string> = {
  create: 'will be created',
  update: 'will be updated in-place',
  delete: 'will be destroyed',
  replace: 'will be replaced',
}

/** Header of an action apply will refuse (a change carries `refused`). */
const REFUSED_HEADER = 'is refused: apply will not change it'

const SYMBOL: Record<Exclude<Action['type'], 'noop'>, string> = { create: '+', update: '~', delete: '-', replace: '-/+' }

function paint(on: boolean, colour: keyof typeof ANSI, text: string): string {
  return on ? `${ANSI[colour]}${text}${ANSI.reset}` : text
}

function symbolColour(sym: string): keyof typeof ANSI {
  return sym === '+' ? 'green' : sym === '~' ? 'yellow' : 'red'
}

/** The symbol of one field line: added, removed or changed. */
function fieldSymbol(action: Action, c: PlanFieldChange): '+' | '-' | '~' {
  if (action.type === 'create') return '+'
  if (action.type === 'delete') return '-'
  if (c.before === undefined && c.after !== undefined) return '+'
  if (c.after === undefined && c.before !== undefined) return '-'
  return '~'
}

/**
 * The comment after a field: its impact (DESIGN §4) with what it means here, and a refusal.
 * Creations and deletions carry no per-field impact (the whole guest is made or removed), except
 * data loss, which is always said.
 */
export function impactNote(action: Action, c: PlanFieldChange): string {
  const parts: string[] = []
  const perField = action.type === 'update' || action.type === 'replace'
  if (perField || c.impact === 'data-loss') {
    let text: string = c.impact
    if (c.forcesReplacement) text += ', forces replacement'
    if (c.note) text += `: ${c.note}`
    // A refused change does not happen: say why instead of what it would do.
    else if (c.refused) {
      /* nothing: the refusal follows */
    } else if (perField && c.impact === 'restart' && c.key) text += ': the guest restarts to apply it'
    else if (c.impact === 'data-loss' && action.type !== 'delete') text += ': the data on it is deleted'
    parts.push(text)
  } else if (c.note) parts.push(c.note)
  if (c.refused) parts.push(`refused: ${c.refused}`)
  return parts.length > 0 ? `# ${parts.join('; ')}` : ''
}

function fieldLine(action: Action, c: PlanFieldChange, color: boolean): string {
  const sym = fieldSymbol(action, c)
  const before = displayValue(c, 'before')
  const after = displayValue(c, 'after')
  let body: string
  if (c.sensitive) body = `${c.path}: (sensitive)`
  else if (sym === '+') body = after === undefined ? c.path : `${c.path}: ${after}`
  else if (sym === '-') body = before === undefined ? c.path : `${c.path}: ${before}`
  else body = before === undefined && after === undefined ? c.path : `${c.path}: ${before ?? 'null'} -> ${after ?? 'null'}`
  const note = impactNote(action, c)
  const tail = note ? ` ${paint(color, 'dim', note)}` : ''
  return `      ${paint(color, symbolColour(sym), sym)} ${body}${tail}`
}

/**
 * Renders a plan as text: legend, one block per non-noop action (header, symbol line, one line per
 * field sorted by path), notes for noop actions with a summary (e.g. suspended), and the footer
 * `Plan: N to add, N to change, N to destroy.` or `No changes. Your cluster matches the manifests.`
 * The latter only when nothing is listed in `opts.notReady` or `opts.orphans`; otherwise the
 * footer says there are no changes to make and lists those objects (also after a `Plan:` footer).
 * An action apply will refuse (build.ts isRefused) gets the `!` symbol and its own header, its
 * refused fields say why and what to do, and the footer counts it as `N refused` (only then).
 * Each field of an update or replacement ends with its impact (`# live`, `# restart: …`,
 * `# replace, forces replacement`, `# data-loss`) and any refusal; sizes keep their units.
 * The output ends with a newline. Sensitive fields print `(sensitive)` instead of values.
 */
export function renderPlan(plan: Plan, opts: RenderPlanOptions = {}): string {
  const color = opts.color === true
  const lines: string[] = []
  const acting = plan.entries.filter((e) => e.type !== 'noop')
  const anyRefused = acting.some(isRefused)
  const notes = plan.entries.filter((e) => e.type === 'noop' && e.summary)
  for (const n of notes) lines.push(`# ${n.key}: ${n.summary}`)
  if (notes.length > 0) lines.push('')
  const notReady = opts.notReady ?? []
  const orphans = opts.orphans ?? []
  if (acting.length === 0) {
    if (notReady.length === 0 && orphans.length === 0) lines.push(paint(color, 'bold', 'No changes.') + ' Your cluster matches the manifests.')
    else lines.push(...attentionLines(notReady, orphans, color, true))
    return `${lines.join('\n')}\n`
  }
  lines.push('Resource actions are indicated with the following symbols:')
  lines.push(`  ${paint(color, 'green', '+')} create`)
  lines.push(`  ${paint(color, 'yellow', '~')} update in-place`)
  lines.push(`  ${paint(color, 'red', '-')} destroy`)
  lines.push(`${paint(color, 'red', '-/+')} destroy and then create replacement`)
  if (anyRefused) lines.push(`  ${paint(color, 'red', '!')} refused: apply will not do it (the reason and the way forward are on the field)`)
  if (acting.some((a) => a.type === 'update' || a.type === 'replace')) {
    lines.push('')
    lines.push('Each change says how it lands: live (on the running guest), restart (the guest or the')
    lines.push("app's containers restart), replace (a new guest), data-loss (data is deleted).")
  }
  lines.push('')
  lines.push('Proximity will perform the following actions:')
  for (const a of acting) {
    const type = a.type as Exclude<Action['type'], 'noop'>
    const refused = isRefused(a)
    const sym = refused ? '!' : SYMBOL[type]
    lines.push('')
    lines.push(paint(color, 'bold', `  # ${a.key} ${refused ? REFUSED_HEADER : HEADER[type]}`) + (a.summary ? ` (${a.summary})` : ''))
    const symText = sym === '-/+' ? paint(color, 'red', sym) : paint(color, symbolColour(sym), sym)
    lines.push(`${sym === '-/+' ? '' : '  '}${symText} ${a.key}`)
    const fields = [...a.changes].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
    for (const c of fields) lines.push(fieldLine(a, c, color))
  }
  lines.push('')
  const s = plan.summary
  lines.push(paint(color, 'bold', 'Plan:') + ` ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy${s.refused > 0 ? `, ${s.refused} refused` : ''}.`)
  if (s.refused > 0) lines.push(`apply will stop on the refused ${s.refused === 1 ? 'change' : 'changes'} with the same reason; follow the way forward shown on the field.`)
  if (notReady.length > 0 || orphans.length > 0) lines.push('', ...attentionLines(notReady, orphans, color, false))
  return `${lines.join('\n')}\n`
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

/** `web` for an App (the name users type), `Kind/name` otherwise. */
const shortName = (key: string): string => (key.startsWith('App/') ? key.slice(4) : key)

/** The commands that explain a not-Ready object. */
function hints(key: string): string {
  const slash = key.indexOf('/')
  const kind = key.slice(0, slash).toLowerCase()
  const name = key.slice(slash + 1)
  const describe = `\`proximity describe ${kind} ${name}\``
  return kind === 'app' ? `${describe} / \`proximity logs ${name}\`` : describe
}

/**
 * What keeps an empty plan from meaning "the cluster matches": objects not Ready (with the
 * reason and message of their last reconcile, and whether apply tries again) and orphans a
 * prune would delete or release. `empty` says whether the plan has no changes at all.
 */
function attentionLines(notReady: readonly NotReadyNote[], orphans: readonly OrphanNote[], color: boolean, empty: boolean): string[] {
  const lines: string[] = []
  if (notReady.length > 0) {
    const apps = notReady.every((n) => n.key.startsWith('App/'))
    const count = apps ? plural(notReady.length, 'app is', 'apps are') : plural(notReady.length, 'object is', 'objects are')
    const lead = empty ? `${paint(color, 'bold', 'No changes')} to make, but ${count} not Ready:` : `${count[0].toUpperCase()}${count.slice(1)} not Ready:`
    lines.push(lead)
    for (const n of notReady) {
      const retry = n.stalled ? 'stalled: apply does not try again until the manifests change' : 'apply tries again'
      lines.push(`  ${paint(color, 'red', shortName(n.key))} — ${n.reason}: ${n.message}`)
      lines.push(`    (${retry}; see ${hints(n.key)})`)
    }
  }
  if (orphans.length > 0) {
    const what = `${plural(orphans.length, 'managed object has', 'managed objects have')} no manifest (left alone without \`--prune\`):`
    if (lines.length > 0) lines.push('', what)
    else lines.push(empty ? `${paint(color, 'bold', 'No changes')} to make, but ${what}` : what)
    const del = orphans.filter((o) => o.destroys)
    const rel = orphans.filter((o) => !o.destroys)
    const list = (xs: readonly OrphanNote[]): string => xs.map((o) => `${o.key} (${o.target})`).join(', ')
    if (del.length > 0) lines.push(`  \`--prune\` would delete ${del.length}: ${list(del)}`)
    if (rel.length > 0) lines.push(`  \`--prune\` would release ${rel.length} (deletionPolicy: Retain; the guest keeps running): ${list(rel)}`)
  }
  return lines
}
