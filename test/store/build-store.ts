/**
 * Test helper: transpiles src/store/*.ts (no type check, a few ms) into a temp folder so child
 * processes can import the real store with plain `node` — no tsx, no dist build needed.
 */
import { mkdtemp, readdir, readFile, symlink, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Returns the path of the transpiled state-store.js in a fresh temp folder. */
export async function buildStoreForChildren(): Promise<{ dir: string; storeModule: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'proximity-store-build-'))
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n')
  const out = join(dir, 'src/store')
  await mkdir(out, { recursive: true })
  for (const name of await readdir(join(root, 'src/store'))) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue
    const src = await readFile(join(root, 'src/store', name), 'utf8')
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: name,
    }).outputText
    await writeFile(join(out, name.replace(/\.ts$/, '.js')), js)
  }
  return { dir, storeModule: join(out, 'state-store.js') }
}
