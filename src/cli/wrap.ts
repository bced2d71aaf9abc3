/**
 * Re-wraps the lines of help text that are wider than the terminal. Commander wraps what it lays
 * out itself, but not free text added with `addHelpText`, nor option rows when the description
 * column would be narrower than 40 characters. Pure.
 */

/** Wraps `text` so no line exceeds `width` where a space allows; shorter lines are untouched. */
export function wrapLongLines(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => (line.length <= width ? line : wrapLine(line, width)))
    .join('\n')
}

/**
 * Continuation lines start under the text they continue: the description column of an option
 * or command row (`  -f, --filename <path>  manifest…`), else the line's own indentation
 * (plus two for list items such as `  1. …`).
 */
function wrapLine(line: string, width: number): string {
  const row = /^( +\S(?:.*?\S)? {2,})\S/.exec(line)
  const lead = /^ */.exec(line)![0].length
  const item = /^ *(?:\d+\.|[-*]) /.exec(line)
  let indent = row ? row[1].length : item ? item[0].length : lead
  if (indent > width / 2) indent = Math.min(lead + 2, Math.floor(width / 2))
  const pad = ' '.repeat(indent)
  const out: string[] = []
  let rest = line
  let first = true
  while (rest.length > width) {
    const min = first ? lead + 1 : indent + 1
    const cut = rest.lastIndexOf(' ', width)
    if (cut < min) break // one long word: leave it whole
    out.push(rest.slice(0, cut).trimEnd())
    rest = pad + rest.slice(cut + 1).trimStart()
    first = false
  }
  out.push(rest)
  return out.join('\n')
}
