/**
 * The watched paths source (`serve -f`): the same load as the static source, plus a chokidar
 * watcher on every input (folders recursively). Changes are debounced into one `onChange`, so
 * an editor that saves by writing a temp file and renaming it over the original (vim, JetBrains,
 * atomic writers) yields one reload of the finished file, not a half-written one.
 */
import { resolve } from 'node:path'
import type { ManifestSource } from './types.js'
import { loadPaths, type PathsSourceOptions } from './paths.js'

export interface WatchedSourceOptions extends PathsSourceOptions {
  /** Quiet time after the last file event before `onChange` fires. @default 300 */
  debounceMs?: number
}

/** Paths an editor writes beside the real file while saving (never manifests). */
const EDITOR_TEMP = /(^|[/\\])(\.#.*|#.*#|.*~|.*\.sw[a-p]|.*\.tmp|\.goutputstream-.*|4913)$/

/** Creates a watched source over `paths`. */
export function createWatchedSource(opts: WatchedSourceOptions): ManifestSource {
  const abs = opts.paths.map((p) => resolve(opts.cwd, p))
  return {
    kind: 'watch',
    inputs: abs,
    load: () => loadPaths(abs, opts),
    async watch(onChange) {
      const { watch } = await import('chokidar')
      const debounceMs = opts.debounceMs ?? 300
      let timer: NodeJS.Timeout | undefined
      const fire = (path: string): void => {
        if (EDITOR_TEMP.test(path)) return
        if (timer) clearTimeout(timer)
        timer = setTimeout(() => {
          timer = undefined
          onChange()
        }, debounceMs)
      }
      const watcher = watch(abs, {
        ignoreInitial: true,
        persistent: true,
        // A file replaced by rename gets a new inode: wait until its size settles, then report it.
        awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
        ignored: (p: string) => /(^|[/\\])\.git([/\\]|$)/.test(p),
      })
      watcher.on('all', (_event, path) => fire(path))
      await new Promise<void>((done, fail) => {
        watcher.once('ready', () => done())
        watcher.once('error', (e) => fail(e))
      })
      return async () => {
        if (timer) clearTimeout(timer)
        await watcher.close()
      }
    },
  }
}
