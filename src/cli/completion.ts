/**
 * Shell completion scripts for bash, zsh and fish, generated from the commander tree the CLI
 * runs (commands, subcommands, flags, and the fixed words of arguments such as `get RESOURCE`),
 * so completion cannot drift from `--help`. Pure: takes the program, returns script text.
 */
import type { Command, Option } from 'commander'

/** Shells `proximity completion` supports. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** One flag of a command, as completion needs it. */
export interface CompletionFlag {
  /** `-f`, `--filename` */
  names: string[]
  description: string
  /** The flag takes a value (the next word is not a command). */
  takesValue: boolean
  /** Fixed values (`-o json|yaml`), when the description lists them. */
  values: string[]
  /** The value is a path (complete file names). */
  path: boolean
}

/** One command of the tree, by its path below the program (`[]` is the program itself). */
export interface CompletionNode {
  path: string[]
  description: string
  subcommands: { name: string; description: string }[]
  flags: CompletionFlag[]
  /** Fixed words of the first positional argument (`apps`, `appliances`, … for `get`). */
  words: string[]
}

const OUTPUT_WORDS = ['text', 'table', 'json', 'yaml', 'wide']
const PATH_VALUE = /<(path|file|dir)>/

function flagOf(o: Option): CompletionFlag {
  const names = [o.short, o.long].filter((n): n is string => typeof n === 'string')
  const takesValue = o.required || o.optional
  const isOutput = o.long === '--output'
  return {
    names,
    description: firstLine(o.description),
    takesValue,
    // `(default: table)` names what omitting the flag gives, not a value to type.
    values: isOutput ? OUTPUT_WORDS.filter((w) => new RegExp(`\\b${w}\\b`).test(o.description.replace(/\(default[^)]*\)/g, ''))) : [],
    path: takesValue && PATH_VALUE.test(o.flags),
  }
}

const firstLine = (s: string): string => s.split('\n')[0].trim()

/** `a | b | c` argument descriptions list the words the argument accepts. */
function argumentWords(cmd: Command): string[] {
  const first = cmd.registeredArguments[0]
  if (!first) return []
  const d = first.description.trim()
  return /^[a-z][a-z-]*( \| [a-z][a-z-]*)+$/.test(d) ? d.split(' | ') : []
}

/** Flattens the command tree (the implicit `help` command is left out; `--help` is kept). */
export function completionTree(program: Command): CompletionNode[] {
  const out: CompletionNode[] = []
  const walk = (cmd: Command, path: string[]): void => {
    const subs = cmd.commands.filter((c) => c.name() !== 'help')
    const help = (cmd as unknown as { _getHelpOption?: () => Option | null })._getHelpOption?.()
    const options = [...cmd.options, ...(help ? [help] : [])]
    out.push({
      path,
      description: firstLine(cmd.summary() || cmd.description()),
      subcommands: subs.map((c) => ({ name: c.name(), description: firstLine(c.summary() || c.description()) })),
      flags: options.filter((o) => !o.hidden).map(flagOf),
      words: argumentWords(cmd),
    })
    for (const s of subs) walk(s, [...path, s.name()])
  }
  walk(program, [])
  return out
}

/** Renders the completion script for `shell`. */
export function renderCompletion(program: Command, shell: Shell): string {
  const tree = completionTree(program)
  const name = program.name()
  if (shell === 'bash') return bashScript(name, tree)
  if (shell === 'zsh') return zshScript(name, tree)
  return fishScript(name, tree)
}

const fnName = (name: string): string => `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`
/** Single-quotes for POSIX shells. */
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The shared shell logic (bash and zsh; `ws` holds the words with the command at index 0 and
 * `cword` the index of the word being completed): walk the words typed so far, following known
 * subcommands and skipping flag values, to find the command path; then offer that command's
 * subcommands, flags, argument words, or the values of the flag just typed.
 */
