/**
 * The Proxmox provider: the `PveClient` port (types.ts), its HTTPS implementation
 * (`createPveClient`), the request engine, typed errors and pure helpers.
 */
export * from './types.js'
export { createPveClient, type PveAuditEntry, type PveClientOptions, type PveHttpClient } from './client.js'
export { PveEngine, type PveAuth, type PveEngineOptions, type PveRequestEvent, type PveRequestOptions, type PveRetryOptions } from './engine.js'
export { PveAbortError, PveApiError, PveTaskError, PveTaskTimeoutError, type PveErrorKind } from './errors.js'
export { createPveAgent, fingerprintOf, normalizeFingerprint, TlsPinMismatchError, type PveTlsOptions } from './tls.js'
export { formatProxmoxSize, isUpid, parseProxmoxSize, parseUpid, type ParsedUpid } from './upid.js'
export { isTaskSuccess, readTaskLog, readTaskLogTail, waitForTask, type TaskLogLine, type WaitTaskExtraOptions } from './wait-task.js'
export { namedPathTemplate } from './path-template.js'
export { encodeParams, parseEndpoint, PVE_CONTENT_TYPE, type PveEnvelope } from './wire.js'
