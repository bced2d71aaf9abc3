/**
 * Strict POSIX shell-WORD splitting for the simulated node: turns the command string an SSH
 * client sends into argv, honouring single quotes, double quotes (with `\` escapes of `$`, `` ` ``,
 * `"`, `\` and newline) and backslash escapes outside quotes. There is NO expansion and there are
 * NO operators: an unquoted shell metacharacter is refused, which proves that our client never
 * relies on the remote shell (a real node would run it).
 */

/** Raised for input a strict word splitter refuses; `exitCode` is what the simulated node exits with. */
export class ShellWordsError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message)
  }
}

/** The message the node prints (exit 2) when a command string uses shell operators. */
export const OPERATORS_REFUSED = 'proximity-sim: shell operators are not supported'

const OPERATOR_CHARS = new Set([';', '|', '&', '$', '`', '>', '<', '(', ')', '\n'])
const BLANKS = new Set([' ', '\t'])

/**
 * Splits `command` into words. Throws ShellWordsError with OPERATORS_REFUSED for any unquoted
 * operator character (`; | & $ \` > < ( )` or newline), and `unterminated quote` for an open quote.
 * A `#` starting a word is refused as well (it would start a comment in a real shell).
 */
export function splitShellWords(command: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let i = 0
  const n = command.length
  while (i < n) {
    const c = command[i]
    if (BLANKS.has(c)) {
      if (inWord) {
        words.push(cur)
        cur = ''
        inWord = false
      }
      i++
      continue
    }
    if (OPERATOR_CHARS.has(c) || (c === '#' && !inWord)) throw new ShellWordsError(OPERATORS_REFUSED)
    if (c === "'") {
      const end = command.indexOf("'", i + 1)
      if (end < 0) throw new ShellWordsError('proximity-sim: unterminated quote')
      cur += command.slice(i + 1, end)
      inWord = true
      i = end + 1
      continue
    }
    if (c === '"') {
      i++
      let closed = false
      while (i < n) {
        const d = command[i]
        if (d === '"') {
          closed = true
          i++
          break
        }
        if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(command[i + 1])) {
          if (command[i + 1] !== '\n') cur += command[i + 1]
          i += 2
          continue
        }
        if (d === '$' || d === '`') throw new ShellWordsError(OPERATORS_REFUSED)
        cur += d
        i++
      }
      if (!closed) throw new ShellWordsError('proximity-sim: unterminated quote')
      inWord = true
      continue
    }
    if (c === '\\') {
      if (i + 1 >= n) throw new ShellWordsError('proximity-sim: trailing backslash')
      if (command[i + 1] !== '\n') {
        cur += command[i + 1]
        inWord = true
      }
      i += 2
      continue
    }
    cur += c
    inWord = true
    i++
  }
  if (inWord) words.push(cur)
  return words
}
