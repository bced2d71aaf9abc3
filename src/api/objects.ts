/**
 * The API's object shapes (pure): a manifest joined with its stored status, in the Kubernetes
 * form users know (`apiVersion`, `kind`, `metadata`, `spec`, `status`), with every secret masked,
 * plus label and field selectors for list endpoints.
 */
import type { Kind, Manifest, SecretRef } from '../model/types.js'
import type { Condition, HistoryEntry, ObjectStatus } from '../store/types.js'

/** A kind the status API serves, with its URL word. */
export const API_KINDS: { kind: Exclude<Kind, 'Cluster'>; plural: string }[] = [
  { kind: 'App', plural: 'apps' },
  { kind: 'Appliance', plural: 'appliances' },
  { kind: 'BackupPolicy', plural: 'backuppolicies' },
  { kind: 'Restore', plural: 'restores' },
]

export interface ApiObjectStatus {
  ready: boolean
  /** `Ready`, `Progressing`, `Stalled` or `NotManaged` (no controller yet) or `Unknown`. */
  phase: string
  reason?: string
  message?: string
  observedGeneration?: number
  conditions: Condition[]
  inventory?: Record<string, unknown>
  /**
   * Apps: where the app is reached, as the App controller recorded it (`extra.ip`, `extra.urls`,
   * derived by src/model/app-address.ts, the rules `get apps` shows too).
   */
  addresses?: { ip?: string; urls?: string[] }
  lastAppliedRevision?: string
  lastAttemptedRevision?: string
  history: HistoryEntry[]
  observedAt?: string
  extra?: Record<string, unknown>
}

export interface ApiObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string>; creationTimestamp?: string; source?: string }
  spec: Record<string, unknown>
  status: ApiObjectStatus
}

/** What the API knows about one object: its manifest (if still declared) and its stored status. */
export interface ObjectView {
  manifest?: Manifest
  status?: ObjectStatus
  /** Why no controller acts on this object yet, when that is the case. */
  notManaged?: string
}

/** Replaces every secret reference by a marker that says where it comes from, never its value. */
export function maskSecretRef(ref: SecretRef): string | Record<string, unknown> {
  if ('sealed' in ref) return '(sealed)'
  if ('generate' in ref) return { generate: { length: ref.generate.length }, value: '(sensitive)' }
  if ('env' in ref) return { env: ref.env, value: '(sensitive)' }
  if ('file' in ref) return { file: ref.file, value: '(sensitive)' }
  return '(sensitive)'
}

/** The spec as the API shows it: a deep copy with secrets masked. */
export function maskedSpec(m: Manifest): Record<string, unknown> {
  const spec = structuredClone(m.spec) as unknown as Record<string, unknown>
  if (m.kind === 'App') {
    const secrets: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(m.spec.secrets)) secrets[k] = maskSecretRef(v)
    spec.secrets = secrets
  }
  return spec
}

function phaseOf(view: ObjectView): Pick<ApiObjectStatus, 'ready' | 'phase' | 'reason' | 'message'> {
  if (view.notManaged) return { ready: false, phase: 'NotManaged', reason: 'NoController', message: view.notManaged }
  const conditions = view.status?.conditions ?? []
  const stalled = conditions.find((c) => c.type === 'Stalled' && c.status === 'True')
  const ready = conditions.find((c) => c.type === 'Ready')
  if (stalled) return { ready: false, phase: 'Stalled', reason: stalled.reason, message: stalled.message }
  if (!ready) return { ready: false, phase: 'Unknown', reason: 'NotObserved', message: 'not reconciled yet' }
  if (ready.status === 'True') return { ready: true, phase: 'Ready', reason: ready.reason, message: ready.message }
  return { ready: false, phase: 'Progressing', reason: ready.reason, message: ready.message }
}

function addressesOf(status: ObjectStatus | undefined): ApiObjectStatus['addresses'] {
  const extra = status?.extra ?? {}
  const ip = typeof extra.ip === 'string' ? extra.ip : undefined
  const urls = Array.isArray(extra.urls) ? extra.urls.filter((u): u is string => typeof u === 'string') : undefined
  if (!ip && !urls) return undefined
  return { ...(ip ? { ip } : {}), ...(urls ? { urls } : {}) }
}

