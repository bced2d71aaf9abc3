/**
 * Where a command keeps its state (store, audit log, lease copies, git clone, the sandbox):
 * the per-user state directory, one folder per target (DESIGN §6), never the folder the command
 * runs from nor a manifest repository.
 *
 * Order, first match wins:
 * 1. `--state-dir DIR` (relative to the working directory);
 * 2. `PROXIMITY_STATE_DIR` (relative to the working directory);
 * 3. an existing `./.proximity` holding a store (the old default), with a notice saying how to
 *    move it;
 * 4. `<state home>/<target>`, where the state home is `$XDG_STATE_HOME/proximity` (by default
 *    `~/.local/state/proximity`) and the target folder is `sandbox` for the built-in sandbox, or
 *    `<owner>-<host>-<port>-<hash>` for a Proxmox endpoint (see {@link targetFolderName}).
 *
 * The target comes from the Cluster manifest among the `-f` inputs (read lightly: only its
 * endpoint and owner), else `PROXIMITY_ENDPOINT`/`PROXIMITY_OWNER`, else the sandbox. Commands
 * without manifests (`get`, `describe`, `events`) use the target folder used most recently.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import { parseAllDocuments } from 'yaml'

/** The folder name of the built-in sandbox's state. */
export const SANDBOX_FOLDER = 'sandbox'

/**
 * When the store in `dir` was last written (src/store/state-store.ts: `state.json` snapshot,
 * `state.<gen>.log` op logs, `audit.log`), or undefined when `dir` holds no store.
 */
export async function storeWrittenAt(dir: string): Promise<number | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n === 'state.json' || n === 'audit.log' || /^state\.\d+\.log$/.test(n))
  let at: number | undefined
  for (const n of names) {
    const t = await stat(join(dir, n)).then((s) => s.mtimeMs, () => undefined)
    if (t !== undefined && (at === undefined || t > at)) at = t
  }
  return at
}

/** Who a command talks to, as far as the state folder is concerned. */
export type TargetIdentity = { sandbox: true } | { sandbox?: false; endpoint: string; owner: string }

/** The state dir a command uses, and what to tell the user about it (stderr lines). */
export interface StateDirChoice {
  dir: string
  /** How it was chosen. */
  from: 'flag' | 'environment' | 'legacy' | 'default'
  /** `notice:`/`warning:` lines for stderr (old location, inside a git work tree, several targets). */
  messages: string[]
}

/**
 * `$XDG_STATE_HOME/proximity` when XDG_STATE_HOME is an absolute path (the XDG spec ignores
 * relative values), else `$HOME/.local/state/proximity`; the OS home folder when there is no
 * HOME.
 */
export function stateHome(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_STATE_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'proximity')
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir()
  return join(home, '.local', 'state', 'proximity')
}

/**
 * The folder name of a target: `sandbox`, or a readable slug of owner, host and port plus four
 * hex digits of a hash of owner and endpoint (two endpoints that slug alike stay apart), e.g.
 * `homelab-pve.example.com-8006-3fa2`. Pure.
 */
export function targetFolderName(t: TargetIdentity): string {
  if (t.sandbox) return SANDBOX_FOLDER
  const endpoint = t.endpoint.trim().replace(/\/+$/, '')
  let host = endpoint
  let port = ''
  try {
    const u = new URL(endpoint)
    host = u.hostname.replace(/^\[|\]$/g, '')
    port = u.port || (u.protocol === 'http:' ? '80' : '443')
  } catch {
    // not a URL: the manifest loader reports it; the slug still names the folder
  }
  const slug = [t.owner, host, port]
    .filter((p) => p !== '')
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 80)
  const hash = createHash('sha256').update(`${t.owner}\n${endpoint}`).digest('hex').slice(0, 4)
  return `${slug || 'target'}-${hash}`
}

/**
 * The target named by the inputs: the first Cluster document found in the `-f` files (only
 * `spec.endpoint` and `spec.owner` are read; anything malformed is left to the manifest loader,
 * which reports it with its location), else the environment, else the sandbox.
 */
