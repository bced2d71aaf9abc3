/** The SSH node-shell adapter: pool factory, command builders and typed errors. */
export { createNodeShellPool, fingerprintOf } from './client.js'
export type { NodeShellPoolOptions, SshAuditEvent, SshNodeShell, SshNodeShellPool } from './client.js'
export { SshError, SshHostKeyMismatchError, isTransientSshError } from './errors.js'
export type { SshErrorCode } from './errors.js'
export { shellQuote, FEATURE_KEYS } from './commands.js'
export type { ExecResult, NodeShell, NodeShellPool, PctExecOptions, PctExecStreamOptions } from './types.js'
export { composeLogsArgv, type ComposeLogsOptions } from './commands.js'
