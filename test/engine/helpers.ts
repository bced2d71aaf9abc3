/**
 * Builds the engine exactly as the CLI does (src/engine/open.ts) over a folder of manifests
 * pointing at the in-process simulator, for engine-level tests.
 */
import { join } from 'node:path'
import { openEngine, type OpenEngineOptions, type OpenedEngine } from '../../src/engine/open.js'
import { createPathsSource } from '../../src/engine/sources/paths.js'
import { createWatchedSource } from '../../src/engine/sources/watch.js'
import type { EngineEvent } from '../../src/engine/types.js'

/** Opens an engine over `paths` (relative to `dir`); state in `<dir>/state`. */
export async function openTestEngine(
  dir: string,
  paths: string[],
  opts: { watch?: boolean } & Partial<Omit<OpenEngineOptions, 'source' | 'initial'>> = {},
): Promise<OpenedEngine> {
  const source = opts.watch ? createWatchedSource({ paths, cwd: dir, debounceMs: 50 }) : createPathsSource({ paths, cwd: dir })
  const initial = await source.load()
  if (!initial.ok) throw new Error(`test manifests do not load: ${JSON.stringify(initial.errors)}`)
  // Messages are dropped; a bug would still fail the test through its outcome.
  const quiet = { error: () => {}, warn: () => {}, info: () => {} }
  return openEngine({ stateDir: join(dir, 'state'), env: {}, cwd: dir, announce: () => {}, logger: quiet, backoff: { baseMs: 10, maxMs: 200 }, ...opts, source, initial })
}

/** Resolves with the first engine event matching `pred`. */
export function nextEvent<T extends EngineEvent>(engine: OpenedEngine, pred: (e: EngineEvent) => e is T): Promise<T>
export function nextEvent(engine: OpenedEngine, pred: (e: EngineEvent) => boolean): Promise<EngineEvent>
export function nextEvent(engine: OpenedEngine, pred: (e: EngineEvent) => boolean): Promise<EngineEvent> {
  return new Promise((done) => {
    const off = engine.on((e) => {
      if (!pred(e)) return
      off()
      done(e)
    })
  })
}

/** Resolves once the running loop has started and has nothing queued or in flight. */
export async function idle(engine: OpenedEngine): Promise<void> {
  while (!engine.ready()) await new Promise((r) => setTimeout(r, 10))
  for (;;) {
    const m = engine.metrics()
    if (m.depth === 0 && m.inFlight === 0) return
    await new Promise((r) => setTimeout(r, 10))
  }
}
