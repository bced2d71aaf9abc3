/** Test helper: runs the real CLI entry in-process with captured streams. */
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { main } from '../../src/cli/main.js'

const ROOT = join(import.meta.dirname, '..', '..')

/** Runs the CLI in-process with captured output. */
export async function runCli(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk))
        cb()
      },
    })
  const code = await main(args, {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    stdin: Readable.from([]),
    env,
    cwd,
  })
  return { code, stdout, stderr }
}

