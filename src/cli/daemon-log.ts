/**
 * Structured logs of `proximity serve` (pino): JSON lines when stderr is not a TTY (log
 * collectors, journald, docker logs), short readable lines on a TTY. Every message and string
 * field passes through redactSecrets, and fields that may carry credentials are censored by
 * pino's own redaction, so a log never contains a secret.
 */
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { redactSecrets } from '../store/redact.js'
import type { RuntimeLogger } from '../runtime/logger.js'

export interface DaemonLog {
  /** The pino logger (fields first, message last, as pino takes them). */
  pino: Logger
  /** The same logger as the runtime's logging port. */
  runtime: RuntimeLogger
  /** Writes what is buffered. */
  flush(): void
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** Turns pino's JSON lines into `HH:MM:SS level message key=value…` lines for people. */
function readableLines(out: Writable): Writable {
  let buf = ''
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      buf += chunk.toString()
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try {
          const rec = JSON.parse(line) as Record<string, unknown>
          const { time, level, msg, pid: _pid, hostname: _host, err, ...rest } = rec
          const when = new Date(Number(time)).toISOString().slice(11, 19)
          const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          const stack = err && typeof err === 'object' && 'stack' in err ? `\n${String((err as { stack: unknown }).stack)}` : ''
          out.write(`${when} ${(LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}${stack}\n`)
        } catch {
          out.write(`${line}\n`)
        }
      }
      done()
    },
  })
}

/** Creates the daemon's logger on `stream`; `tty` picks readable lines over JSON. */
export function createDaemonLog(stream: Writable & { isTTY?: boolean }, opts: { tty?: boolean; level?: string } = {}): DaemonLog {
  const tty = opts.tty ?? stream.isTTY === true
  const dest = tty ? readableLines(stream) : stream
  const log = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      redact: { paths: ['password', 'tokenSecret', 'privateKey', 'secret', '*.password', '*.tokenSecret', '*.privateKey', '*.secret'], censor: '(redacted)' },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>,
          )
        },
      },
      formatters: {
        log(obj) {
          const out: Record<string, unknown> = {}
          for (const [k, v] of Object.entries(obj)) out[k] = typeof v === 'string' ? redactSecrets(v) : v
          return out
        },
      },
      serializers: {
        err: (e: unknown) => (e instanceof Error ? { type: e.name, message: redactSecrets(e.message), stack: redactSecrets(e.stack ?? '') } : e),
      },
    },
    dest,
  )
  const runtime: RuntimeLogger = {
    error: (message, err) => (err instanceof Error ? log.error({ err }, message) : log.error(message)),
    warn: (message) => log.warn(message),
    info: (message) => log.info(message),
  }
  return { pino: log, runtime, flush: () => log.flush() }
}
