/**
 * `proximity completion` and `--help` width. The bash script is run by the real bash (complete
 * -F function called as bash-completion would call it); zsh and fish scripts are checked for
 * every command path of the tree (those shells are not installed on the test machine).
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { buildProgram, main } from '../../src/cli/main.js'
import { completionTree } from '../../src/cli/completion.js'

async function cli(argv: string[], stdoutExtra: { isTTY?: boolean; columns?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = Object.assign(new PassThrough(), stdoutExtra)
  const stderr = new PassThrough()
  let out = ''
  let errText = ''
  stdout.on('data', (d: Buffer) => (out += d.toString()))
  stderr.on('data', (d: Buffer) => (errText += d.toString()))
  const code = await main(argv, { stdout, stderr, env: {}, cwd: '/', stdin: new PassThrough() })
  return { code, stdout: out, stderr: errText }
}

/** Runs the bash completion function for `words` (the last one is being completed). */
function bashComplete(script: string, words: string[], cwd: string): Promise<string[]> {
  const program = [
    script,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    '_proximity',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n')
  return new Promise((resolve, reject) => {
    execFile('bash', ['--norc', '--noprofile', '-c', program], { cwd }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${e.message}\n${stderr}`))
      else resolve(stdout.split('\n').filter(Boolean).sort())
    })
  })
}

describe('proximity completion bash (run by the real bash)', () => {
  const cases: { name: string; reason: string; words: string[]; want: { has?: string[]; exactly?: string[]; not?: string[] } }[] = [
    { name: 'commands', reason: 'the first word offers every command and the global flags', words: ['proximity', ''], want: { has: ['validate', 'plan', 'apply', 'get', 'describe', 'events', 'logs', 'sandbox', 'secret', 'catalog', 'completion', '--help', '--version'], not: ['help'] } },
    { name: 'prefix', reason: 'a prefix narrows the choice', words: ['proximity', 'ca'], want: { exactly: ['catalog'] } },
    { name: 'get resources', reason: 'get offers the resource words from its argument, and its flags', words: ['proximity', 'get', ''], want: { has: ['apps', 'appliances', 'backuppolicies', 'restores', '--output', '-o', '--state-dir'] } },
    { name: 'describe resources', reason: 'describe offers the singular resource words', words: ['proximity', 'describe', 'ap'], want: { exactly: ['app', 'appliance'] } },
    { name: 'output values', reason: 'after -o come the formats that command supports', words: ['proximity', 'get', '-o', ''], want: { exactly: ['json', 'wide', 'yaml'] } },
    { name: 'subcommands', reason: 'a command group offers its subcommands', words: ['proximity', 'sandbox', ''], want: { has: ['start', 'reset', '--help'] } },
    { name: 'sub flags', reason: 'a subcommand offers its own flags, after a flag value is skipped', words: ['proximity', 'sandbox', 'start', '--listen', '127.0.0.1:0', '--no'], want: { exactly: ['--nodes'] } },
    { name: 'file values', reason: '-f takes a path: complete file names', words: ['proximity', 'plan', '-f', 'home'], want: { exactly: ['homelab'] } },
    { name: 'completion shells', reason: 'completion offers the shells', words: ['proximity', 'completion', ''], want: { has: ['bash', 'zsh', 'fish'] } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, async () => {
      const r = await cli(['completion', 'bash'])
      expect(r.code).toBe(0)
      const dir = await mkdtemp(join(tmpdir(), 'proximity-completion-'))
      try {
        await writeFile(join(dir, 'homelab'), '')
        const got = await bashComplete(r.stdout, c.words, dir)
        if (c.want.exactly) expect(got).toEqual(c.want.exactly)
        for (const w of c.want.has ?? []) expect(got, w).toContain(w)
        for (const w of c.want.not ?? []) expect(got, w).not.toContain(w)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})

describe('proximity completion zsh|fish', () => {
  const sink = new PassThrough()
  const tree = completionTree(buildProgram({ stdout: sink, stderr: sink, stdin: sink, env: {}, cwd: '/', exitCode: 0 }))

  it('zsh: a compdef script that knows every command path and flag', async () => {
    const r = await cli(['completion', 'zsh'])
    expect(r.code).toBe(0)
    expect(r.stdout.startsWith('#compdef proximity\n')).toBe(true)
    for (const n of tree.filter((x) => x.path.length > 0)) expect(r.stdout, n.path.join(' ')).toContain(`'${n.path.join(' ')}'`)
    for (const n of tree) for (const f of n.flags) for (const name of f.names) expect(r.stdout, name).toContain(name)
    expect(r.stdout).not.toMatch(/local path=/) // zsh ties $path to $PATH
  })

  it('fish: one complete line per subcommand, with descriptions and resource words', async () => {
    const r = await cli(['completion', 'fish'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("complete -c proximity -n '__fish_use_subcommand' -a logs -d 'show the container logs of an App'")
    expect(r.stdout).toContain("complete -c proximity -n '__fish_seen_subcommand_from get' -a backuppolicies")
    expect(r.stdout).toContain("complete -c proximity -n '__fish_seen_subcommand_from sandbox; and __fish_seen_subcommand_from start' -l nodes -r")
    for (const n of tree) for (const s of n.subcommands) expect(r.stdout, s.name).toContain(`-a ${s.name} -d `)
  })

  it('refuses an unknown shell', async () => {
    const r = await cli(['completion', 'powershell'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('error: unknown shell "powershell"; use one of: bash, zsh, fish\n')
  })
})

describe('--help wraps to the terminal width', () => {
  const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length))
  it('uses the columns of a TTY', async () => {
    const narrow = await cli(['plan', '--help'], { isTTY: true, columns: 60 })
    expect(narrow.code).toBe(0)
    expect(widest(narrow.stdout)).toBeLessThanOrEqual(60)
    const wide = await cli(['plan', '--help'], { isTTY: true, columns: 160 })
    expect(widest(wide.stdout)).toBeGreaterThan(80)
  })
  it('uses 80 columns when stdout is not a TTY, whatever columns says', async () => {
    const piped = await cli(['apply', '--help'], { columns: 40 })
    expect(widest(piped.stdout)).toBeLessThanOrEqual(80)
    expect(widest(piped.stdout)).toBeGreaterThan(60)
  })
})
