/**
 * The manifest source as an object in the store (`Source/manifests`), so `proximity get sources`
 * and the API show whether the manifests on disk were accepted: `Ready` (True while the latest
 * load was valid) and `SourceInvalid` (present while it was not, with the located errors as
 * `validate` prints them). Events are recorded on transitions only.
 */
import { formatError } from '../manifest/format.js'
import type { StateStore } from '../store/types.js'
import { isoTime, type Clock } from '../runtime/clock.js'
import { getCondition, removeCondition, setCondition } from '../runtime/conditions.js'
import type { SourceState } from './types.js'

/** The store key of the manifest source. */
export const SOURCE_KEY = 'Source/manifests'

/** How many located errors are kept in the status (the log has them all). */
const MAX_ERRORS = 20

/** Writes the source's status (and an event when its validity or errors changed). */
export function recordSourceState(store: StateStore, s: SourceState, clock: Clock): void {
  const prev = store.getStatus(SOURCE_KEY)
  const now = isoTime(clock.now())
  const errors = s.invalid?.errors.map((e) => formatError(e)) ?? []
  const first = errors[0] ?? ''
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
  let conditions = prev?.conditions ?? []
  if (s.invalid) {
    const message = `${first}${more}; still reconciling ${s.revision}`
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: 'SourceInvalid', message }, now, 1)
    conditions = setCondition(conditions, { type: 'SourceInvalid', status: 'True', reason: 'ValidationFailed', message }, now, 1)
  } else {
    conditions = setCondition(conditions, { type: 'Ready', status: 'True', reason: 'Succeeded', message: `loaded revision ${s.revision}` }, now, 1)
    conditions = removeCondition(conditions, 'SourceInvalid')
  }
  const wasInvalid = getCondition(prev?.conditions ?? [], 'SourceInvalid') !== undefined
  const prevErrors = (prev?.extra?.errors as string[] | undefined) ?? []
  store.putStatus({
    key: SOURCE_KEY,
    kind: 'Source',
    name: 'manifests',
    generation: 1,
    observedGeneration: 1,
    conditions,
    lastAppliedRevision: s.revision,
    history: [],
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
    extra: { source: s.kind, inputs: [...s.inputs], errors: errors.slice(0, MAX_ERRORS), errorCount: errors.length, ...resyncTimes(prev) },
  })
  if (s.invalid && (!wasInvalid || prevErrors.join('\n') !== errors.slice(0, MAX_ERRORS).join('\n'))) {
    store.addEvent({ key: SOURCE_KEY, type: 'Warning', reason: 'SourceInvalid', message: `manifests rejected, nothing applied: ${first}${more}` })
  } else if (!s.invalid && wasInvalid) {
    store.addEvent({ key: SOURCE_KEY, type: 'Normal', reason: 'SourceValid', message: `manifests accepted again: revision ${s.revision}` })
  }
}

const resyncTimes = (s: { extra?: Record<string, unknown> } | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const k of ['lastResyncAt', 'previousResyncAt']) if (typeof s?.extra?.[k] === 'string') out[k] = s.extra[k] as string
  return out
}

/**
 * Records that the daemon started a resync of every object at `atMs` (kept on the source's
 * status as `lastResyncAt`, the one before as `previousResyncAt`): a status written before the
 * previous resync was not renewed by a complete pass, and `get` marks it stale. Does nothing
 * before the source's status exists.
 */
export function recordResync(store: StateStore, atMs: number): void {
  const prev = store.getStatus(SOURCE_KEY)
  if (!prev) return
  const last = typeof prev.extra?.lastResyncAt === 'string' ? prev.extra.lastResyncAt : undefined
  store.putStatus({ ...prev, extra: { ...prev.extra, ...(last ? { previousResyncAt: last } : {}), lastResyncAt: isoTime(atMs) } })
}