function walkerBody(tree: CompletionNode[]): string[] {
  const lines: string[] = []
  const valueFlags = new Set<string>()
  for (const n of tree) for (const f of n.flags) if (f.takesValue) f.names.forEach((x) => valueFlags.add(x))
  lines.push('  local cmdpath="" w i skip=0')
  lines.push('  for ((i = 1; i < cword; i++)); do')
  lines.push('    w="${ws[i]}"')
  lines.push('    if ((skip)); then skip=0; continue; fi')
  lines.push('    case "$w" in')
  lines.push(`      ${[...valueFlags].sort().join('|')}) skip=1; continue ;;`)
  lines.push('      -*) continue ;;')
  lines.push('    esac')
  lines.push('    case "${cmdpath:+$cmdpath }$w" in')
  lines.push(`      ${tree.filter((n) => n.path.length > 0).map((n) => sq(n.path.join(' '))).join('|')}) cmdpath="\${cmdpath:+$cmdpath }$w" ;;`)
  lines.push('      *) break ;;')
  lines.push('    esac')
  lines.push('  done')
  lines.push('  local prev="${ws[cword-1]}" cands="" files=0')
  lines.push('  case "$cmdpath" in')
  for (const n of tree) {
    lines.push(`    ${sq(n.path.join(' '))})`)
    lines.push('      case "$prev" in')
    for (const f of n.flags.filter((x) => x.takesValue)) {
      const action = f.values.length > 0 ? `cands=${sq(f.values.join(' '))}` : f.path ? 'files=1' : 'cands=""'
      lines.push(`        ${f.names.join('|')}) ${action} ;;`)
    }
    const all = [...n.subcommands.map((s) => s.name), ...n.words, ...n.flags.flatMap((f) => f.names)]
    lines.push(`        *) cands=${sq(all.join(' '))} ;;`)
    lines.push('      esac ;;')
  }
  lines.push('  esac')
  return lines
}

function bashScript(name: string, tree: CompletionNode[]): string {
  const fn = fnName(name)
  return [
    `# ${name} completion for bash. Load it in the current shell:`,
    `#   source <(${name} completion bash)`,
    `# or install it: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}`,
    `${fn}() {`,
    '  local cword=$COMP_CWORD',
    '  local -a ws=("${COMP_WORDS[@]}")',
    '  local cur="${ws[cword]}"',
    ...walkerBody(tree),
    '  if ((files)); then COMPREPLY=($(compgen -f -- "$cur")); return; fi',
    '  COMPREPLY=($(compgen -W "$cands" -- "$cur"))',
    '}',
    `complete -o default -F ${fn} ${name}`,
    '',
  ].join('\n')
}

function zshScript(name: string, tree: CompletionNode[]): string {
  const fn = fnName(name)
  return [
    `#compdef ${name}`,
    `# ${name} completion for zsh. Load it in the current shell:`,
    `#   source <(${name} completion zsh)`,
    `# or install it as a file named _${name} in a folder of $fpath.`,
    `${fn}() {`,
    '  setopt localoptions ksharrays',
    '  local cword=$((CURRENT - 1))',
    '  local -a ws=("${words[@]}")',
    ...walkerBody(tree),
    '  if ((files)); then _files; return; fi',
    '  local -a list=(${=cands})',
    '  compadd -- $list',
    '}',
    `if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then ${fn} "$@"; else compdef ${fn} ${name}; fi`,
    '',
  ].join('\n')
}

function fishScript(name: string, tree: CompletionNode[]): string {
  const lines = [
    `# ${name} completion for fish. Load it in the current shell:`,
    `#   ${name} completion fish | source`,
    `# or install it: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `complete -c ${name} -f`,
  ]
  const all = tree.filter((n) => n.path.length > 0).map((n) => n.path)
  /** fish condition: the words typed so far follow exactly this command path. */
  const cond = (path: string[]): string => {
    if (path.length === 0) return `__fish_use_subcommand`
    const seen = path.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ')
    const deeper = all.filter((p) => p.length === path.length + 1 && p.slice(0, path.length).join(' ') === path.join(' ')).map((p) => p[p.length - 1])
    return deeper.length > 0 ? `${seen}; and not __fish_seen_subcommand_from ${deeper.join(' ')}` : seen
  }
  for (const n of tree) {
    const c = sq(cond(n.path))
    for (const s of n.subcommands) lines.push(`complete -c ${name} -n ${c} -a ${s.name} -d ${sq(s.description)}`)
    for (const w of n.words) lines.push(`complete -c ${name} -n ${c} -a ${w}`)
    for (const f of n.flags) {
      const parts = [`complete -c ${name} -n ${c}`]
      for (const x of f.names) parts.push(x.startsWith('--') ? `-l ${x.slice(2)}` : `-s ${x.slice(1)}`)
      if (f.takesValue) parts.push(f.path ? '-r -F' : '-r')
      if (f.values.length > 0) parts.push(`-a ${sq(f.values.join(' '))}`)
      parts.push(`-d ${sq(f.description)}`)
      lines.push(parts.join(' '))
    }
  }
  return `${lines.join('\n')}\n`
}
