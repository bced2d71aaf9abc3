/**
 * The manifest source port (DESIGN §6 "Daemon"): where the desired set comes from. A source
 * loads and validates its inputs as a whole (all-or-nothing, like `validate`); the engine keeps
 * the last good set and only ever reconciles a set that loaded without errors.
 *
 * Sources today: static paths (`-f`, loaded once per command) and watched paths (chokidar).
 * A git source (GitOps) fits the same port: `load()` fetches and checks out, `revision` is
 * `<branch>@sha1:<sha>`, `watch()` polls and listens for webhooks.
 */
import type { ManifestError, ManifestSet } from '../../model/types.js'

/** A successful load: the whole validated set and its revision. */
export interface SourceLoaded {
  ok: true
  set: ManifestSet
  /** `<branch>@sha1:<sha>` or `local@sha256:<12 hex>` (./revision.ts). */
  revision: string
  warnings: ManifestError[]
}

/** A failed load: every located error; nothing of it may be applied. */
export interface SourceRejected {
  ok: false
  errors: ManifestError[]
  warnings: ManifestError[]
}

export type SourceLoad = SourceLoaded | SourceRejected

/** A place manifests come from. */
export interface ManifestSource {
  /** `paths` (static `-f`), `watch` (a watched folder); `git` comes with GitOps. */
  readonly kind: 'paths' | 'watch' | 'git'
  /** The inputs as given (absolute paths, or a repository URL), for logs and `get sources`. */
  readonly inputs: readonly string[]
  /** Loads and validates every input; never throws for bad input (errors are in the result). */
  load(): Promise<SourceLoad>
  /**
   * Starts noticing changes (only sources that can change): `onChange` is called, debounced,
   * when the inputs may differ; the engine then calls `load()`. Resolves with a stop function
   * once watching is ready.
   */
  watch?(onChange: () => void): Promise<() => Promise<void>>
}