export async function targetOf(inputs: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<TargetIdentity> {
  const files = await yamlFiles(inputs, cwd)
  // Read in parallel batches (a plan of 1,000 files must not pay 1,000 sequential reads here).
  for (let i = 0; i < files.length; i += 64) {
    const texts = await Promise.all(files.slice(i, i + 64).map((f) => readFile(f, 'utf8').catch(() => '')))
    for (const text of texts) {
      if (!/^kind:\s*["']?Cluster["']?\s*(#.*)?$/m.test(text)) continue
      for (const doc of parseAllDocuments(text)) {
        const value = (doc as { toJS?: () => unknown }).toJS?.() as { kind?: unknown; spec?: { endpoint?: unknown; owner?: unknown } } | null | undefined
        if (value?.kind !== 'Cluster' || typeof value.spec?.endpoint !== 'string') continue
        return { endpoint: value.spec.endpoint, owner: typeof value.spec.owner === 'string' ? value.spec.owner : DEFAULT_OWNER }
      }
    }
  }
  if (env.PROXIMITY_ENDPOINT) return { endpoint: env.PROXIMITY_ENDPOINT, owner: env.PROXIMITY_OWNER || DEFAULT_OWNER }
  return { sandbox: true }
}

/** The Cluster schema's default owner (engine/target.ts CLUSTER_DEFAULTS). */
const DEFAULT_OWNER = 'proximity'

/** `.yaml`/`.yml` files under the inputs, in order (dotfiles and dot-folders skipped, as the loader does). */
async function yamlFiles(inputs: string[], cwd: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 32) return
    const entries = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const e of entries) {
      const p = join(dir, e.name)
      const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(p).then((s) => s.isDirectory(), () => false)))
      if (isDir) await walk(p, depth + 1)
      else if (/\.ya?ml$/i.test(e.name)) out.push(p)
    }
  }
  for (const i of inputs) {
    const p = resolve(cwd, i)
    const s = await stat(p).catch(() => undefined)
    if (s?.isDirectory()) await walk(p, 0)
    else if (s?.isFile()) out.push(p)
  }
  return out
}

/**
 * The target folder used most recently under the state home (by the time its store was last
 * written), for commands that take no manifests; undefined when there is none.
 */
async function mostRecentTarget(home: string): Promise<{ dir: string; others: string[] } | undefined> {
  const names = await readdir(home).catch(() => [] as string[])
  const found: { dir: string; at: number }[] = []
  for (const n of names) {
    const dir = join(home, n)
    const at = await storeWrittenAt(dir)
    if (at !== undefined) found.push({ dir, at })
  }
  found.sort((a, b) => b.at - a.at)
  const first = found[0]
  return first ? { dir: first.dir, others: found.slice(1).map((f) => f.dir) } : undefined
}

/** Options of {@link chooseStateDir}. */
export interface ChooseStateDirOptions {
  /** The `--state-dir` value, if given. */
  flag?: string
  env: NodeJS.ProcessEnv
  cwd: string
  /**
   * The `-f` inputs naming the target; `undefined` for commands that take no manifests (the
   * most recently used target folder is chosen, else the environment's, else the sandbox's).
   */
  inputs?: string[]
  /** The target is the sandbox whatever the inputs (`proximity sandbox …`). */
  sandbox?: boolean
  /** The command accepts `-f` (said in the hint to choose among several targets). @default false */
  takesManifests?: boolean
}

/** Chooses the state dir of a command (see the module comment). Reads the disk; writes nothing. */
export async function chooseStateDir(o: ChooseStateDirOptions): Promise<StateDirChoice> {
  const messages: string[] = []
  let choice: StateDirChoice
  if (o.flag !== undefined) {
    if (o.flag.trim() === '') throw new Error('--state-dir must name a folder, got an empty value')
    choice = { dir: resolve(o.cwd, o.flag), from: 'flag', messages }
  } else if (o.env.PROXIMITY_STATE_DIR !== undefined && o.env.PROXIMITY_STATE_DIR.trim() !== '') {
    choice = { dir: resolve(o.cwd, o.env.PROXIMITY_STATE_DIR), from: 'environment', messages }
  } else {
    const home = stateHome(o.env)
    let wanted: string
    if (o.sandbox) wanted = join(home, SANDBOX_FOLDER)
    else if (o.inputs === undefined && !o.env.PROXIMITY_ENDPOINT) {
      const recent = await mostRecentTarget(home)
      wanted = recent?.dir ?? join(home, SANDBOX_FOLDER)
      if (recent && recent.others.length > 0) {
        const how = o.takesManifests ? '-f (its Cluster manifest) or --state-dir' : '--state-dir'
        messages.push(`notice: showing ${recent.dir} (used most recently); other targets: ${recent.others.join(', ')}; choose one with ${how}`)
      }
    } else wanted = join(home, targetFolderName(await targetOf(o.inputs ?? [], o.env, o.cwd)))
    const legacy = join(o.cwd, '.proximity')
    if ((await storeWrittenAt(legacy)) !== undefined) {
      messages.push(legacyNotice(wanted))
      choice = { dir: legacy, from: 'legacy', messages }
    } else choice = { dir: wanted, from: 'default', messages }
  }
  const repo = gitWorkTreeOf(choice.dir)
  // A home folder kept in git (dotfiles) holds every default location: not worth a warning each time.
  if (repo && !(choice.from === 'default' && o.env.HOME && resolve(o.env.HOME) === repo)) {
    messages.push(
      `warning: the state directory ${choice.dir} is inside the git work tree ${repo}; state (store, audit log, sandbox) does not belong in a repository: ` +
        `leave --state-dir and PROXIMITY_STATE_DIR unset to use ${stateHome(o.env)}, or add the folder to .gitignore`,
    )
  }
  return choice
}

