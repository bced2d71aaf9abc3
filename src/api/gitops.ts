/**
 * The GitOps side of `serve --git` around the engine: the git source's status in the store
 * (`Source/git`: URL without credentials, ref, head, last fetch, conditions Ready, SourceStale,
 * Stalled), its metrics, the webhook receivers with their delivery log, and notifications of
 * each revision's outcome once its objects settled.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GitSource } from '../engine/sources/git.js'
import type { Engine } from '../engine/types.js'
import type { EngineMetrics } from '../runtime/metrics.js'
import { removeCondition, setCondition } from '../runtime/conditions.js'
import { formatError } from '../manifest/format.js'
import type { Condition } from '../store/types.js'
import type { WebhookOptions } from './webhooks.js'
import type { DeliveryLog } from './delivery-log.js'
import type { RevisionOutcome, ReceiverConfig } from '../providers/notify/notifier.js'

/** The flags of `serve --git` that GitOps reads. */
export interface GitOpsFlags {
  ref?: string
  webhookSecretFile?: string
  notifyWebhook?: string
  notifySecretFile?: string
  commitStatusApi?: string
  commitStatusRepo?: string
  commitStatusTokenFile?: string
}

export interface GitOps {
  webhooks?: WebhookOptions
  deliveries: () => Record<string, unknown>[]
  sourceInfo: () => Record<string, unknown>
  close(): void
}

export interface GitOpsDeps {
  /** PROXIMITY_WEBHOOK_SECRET when no secret file is given. */
  envSecret?: string
  flags: GitOpsFlags
  engine: Engine
  git: GitSource
  stateDir: string
  metrics: EngineMetrics
  log: { info(o: object, m: string): void; warn(o: object, m: string): void }
}

