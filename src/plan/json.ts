/**
 * `planToJson`: the machine-readable plan (`proximity plan -o json`). Pure.
 */
import type { Action } from '../runtime/controller.js'
import type { Plan, PlanFieldChange } from './types.js'

/** One field of a planned change in the JSON form. Absent values are `null`, never omitted. */
export interface PlanJsonField {
  path: string
  before: unknown
  after: unknown
  impact: 'live' | 'restart' | 'replace' | 'data-loss'
  sensitive: boolean
  forcesReplacement: boolean
  /** Why apply refuses this change, or null. */
  refused: string | null
}

export interface PlanJsonChange {
  key: string
  kind: string
  name: string
  action: 'create' | 'update' | 'replace' | 'delete'
  summary: string | null
  fields: PlanJsonField[]
}

export interface PlanJson {
  formatVersion: 1
  changes: PlanJsonChange[]
  summary: { add: number; change: number; destroy: number }
}

/**
 * The plan as stable JSON data. Shape (formatVersion 1; new keys may be added, none removed):
 *
 * ```
 * { formatVersion: 1,
 *   changes: [ { key: "App/web", kind: "App", name: "web",
 *                action: "create" | "update" | "replace" | "delete",
 *                summary: string | null,
 *                fields: [ { path, before, after, impact: "live"|"restart"|"replace"|"data-loss",
 *                            sensitive: boolean, forcesReplacement: boolean,
 *                            refused: string | null } ] } ],
 *   summary: { add, change, destroy } }
 * ```
 *
 * `changes` holds every non-noop action, sorted by key; `fields` are sorted by path. Absent
 * before/after values are `null`. Sensitive fields always have `before` and `after` null, so no
 * secret (nor its digest) ever reaches the output. Object keys are emitted in the order above.
 */
export function planToJson(plan: Plan): PlanJson {
  const changes = plan.entries
    .filter((e): e is Action & { type: PlanJsonChange['action'] } => e.type !== 'noop')
    .map((e) => ({
      key: e.key,
      kind: e.kind,
      name: e.name,
      action: e.type,
      summary: e.summary ?? null,
      fields: [...e.changes]
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
        .map((c: PlanFieldChange) => ({
          path: c.path,
          before: c.sensitive ? null : (c.before ?? null),
          after: c.sensitive ? null : (c.after ?? null),
          impact: c.impact,
          sensitive: c.sensitive === true,
          forcesReplacement: c.forcesReplacement === true,
          refused: c.refused ?? null,
        })),
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return {
    formatVersion: 1,
    changes,
    summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy },
  }
}
