import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createWatchedSource } from '../../src/engine/sources/watch.js'
import { formatError } from '../../src/manifest/format.js'
import { appYaml, tempDir } from '../e2e/helpers.js'

/** Resolves on the next onChange of a watch started with `next.arm`. */
function changes(): { onChange: () => void; next: () => Promise<void>; count: () => number } {
  let n = 0
  let waiter: (() => void) | undefined
  return {
    onChange: () => {
      n++
      waiter?.()
      waiter = undefined
    },
    next: () => new Promise<void>((done) => (waiter = done)),
    count: () => n,
  }
}

describe('watched manifest source', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('reports a rename-over save in a nested folder and loads the new content as a whole', async () => {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    const nested = join(t.dir, 'apps', 'team')
    await mkdir(nested, { recursive: true })
    await writeFile(join(nested, 'web.yaml'), appYaml('web', { memory: 256 }))
    const source = createWatchedSource({ paths: ['apps'], cwd: t.dir, debounceMs: 50 })
    const first = await source.load()
    expect(first.ok && first.set.apps.map((a) => a.spec.resources.memory)).toEqual([256])
    const c = changes()
    const stop = await source.watch!(c.onChange)
    cleanups.push(stop)
    // An editor's atomic save: write a temp file beside it, then rename it over the original.
    const seen = c.next()
    await writeFile(join(nested, '.web.yaml.tmp'), appYaml('web', { memory: 512 }))
    await rename(join(nested, '.web.yaml.tmp'), join(nested, 'web.yaml'))
    await seen
    const second = await source.load()
    expect(second.ok && second.set.apps.map((a) => a.spec.resources.memory)).toEqual([512])
    expect(second.ok && first.ok && second.revision !== first.revision).toBe(true)
  })

  it('rejects a set with one broken file, with the error located as validate prints it', async () => {
    const t = await tempDir()
    cleanups.push(t.cleanup)
    await mkdir(join(t.dir, 'apps'))
    await writeFile(join(t.dir, 'apps', 'web.yaml'), appYaml('web'))
    const source = createWatchedSource({ paths: ['apps'], cwd: t.dir, debounceMs: 50 })
    const c = changes()
    cleanups.push(await source.watch!(c.onChange))
    const seen = c.next()
    await writeFile(join(t.dir, 'apps', 'broken.yaml'), appYaml('db').replace('memory: 256', 'memory: lots'))
    await seen
    const res = await source.load()
    expect(res.ok).toBe(false)
    if (res.ok) return
    expect(res.errors.map((e) => formatError(e))).toEqual([expect.stringMatching(/broken\.yaml:\d+:\d+: App\/db: spec\.resources\.memory: /)])
  })
})