/** Follows the git source: status, metrics, webhooks, notifications. */
export async function setupGitOps(d: GitOpsDeps): Promise<GitOps> {
  const { engine, git, metrics, log, flags } = d
  const { createDeliveryLog } = await import('./delivery-log.js')
  const deliveries: DeliveryLog = createDeliveryLog({ file: join(d.stateDir, 'deliveries.json') })
  const secretText = flags.webhookSecretFile ? (await readFile(flags.webhookSecretFile, 'utf8')).trim() : d.envSecret
  if (flags.webhookSecretFile !== undefined && !secretText) throw new Error(`the webhook secret file ${flags.webhookSecretFile} is empty`)

  const record = (): void => {
    const s = git.status()
    const prev = engine.store.getStatus('Source/git')
    const at = new Date().toISOString()
    let conditions: Condition[] = prev?.conditions ?? []
    const invalid = s.invalidCommit !== undefined
    conditions = setCondition(
      conditions,
      s.lastError
        ? { type: 'Ready', status: 'False', reason: 'FetchFailed', message: `${s.lastError}; still reconciling ${s.lastGood ?? 'nothing yet'}` }
        : invalid
          ? { type: 'Ready', status: 'False', reason: 'SourceInvalid', message: `commit ${s.invalidCommit} does not validate (proximity describe source git); still reconciling ${s.lastGood ?? 'nothing yet'}` }
          : { type: 'Ready', status: 'True', reason: 'Succeeded', message: `fetched ${s.head ?? ''}` },
      at,
      1,
    )
    // The engine rejected the fetched head: name the commit and the first located error here
    // too, so `describe source git` says why without reading Source/manifests.
    const rejected = engine.sourceState().invalid
    conditions =
      invalid && rejected
        ? setCondition(
            conditions,
            {
              type: 'SourceInvalid',
              status: 'True',
              reason: 'ValidationFailed',
              message: `commit ${s.invalidCommit} not applied: ${formatError(rejected.errors[0]!)}${rejected.errors.length > 1 ? ` (and ${rejected.errors.length - 1} more)` : ''}`,
            },
            at,
            1,
          )
        : removeCondition(conditions, 'SourceInvalid')
    conditions = s.stale
      ? setCondition(conditions, { type: 'SourceStale', status: 'True', reason: 'NoRecentFetch', message: `no fetch has succeeded since ${s.lastFetchOkAt ?? 'start'}: ${s.lastError ?? ''}` }, at, 1)
      : removeCondition(conditions, 'SourceStale')
    conditions = s.stalled
      ? setCondition(conditions, { type: 'Stalled', status: 'True', reason: 'FetchFailed', message: `${s.consecutiveFailures} fetches failed in a row: ${s.lastError ?? ''}` }, at, 1)
      : removeCondition(conditions, 'Stalled')
    engine.store.putStatus({
      key: 'Source/git',
      kind: 'Source',
      name: 'git',
      generation: 1,
      observedGeneration: 1,
      conditions,
      ...(s.lastGood ? { lastAppliedRevision: s.lastGood } : {}),
      ...(s.head ? { lastAttemptedRevision: s.head } : {}),
      history: [],
      createdAt: prev?.createdAt ?? at,
      updatedAt: at,
      extra: { url: s.url, ref: s.ref ?? '(default branch)', path: s.path ?? '', head: s.head ?? '', lastFetchAt: s.lastFetchAt ?? '', lastFetchOkAt: s.lastFetchOkAt ?? '', ...(s.lastFetchDurationMs !== undefined ? { lastFetchDurationMs: s.lastFetchDurationMs } : {}), ...(s.lastError ? { lastError: s.lastError } : {}), ...(s.invalidCommit ? { invalidCommit: s.invalidCommit } : {}), consecutiveFailures: s.consecutiveFailures },
    })
    metrics.sourceFetched(s.lastFetchOkAt ? Date.parse(s.lastFetchOkAt) : undefined, s.head, s.stale)
  }
  record()
  // Fetches happen on the source's own timer; the status follows every change of the engine's
  // source state and, at least, every half minute (a stalled poller shows up as stale).
  const timer = setInterval(record, 30_000)
  timer.unref()

  // Notifications: the outcome of each new revision once its objects settled.
  const notifier = await makeNotifier(d)
  const notified = new Set<string>()
  const settleThenNotify = async (revision: string, invalidCommit?: string): Promise<void> => {
    if (!notifier || notified.has(revision)) return
    notified.add(revision)
    let outcome: RevisionOutcome
    if (invalidCommit) {
      outcome = { revision, sha: invalidCommit, result: 'invalid', objects: [], summary: 'the manifests of this commit do not validate; the previous revision keeps running', time: new Date().toISOString() }
    } else {
      const deadline = Date.now() + 15 * 60_000
      while (Date.now() < deadline) {
        const m = engine.metrics()
        if (m.depth === 0 && m.inFlight === 0) break
        await new Promise((r) => setTimeout(r, 500))
      }
      const { set } = engine.current()
      const keys = [...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores].map((m) => `${m.kind}/${m.metadata.name}`)
      const failed: RevisionOutcome['objects'] = []
      let rolledBack = false
      for (const k of keys) {
        const s = engine.store.getStatus(k)
        const ready = s?.conditions.find((c) => c.type === 'Ready')
        if (s?.conditions.some((c) => c.type === 'UpdateRolledBack' && c.status === 'True')) rolledBack = true
        if (ready?.status !== 'True') failed.push({ key: k, reason: ready?.reason ?? 'Unknown', message: (ready?.message ?? '').slice(0, 200) })
      }
      const sha = /@sha1:([0-9a-f]{40})$/.exec(revision)?.[1]
      outcome = {
        revision,
        ...(sha ? { sha } : {}),
        result: failed.length === 0 ? 'applied' : rolledBack ? 'rolled back' : 'failed',
        objects: failed,
        summary: failed.length === 0 ? `all ${keys.length} objects ready` : `${failed.length} of ${keys.length} objects not ready`,
        time: new Date().toISOString(),
      }
    }
    const results = await notifier.notify(outcome)
    for (const r of results) log.info({ receiver: r.receiver, ok: r.ok, revision }, r.ok ? 'notification sent' : 'notification not delivered')
  }
  const off = engine.on((e) => {
    if (e.type === 'source') {
      record()
      const s = git.status()
      if (s.invalidCommit && s.head) void settleThenNotify(s.head, s.invalidCommit)
    }
    if (e.type === 'revision') void settleThenNotify(e.revision)
  })

  const webhooks: WebhookOptions | undefined = secretText
    ? {
        secret: Buffer.from(secretText),
        sourceRef: () => flags.ref ?? git.status().head?.replace(/@sha1:[0-9a-f]+$/, ''),
        nudge: (n, done) => {
          log.info({ provider: n.provider, delivery: n.deliveryId, ref: n.ref }, 'webhook accepted: fetching now')
          git.nudge((revision, error) => {
            record()
            // What the delivery led to, with the fetch time (the git commands alone).
            log.info({ delivery: n.deliveryId, revision, fetchMs: git.status().lastFetchDurationMs, ...(error ? { error } : {}) }, 'webhook fetch done')
            done(revision, error)
          })
        },
        log: deliveries,
      }
    : undefined
  return {
    ...(webhooks ? { webhooks } : {}),
    deliveries: () => deliveries.list() as unknown as Record<string, unknown>[],
    sourceInfo: () => {
      const s = git.status()
      return { git: { url: s.url, ref: s.ref, path: s.path, head: s.head, lastAppliedRevision: s.lastGood, lastFetchAt: s.lastFetchAt, lastFetchOkAt: s.lastFetchOkAt, lastFetchDurationMs: s.lastFetchDurationMs, stale: s.stale, stalled: s.stalled, ...(s.lastError ? { lastError: s.lastError } : {}) } }
    },
    close() {
      clearInterval(timer)
      off()
    },
  }
}

async function makeNotifier(d: GitOpsDeps) {
  const f = d.flags
  const receivers: ReceiverConfig[] = []
  if (f.notifyWebhook) receivers.push({ type: 'webhook', url: f.notifyWebhook, ...(f.notifySecretFile ? { secretFile: f.notifySecretFile } : {}) })
  if (f.commitStatusApi && f.commitStatusRepo && f.commitStatusTokenFile) receivers.push({ type: 'commit-status', api: f.commitStatusApi, repo: f.commitStatusRepo, tokenFile: f.commitStatusTokenFile })
  if (receivers.length === 0) return undefined
  const { createNotifier } = await import('../providers/notify/notifier.js')
  return createNotifier({ receivers, onError: (r, m) => d.log.warn({ receiver: r }, m) })
}