/** Builds the API object of one view. Pure. */
export function toApiObject(kind: string, name: string, view: ObjectView): ApiObject {
  const m = view.manifest
  const s = view.status
  const status: ApiObjectStatus = {
    ...phaseOf(view),
    ...(s ? { observedGeneration: s.observedGeneration } : {}),
    conditions: s?.conditions ?? [],
    ...(s?.inventory ? { inventory: s.inventory } : {}),
    ...(addressesOf(s) ? { addresses: addressesOf(s) } : {}),
    ...(s?.lastAppliedRevision ? { lastAppliedRevision: s.lastAppliedRevision } : {}),
    ...(s?.lastAttemptedRevision ? { lastAttemptedRevision: s.lastAttemptedRevision } : {}),
    history: s?.history ?? [],
    ...(s?.updatedAt ? { observedAt: s.updatedAt } : {}),
    ...(s?.extra ? { extra: publicExtra(s.extra) } : {}),
  }
  return {
    apiVersion: m?.apiVersion ?? 'proximity/v1alpha1',
    kind,
    metadata: {
      name,
      labels: { ...(m?.metadata.labels ?? {}) },
      annotations: { ...(m?.metadata.annotations ?? {}) },
      ...(s?.createdAt ? { creationTimestamp: s.createdAt } : {}),
      ...(m ? { source: `${m.source.file}:${m.source.line}` } : {}),
    },
    spec: m ? maskedSpec(m) : {},
    status,
  }
}

/**
 * Controller memory the API never shows: the App controller's deploy bookkeeping (per-service
 * setting digests, keyed secret digests, timers) and the address fields already given as
 * `status.addresses`.
 */
const INTERNAL_EXTRA = new Set(['deployed', 'deployHash', 'deployStartedAt', 'lastDeepCheckAt', 'templateSpec', 'ip', 'urls', 'replacing', 'pendingUpdate'])
const SECRET_LIKE = /digest|hash|secret|token|password|sealed/i

/** Controller memory may hold digests and internal bookkeeping; only plain facts go out, at any depth. */
function publicExtra(extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(extra)) {
    if (INTERNAL_EXTRA.has(k) || SECRET_LIKE.test(k)) continue
    out[k] = scrubbed(v)
  }
  return out
}

function scrubbed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(scrubbed)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!SECRET_LIKE.test(k)) out[k] = scrubbed(x)
  return out
}

/** A parse error of a selector query parameter; answered with 400. */
export class SelectorError extends Error {
  override readonly name = 'SelectorError'
}

type Requirement = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string }

/** Parses `tier=web,env!=dev,app,!legacy` (the equality-based Kubernetes label selector). */
export function parseLabelSelector(text: string): Requirement[] {
  if (text.length > 1024) throw new SelectorError('labelSelector is too long')
  const reqs: Requirement[] = []
  for (const raw of text.split(',')) {
    const part = raw.trim()
    if (!part) continue
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$/.exec(part)
    if (m) {
      reqs.push({ key: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! })
      continue
    }
    const e = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)$/.exec(part)
    if (e) {
      reqs.push({ key: e[2]!, op: e[1] ? '!exists' : 'exists' })
      continue
    }
    throw new SelectorError(`labelSelector: cannot parse "${part}"; use key=value, key!=value, key or !key`)
  }
  return reqs
}

/** True when `labels` satisfy every requirement. */
export function matchLabels(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key)
    switch (r.op) {
      case '=':
        return has && labels[r.key] === r.value
      case '!=':
        return !has || labels[r.key] !== r.value
      case 'exists':
        return has
      case '!exists':
        return !has
    }
  })
}

const FIELD_PATHS = ['metadata.name', 'status.ready', 'status.phase', 'status.reason', 'status.inventory.node', 'status.inventory.vmid', 'spec.node'] as const

/** Parses `status.ready=false,metadata.name!=web` over a fixed set of field paths. */
export function parseFieldSelector(text: string): { path: string; op: '=' | '!='; value: string }[] {
  if (text.length > 1024) throw new SelectorError('fieldSelector is too long')
  const out: { path: string; op: '=' | '!='; value: string }[] = []
  for (const raw of text.split(',')) {
    const part = raw.trim()
    if (!part) continue
    const m = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (!m) throw new SelectorError(`fieldSelector: cannot parse "${part}"; use path=value or path!=value`)
    if (!(FIELD_PATHS as readonly string[]).includes(m[1]!)) {
      throw new SelectorError(`fieldSelector: unsupported field "${m[1]}"; supported: ${FIELD_PATHS.join(', ')}`)
    }
    out.push({ path: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! })
  }
  return out
}

/** True when the object satisfies every field requirement. */
export function matchFields(reqs: { path: string; op: '=' | '!='; value: string }[], obj: ApiObject): boolean {
  return reqs.every((r) => {
    let v: unknown = obj
    for (const seg of r.path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined
    const text = v === undefined || v === null ? '' : String(v)
    return r.op === '=' ? text === r.value : text !== r.value
  })
}
