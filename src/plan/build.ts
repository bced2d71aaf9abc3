/**
 * Assembles actions from every controller into one Plan with its Terraform-style summary. Pure.
 */
import type { Action } from '../runtime/controller.js'
import type { Plan, PlanFieldChange, PlanSummary } from './types.js'

/**
 * Why apply will refuse an action: the `refused` sentence of each of its changes, in path order
 * (empty when apply will act). A controller whose plan carries a refused change refuses the
 * whole action in apply, so plan and apply agree by construction.
 */
export function refusalsOf(action: Action): string[] {
  return [...(action.changes as PlanFieldChange[])]
    .filter((c) => typeof c.refused === 'string' && c.refused !== '')
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((c) => `${c.path}: ${c.refused}`)
}

/** True when apply will refuse this (non-noop) action: one of its changes is refused. */
export function isRefused(action: Action): boolean {
  return action.type !== 'noop' && refusalsOf(action).length > 0
}

/**
 * Counts what a list of actions adds, changes and destroys (a replace counts as add + destroy).
 * A refused action (see isRefused) counts only as `refused`: apply will not do it.
 */
export function summarize(entries: Action[]): PlanSummary {
  const s: PlanSummary = { add: 0, change: 0, destroy: 0, refused: 0 }
  for (const e of entries) {
    if (isRefused(e)) s.refused++
    else if (e.type === 'create') s.add++
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

/**
 * True when the plan changes nothing (only noop entries, or none). A plan whose only entries are
 * refused is not empty: the cluster differs from the manifests (`plan --detailed-exitcode` exits
 * 2, and `apply` exits 1 with the same reasons).
 */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.entries.every((e) => e.type === 'noop')
}
