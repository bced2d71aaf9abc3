/**
 * What `apply` says when it is interrupted (Ctrl-C, SIGTERM): which objects were in flight, in
 * which phase, which Proxmox tasks they had started, and that a re-run resumes safely (issue 9
 * point 8). The tracker follows the same phase reports as the progress output, whatever the
 * output mode (`-o json` shows no progress but still tracks).
 */
import type { ProgressPhase } from '../runtime/controller.js'
import { shortTaskId, taskIdsIn } from './task-id.js'

/** One object that was working when the run was interrupted. */
export interface InFlightObject {
  key: string
  phase: ProgressPhase
  detail?: string
  /** Full UPIDs of the Proxmox tasks named by the current phase (they keep running in Proxmox). */
  tasks: string[]
}

export interface InFlightSnapshot {
  /** Objects in a working phase (observing, creating, installing, …). */
  working: InFlightObject[]
  /** Objects queued or waiting for a requeue: nothing of theirs is running. */
  pending: string[]
  /** Objects that finished (done, healthy, failed). */
  finished: number
}

export interface InFlightTracker {
  /** Records a phase report (the progress sink's arguments). */
  update(key: string, phase: ProgressPhase, detail?: string): void
  snapshot(): InFlightSnapshot
}

const FINISHED = new Set<string>(['done', 'healthy', 'failed'])
const PENDING = new Set<string>(['queued', 'waiting'])

/** Creates a tracker that keeps the last phase and detail of every key. */
export function createInFlightTracker(): InFlightTracker {
  const last = new Map<string, { phase: ProgressPhase; detail?: string }>()
  return {
    update(key, phase, detail) {
      last.set(key, { phase, ...(detail ? { detail } : {}) })
    },
    snapshot() {
      const working: InFlightObject[] = []
      const pending: string[] = []
      let finished = 0
      for (const [key, r] of [...last].sort(([a], [b]) => a.localeCompare(b))) {
        if (FINISHED.has(r.phase)) finished++
        else if (PENDING.has(r.phase)) pending.push(key)
        else working.push({ key, phase: r.phase, ...(r.detail ? { detail: r.detail } : {}), tasks: r.detail ? taskIdsIn(r.detail) : [] })
      }
      return { working, pending, finished }
    },
  }
}

/** The node a UPID ran on (`UPID:<node>:…`). */
const taskNode = (upid: string): string => upid.split(':')[1] ?? '?'

/**
 * The lines printed on the first interrupt. Full UPIDs are shown here (unlike the progress
 * output): they are what a person pastes into the Proxmox task log to see how a task ended.
 */
export function interruptMessage(s: InFlightSnapshot, signal: NodeJS.Signals): string {
  const lines: string[] = []
  lines.push(
    signal === 'SIGINT'
      ? 'interrupted: stopping this apply; no new step is started (press Ctrl-C again to exit at once)'
      : `stopping this apply on ${signal}; no new step is started`,
  )
  if (s.working.length === 0) lines.push('in flight: nothing (no object was in the middle of a step)')
  else {
    lines.push(`in flight (${s.working.length}):`)
    for (const w of s.working) {
      // The task ids get their own line below; the rest of the detail (vmid, node) stays.
      const rest = (w.detail ?? '').replace(/,?\s*(task\s+)?UPID:\S+/g, '').trim()
      lines.push(`  ${w.key}: ${w.phase}${rest ? ` (${rest})` : ''}`)
      for (const t of w.tasks) lines.push(`    Proxmox task ${shortTaskId(t)} on ${taskNode(t)} keeps running there: ${t}`)
    }
  }
  if (s.pending.length > 0) lines.push(`queued or waiting, not running: ${s.pending.join(', ')}`)
  lines.push(
    'Proxmox finishes the tasks it already started; nothing is rolled back. Re-run the same',
    '`proximity apply` to resume: it observes the cluster again and carries on from there (a guest',
    'whose create was in flight is found by its marker and never created twice; the lease of this',
    'run is released now, or expires by itself).',
  )
  return `${lines.join('\n')}\n`
}
