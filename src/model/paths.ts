import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/**
 * The package root (the folder holding package.json), found by walking up from this module.
 * Works from `src/` (vitest) and from `dist/src/` (the built CLI), so data files such as
 * `schemas/*.json` and the catalog can be read at run time without copying them into dist.
 */
export function packageRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) {
      cached = dir
      return dir
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the proximity package root (package.json + schemas/)')
    dir = up
  }
}