/** A path as a shell word a user can paste (quoted only when it needs to be). */
const shellWord = (p: string): string => (/^[A-Za-z0-9_./@%+=:,~-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`)

function legacyNotice(wanted: string): string {
  const move = existsSync(wanted)
    ? `${wanted} exists already: keep one of the two, then remove ./.proximity`
    : `Move it: mkdir -p -m 700 ${shellWord(dirname(wanted))} && mv ./.proximity ${shellWord(wanted)}`
  return `notice: using the state in ./.proximity (the old default); state now lives in ${wanted}. ${move}`
}

/**
 * The root of the git work tree holding `dir` (or its nearest existing parent), found by a
 * `.git` entry (folder, or file for worktrees and submodules); undefined outside any.
 */
export function gitWorkTreeOf(dir: string): string | undefined {
  let d = resolve(dir)
  for (;;) {
    if (existsSync(join(d, '.git'))) return d
    const up = dirname(d)
    if (up === d) return undefined
    d = up
  }
}

/** Commands that only read a state folder: without -f they show the target used most recently. */
const READ_COMMANDS = new Set(['get', 'describe', 'events'])

/** The `--state-dir` option every command that keeps state shares (one definition). */
export function stateDirOption(): Option {
  return new Option(
    '--state-dir <dir>',
    'state directory (default: $PROXIMITY_STATE_DIR, else ~/.local/state/proximity/<target>, under $XDG_STATE_HOME when set)',
  )
}

/** Shows a path relative to `cwd` when it is inside it, else absolute. */
export function shownPath(cwd: string, p: string): string {
  const rel = relative(cwd, p)
  if (rel === '') return '.'
  return rel.startsWith('..') || isAbsolute(rel) ? p : rel
}

/**
 * Resolves `--state-dir` of the command about to run, once, before its action: sets the
 * option's value to the chosen absolute folder and writes the notices on stderr. Commands that
 * have no `--state-dir` option are left alone.
 */
export async function applyStateDirChoice(cmd: Command, ctx: { env: NodeJS.ProcessEnv; cwd: string; stderr: { write(s: string): unknown } }): Promise<void> {
  if (!cmd.options.some((o) => o.attributeName() === 'stateDir')) return
  const opts = cmd.opts<{ stateDir?: string; filename?: string[] | string }>()
  const flag = cmd.getOptionValueSource('stateDir') === 'cli' ? opts.stateDir : undefined
  const hasInputs = cmd.options.some((o) => o.attributeName() === 'filename')
  const files = opts.filename === undefined ? [] : Array.isArray(opts.filename) ? opts.filename : [opts.filename]
  const inSandbox = cmd.parent?.name() === 'sandbox'
  // Read commands without -f show the target used last; the others (logs, serve --git) target
  // the environment or the sandbox when no manifest names one, as apply does.
  const reader = READ_COMMANDS.has(cmd.name()) && files.length === 0
  const choice = await chooseStateDir({ flag, env: ctx.env, cwd: ctx.cwd, inputs: hasInputs && !reader ? files : undefined, sandbox: inSandbox, takesManifests: hasInputs })
  for (const m of choice.messages) ctx.stderr.write(`${m}\n`)
  cmd.setOptionValueWithSource('stateDir', choice.dir, flag !== undefined ? 'cli' : 'default')
}
