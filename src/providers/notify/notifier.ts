/**
 * Notifications back (GitOps): the outcome of each revision, sent to configured receivers.
 * - `webhook`: a JSON POST signed like the inbound hooks (`X-Signature: sha256=<hex HMAC>` over the
 *   raw body, plus `X-Proximity-Event` and a delivery id), retried with exponential backoff.
 * - `commit-status`: the Gitea/GitHub status API, `POST {api}/repos/{owner}/{repo}/statuses/{sha}`
 *   with a bearer token from a file, so the commit shows success/failure in the forge's UI.
 * Nothing secret is in a notification: object keys, reasons and short messages only (callers pass
 * redacted text). Sending never throws; failures are reported to `onError`.
 */
import { createHmac, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'

/** What happened to one revision. */
export interface RevisionOutcome {
  revision: string
  /** The commit sha when the source is git. */
  sha?: string
  result: 'applied' | 'failed' | 'rolled back' | 'invalid'
  /** Objects that failed or rolled back, with a short reason. */
  objects: { key: string; reason: string; message?: string }[]
  summary: string
  time: string
}

export type ReceiverConfig =
  | { type: 'webhook'; url: string; secretFile?: string; secret?: string }
  | { type: 'commit-status'; api: string; repo: string; tokenFile: string; context?: string; targetUrl?: string }

export interface NotifierOptions {
  receivers: ReceiverConfig[]
  /** Attempts per notification. @default 5 */
  attempts?: number
  /** First retry delay, doubled each time. @default 1000 */
  baseDelayMs?: number
  timeoutMs?: number
  sleep?: (ms: number) => Promise<void>
  onError?: (receiver: string, message: string) => void
}

export interface Notifier {
  /** Sends to every receiver; resolves when all are delivered or given up. */
  notify(outcome: RevisionOutcome): Promise<{ receiver: string; ok: boolean; attempts: number }[]>
}

/** The receiver as it may be shown (no credentials, no query). */
export function receiverName(r: ReceiverConfig): string {
  try {
    const u = new URL(r.type === 'webhook' ? r.url : r.api)
    return `${r.type} ${u.protocol}//${u.host}${u.pathname}${r.type === 'commit-status' ? ` (${r.repo})` : ''}`
  } catch {
    return r.type
  }
}

const STATE: Record<RevisionOutcome['result'], string> = { applied: 'success', failed: 'failure', 'rolled back': 'failure', invalid: 'error' }

export function createNotifier(opts: NotifierOptions): Notifier {
  const attempts = opts.attempts ?? 5
  const base = opts.baseDelayMs ?? 1000
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const timeoutMs = opts.timeoutMs ?? 10_000

  async function send(r: ReceiverConfig, o: RevisionOutcome): Promise<{ status: number; retry: boolean }> {
    if (r.type === 'webhook') {
      const secret = r.secret ?? (r.secretFile ? (await readFile(r.secretFile, 'utf8')).trim() : undefined)
      const body = JSON.stringify({ kind: 'RevisionOutcome', ...o })
      const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Proximity-Event': 'revision', 'X-Delivery-Id': randomUUID(), 'User-Agent': 'proximity' }
      if (secret) headers['X-Signature'] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
      const res = await fetch(r.url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' })
      await res.arrayBuffer().catch(() => undefined)
      return { status: res.status, retry: res.status >= 500 || res.status === 429 || res.status === 408 }
    }
    if (!o.sha) return { status: 0, retry: false }
    if (!/^[\w.-]+\/[\w.-]+$/.test(r.repo)) throw new Error(`repo "${r.repo}" must be owner/name`)
    const token = (await readFile(r.tokenFile, 'utf8')).trim()
    const url = `${r.api.replace(/\/+$/, '')}/repos/${r.repo}/statuses/${o.sha}`
    const description = `${o.result}: ${o.summary}`.slice(0, 140)
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ state: STATE[o.result], context: r.context ?? 'proximity', description, ...(r.targetUrl ? { target_url: r.targetUrl } : {}) }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, Accept: 'application/json', 'User-Agent': 'proximity' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    })
    await res.arrayBuffer().catch(() => undefined)
    return { status: res.status, retry: res.status >= 500 || res.status === 429 || res.status === 408 }
  }

  return {
    async notify(outcome) {
      return Promise.all(
        opts.receivers.map(async (r) => {
          const name = receiverName(r)
          for (let i = 1; i <= attempts; i++) {
            let retry = true
            let why = ''
            try {
              const res = await send(r, outcome)
              if (res.status === 0) return { receiver: name, ok: true, attempts: 0 }
              if (res.status >= 200 && res.status < 300) return { receiver: name, ok: true, attempts: i }
              retry = res.retry
              why = `HTTP ${res.status}`
            } catch (e) {
              why = e instanceof Error ? e.message : String(e)
            }
            if (!retry || i === attempts) {
              opts.onError?.(name, `notification for ${outcome.revision} not delivered after ${i} attempt(s): ${why}`)
              return { receiver: name, ok: false, attempts: i }
            }
            await sleep(base * 2 ** (i - 1))
          }
          return { receiver: name, ok: false, attempts }
        }),
      )
    },
  }
}
