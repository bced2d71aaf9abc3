import { randomUUID } from 'node:crypto'
import type { FaultRule } from './types.js'

interface StoredRule extends FaultRule {
  id: string
  remaining?: number
}

/**
 * Fault rules and injected task failures. `match` returns the rules that fire for a request in
 * a phase (before or after the handler) and consumes their counts.
 */
export class FaultStore {
  private rules = new Map<string, StoredRule>()
  private taskFailures = new Map<string, { message: string; remaining: number }[]>()

  constructor(private readonly random: () => number = Math.random) {}

  /** Adds a rule; returns its id. Throws on a malformed rule. */
  add(rule: FaultRule): string {
    if (!rule || typeof rule.method !== 'string' || typeof rule.route !== 'string' || !rule.action || typeof rule.action.type !== 'string') {
      throw new Error('invalid fault rule: need method, route and action.type')
    }
    if (!['error', 'drop', 'latency', 'lockTimeout'].includes(rule.action.type)) throw new Error(`invalid fault rule: unknown action '${rule.action.type}'`)
    const id = randomUUID()
    this.rules.set(id, { ...rule, id, remaining: rule.count })
    return id
  }

  remove(id: string): void {
    this.rules.delete(id)
  }

  clear(): void {
    this.rules.clear()
    this.taskFailures.clear()
  }

  /** Current rules with ids. */
  list(): (FaultRule & { id: string })[] {
    return [...this.rules.values()].map((r) => ({ ...r }))
  }

  /** Rules firing for this request and phase (counts consumed, exhausted rules removed). */
  match(method: string, template: string, path: string, afterHandler: boolean): FaultRule[] {
    const out: FaultRule[] = []
    for (const r of this.rules.values()) {
      if (Boolean(r.afterHandler) !== afterHandler) continue
      if (r.method !== '*' && r.method.toUpperCase() !== method) continue
      if (!routeMatches(r.route, template, path)) continue
      if (r.probability !== undefined && this.random() >= r.probability) continue
      out.push(r)
      if (r.remaining !== undefined) {
        r.remaining--
        if (r.remaining <= 0) this.rules.delete(r.id)
      }
    }
    return out
  }

  /** Queues `count` failures for tasks of `type`. */
  failTask(type: string, message: string, count = 1): void {
    const q = this.taskFailures.get(type) ?? []
    q.push({ message, remaining: count })
    this.taskFailures.set(type, q)
  }

  /** Consumes one injected failure for a task type. */
  takeFailure(type: string): string | undefined {
    const q = this.taskFailures.get(type)
    const head = q?.[0]
    if (!q || !head) return undefined
    head.remaining--
    if (head.remaining <= 0) q.shift()
    return head.message
  }
}

function routeMatches(route: string, template: string, path: string): boolean {
  if (route === template || route === path || route === '*') return true
  try {
    return new RegExp(route).test(path)
  } catch {
    return false
  }
}
