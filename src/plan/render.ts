/**
 * `renderPlan`: the Terraform-style text plan (CONVENTIONS "Plan rendering"). Pure.
 */
import type { Action } from '../runtime/controller.js'
import type { Plan, PlanFieldChange } from './types.js'

export interface RenderPlanOptions {
  /** ANSI colours (green +, yellow ~, red -). @default false */
  color?: boolean
}

const ANSI = { green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m' }

const HEADER: Record<Exclude<Action['type'], 'noop'>, string> = {
  create: 'will be created',
  update: 'will be updated in-place',
  delete: 'will be destroyed',
  replace: 'must be replaced',
}

const SYMBOL: Record<Exclude<Action['type'], 'noop'>, string> = { create: '+', update: '~', delete: '-', replace: '-/+' }

/** Formats a value for a plan line: strings quoted, arrays/objects as compact JSON. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

function paint(on: boolean, colour: keyof typeof ANSI, text: string): string {
  return on ? `${ANSI[colour]}${text}${ANSI.reset}` : text
}

function symbolColour(sym: string): keyof typeof ANSI {
  return sym === '+' ? 'green' : sym === '~' ? 'yellow' : 'red'
}

function fieldLine(action: Action, c: PlanFieldChange, color: boolean): string {
  let sym: string
  let body: string
  if (action.type === 'create' || (c.before === undefined && c.after !== undefined)) {
    sym = '+'
    body = `${c.path}: ${c.sensitive ? '(sensitive)' : formatValue(c.after)}`
  } else if (action.type === 'delete' || (c.after === undefined && c.before !== undefined)) {
    sym = '-'
    body = `${c.path}: ${c.sensitive ? '(sensitive)' : formatValue(c.before)}`
  } else {
    sym = '~'
    body = c.sensitive ? `${c.path}: (sensitive)` : `${c.path}: ${formatValue(c.before)} -> ${formatValue(c.after)}`
  }
  const notes: string[] = []
  if (c.forcesReplacement) notes.push('# forces replacement')
  else if (c.impact === 'restart' && action.type === 'update') notes.push('# applied on next restart')
  if (c.impact === 'data-loss') notes.push('# data loss')
  if (c.refused) notes.push(`# refused: ${c.refused}`)
  const tail = notes.length > 0 ? ` ${paint(color, 'dim', notes.join(' '))}` : ''
  return `      ${paint(color, symbolColour(sym), sym)} ${body}${tail}`
}

/**
 * Renders a plan as text: legend, one block per non-noop action (header, symbol line, one line per
 * field sorted by path), notes for noop actions with a summary (e.g. suspended), and the footer
 * `Plan: N to add, N to change, N to destroy.` or `No changes. Your cluster matches the manifests.`
 * The output ends with a newline. Sensitive fields print `(sensitive)` instead of values.
 */
export function renderPlan(plan: Plan, opts: RenderPlanOptions = {}): string {
  const color = opts.color === true
  const lines: string[] = []
  const acting = plan.entries.filter((e) => e.type !== 'noop')
  const notes = plan.entries.filter((e) => e.type === 'noop' && e.summary)
  for (const n of notes) lines.push(`# ${n.key}: ${n.summary}`)
  if (notes.length > 0) lines.push('')
  if (acting.length === 0) {
    lines.push(paint(color, 'bold', 'No changes.') + ' Your cluster matches the manifests.')
    return `${lines.join('\n')}\n`
  }
  lines.push('Resource actions are indicated with the following symbols:')
  lines.push(`  ${paint(color, 'green', '+')} create`)
  lines.push(`  ${paint(color, 'yellow', '~')} update in-place`)
  lines.push(`  ${paint(color, 'red', '-')} destroy`)
  lines.push(`${paint(color, 'red', '-/+')} destroy and then create replacement`)
  lines.push('')
  lines.push('Proximity will perform the following actions:')
  for (const a of acting) {
    const type = a.type as Exclude<Action['type'], 'noop'>
    const sym = SYMBOL[type]
    lines.push('')
    lines.push(paint(color, 'bold', `  # ${a.key} ${HEADER[type]}`) + (a.summary ? ` (${a.summary})` : ''))
    const symText = sym === '-/+' ? paint(color, 'red', sym) : paint(color, symbolColour(sym), sym)
    lines.push(`${sym === '-/+' ? '' : '  '}${symText} ${a.key}`)
    const fields = [...a.changes].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
    for (const c of fields) lines.push(fieldLine(a, c, color))
  }
  lines.push('')
  const s = plan.summary
  lines.push(paint(color, 'bold', 'Plan:') + ` ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.`)
  return `${lines.join('\n')}\n`
}
