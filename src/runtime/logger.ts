/** The runtime's logging port: bugs (unexpected errors) go here with their stack, never to status. */
import { redactSecrets } from '../store/redact.js'

export interface RuntimeLogger {
  error(message: string, err?: unknown): void
  warn(message: string): void
  info(message: string): void
}

/** Logs errors and warnings to stderr (secret-looking values redacted); info is dropped. */
export const stderrLogger: RuntimeLogger = {
  error(message, err) {
    const stack = err instanceof Error ? `\n${err.stack ?? err.message}` : err !== undefined ? `\n${String(err)}` : ''
    process.stderr.write(`${redactSecrets(message + stack)}\n`)
  },
  warn(message) {
    process.stderr.write(`warning: ${redactSecrets(message)}\n`)
  },
  info() {},
}
