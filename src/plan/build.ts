/**
 * Assembles actions from every controller into one Plan with its Terraform-style summary. Pure.
 */
import type { Action } from '../runtime/controller.js'
import type { Plan, PlanSummary } from './types.js'

/** Counts what a list of actions adds, changes and destroys (a replace counts as add + destroy). */
export function summarize(entries: Action[]): PlanSummary {
  const s: PlanSummary = { add: 0, change: 0, destroy: 0 }
  for (const e of entries) {
    if (e.type === 'create') s.add++
    else if (e.type === 'update') s.change++
    else if (e.type === 'delete') s.destroy++
    else if (e.type === 'replace') {
      s.add++
      s.destroy++
    }
  }
  return s
}

/** Builds a Plan: entries sorted by key (stable output), summary computed. */
export function buildPlan(entries: Action[]): Plan {
  const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return { entries: sorted, summary: summarize(sorted) }
}

/** True when the plan changes nothing (only noop entries, or none). */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.entries.every((e) => e.type === 'noop')
}
