/**
 * `planToJson`: the machine-readable plan (`proximity plan -o json`). Pure.
 */
import type { Action } from '../runtime/controller.js'
import { isRefused, refusalsOf } from './build.js'
import { displayValue, unitOf } from './display.js'
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
  /** Unit of numeric before/after values (`MiB` for memory and swap, `GiB` for disks), or null. */
  unit: 'MiB' | 'GiB' | null
  /** before/after as the text plan shows them (`"1Gi"`, `"(sensitive)"`), null when absent. */
  display: { before: string | null; after: string | null }
  /** What the change does beyond its impact (`service web is recreated`), or null. */
  note: string | null
}

export interface PlanJsonChange {
  key: string
  kind: string
  name: string
  action: 'create' | 'update' | 'replace' | 'delete'
  summary: string | null
  fields: PlanJsonField[]
  /** Why apply refuses this change as a whole (`path: reason` of each refused field, `; `-joined), or null. */
  refused: string | null
}

export interface PlanJson {
  formatVersion: 1
  changes: PlanJsonChange[]
  summary: { add: number; change: number; destroy: number; refused: number }
}

const sensitiveSide = (v: unknown): string | null => (v === undefined || v === null ? null : '(sensitive)')

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
 *                            refused: string | null, unit: "MiB" | "GiB" | null,
 *                            display: { before: string | null, after: string | null },
 *                            note: string | null } ],
 *                refused: string | null } ],
 *   summary: { add, change, destroy, refused } }
 * ```
 *
 * `changes` holds every non-noop action, sorted by key; `fields` are sorted by path. Absent
 * before/after values are `null`. Sensitive fields carry `"(sensitive)"` for a present side and
 * null for an absent one (so an added secret is visible as added), never a value or a digest.
 * A change apply will refuse has `refused` set (its refused fields' reasons) and counts only in
 * `summary.refused`, not in add/change/destroy. Sizes stay numbers in their `unit`; `display` has them as the text plan prints them. Object keys
 * are emitted in the order above.
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
          before: c.sensitive ? sensitiveSide(c.before) : (c.before ?? null),
          after: c.sensitive ? sensitiveSide(c.after) : (c.after ?? null),
          impact: c.impact,
          sensitive: c.sensitive === true,
          forcesReplacement: c.forcesReplacement === true,
          refused: c.refused ?? null,
          unit: typeof c.before === 'number' || typeof c.after === 'number' ? (unitOf(c) ?? null) : null,
          display: { before: displayValue(c, 'before') ?? null, after: displayValue(c, 'after') ?? null },
          note: c.note ?? null,
        })),
      refused: isRefused(e) ? refusalsOf(e).join('; ') : null,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return {
    formatVersion: 1,
    changes,
    summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy, refused: plan.summary.refused },
  }
}
