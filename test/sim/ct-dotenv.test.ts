/**
 * The simulator's `.env` parser against compose-go's rules (dotenv/parser.go, template.go):
 * each case says which rule it pins. Expected values follow compose-go's behaviour.
 */
import { describe, expect, it } from 'vitest'
import { DotenvError, parseDotEnv } from '../../src/sim/ct-dotenv.js'
import { renderEnv } from '../../controllers/app/docker.js'

const cases: { name: string; reason: string; given: string; want: Record<string, string>; env?: Record<string, string> }[] = [
  { name: 'plain', reason: 'KEY=value', given: 'FOO=bar', want: { FOO: 'bar' } },
  { name: 'spaces around =', reason: 'blanks around the key and before the value are trimmed', given: ' FOO =  bar', want: { FOO: 'bar' } },
  { name: 'yaml style', reason: 'compose-go also accepts KEY: value', given: 'OPTION_A: Foo=bar', want: { OPTION_A: 'Foo=bar' } },
  { name: '= and : in the value', reason: 'only the first = or : ends the key', given: 'A=foobar=\nB=1:B', want: { A: 'foobar=', B: '1:B' } },
  { name: 'dots and dashes in keys', reason: 'keys are letters, digits, _ . - [ ]', given: 'FOO.BAR-1[x]=v', want: { 'FOO.BAR-1[x]': 'v' } },
  { name: 'export prefix', reason: '"export " (any blank) is dropped; exportFoo is a key', given: 'export A=1\nexport\tB=2\nexportC=3', want: { A: '1', B: '2', exportC: '3' } },
  { name: 'comments and blank lines', reason: 'a line starting with # is skipped', given: '# c\n\n  # indented\nA=1\n', want: { A: '1' } },
  { name: 'inline comment', reason: 'unquoted values end at " #"', given: 'A=bar # note\nB=bar #\nC=123#not-a-comment', want: { A: 'bar', B: 'bar', C: '123#not-a-comment' } },
  { name: 'tab before #', reason: 'only a space starts an inline comment', given: 'A=bar\t#x', want: { A: 'bar\t#x' } },
  { name: 'trailing blanks', reason: 'unquoted values lose trailing white space', given: 'A=bar \t', want: { A: 'bar' } },
  { name: 'empty values', reason: 'nothing after = is an empty value, quoted or not', given: "A=\nB=''\nC=\"\"", want: { A: '', B: '', C: '' } },
  { name: 'backslashes unquoted', reason: 'unquoted values keep backslashes', given: 'A=a\\tb\\\\c', want: { A: 'a\\tb\\\\c' } },
  { name: 'single quoted literal', reason: "single quotes: no escapes, no expansion, \\' is a quote", given: "A='x $y \\n \\\\ \\'z'", want: { A: "x $y \\n \\\\ 'z" } },
  { name: 'single quoted #', reason: 'a # inside quotes is data, after the quote a comment', given: "A='ba#r' # comment", want: { A: 'ba#r' } },
  { name: 'single quoted multi-line', reason: 'quoted values may span lines', given: "A='one\ntwo'\nB=3", want: { A: 'one\ntwo', B: '3' } },
  { name: 'double quoted escapes', reason: '\\a \\b \\f \\n \\r \\t \\v \\\\ and octal \\0NNN are interpreted', given: 'K="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', want: { K: 'Z\u0007Z\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ' } },
  { name: 'double quoted other backslashes', reason: '\\x, \\u and unknown escapes stay as written', given: 'A="\\x07 \\u12e4 \\ b \\q"', want: { A: '\\x07 \\u12e4 \\ b \\q' } },
  { name: 'double quoted quotes', reason: '\\" is a quote; single quotes are plain', given: 'A="\\"quoted\\" \'d\'"', want: { A: '"quoted" \'d\'' } },
  { name: 'double quoted trailing backslash', reason: '\\\\ before the closing quote is one backslash', given: 'A="bar\\\\"', want: { A: 'bar\\' } },
  { name: 'double quoted comment after', reason: 'whatever follows the closing quote starts a new statement', given: 'A="bar#baz"#\nB="x" # c', want: { A: 'bar#baz', B: 'x' } },
  { name: 'dollar escapes', reason: '\\$ and $$ are a literal $ in double quotes; $$ unquoted too', given: 'A="\\$HOME $$HOME"\nB=a$$b', want: { A: '$HOME $HOME', B: 'a$b' } },
  { name: 'expansion from earlier lines', reason: '$VAR and ${VAR} resolve from values defined above', given: 'B=1\nA="v${B} $B"\nC=x$B', want: { B: '1', A: 'v1 1', C: 'x1' } },
  { name: 'expansion order', reason: 'a variable defined later is not yet known', given: 'A=$B\nB=1', want: { A: '', B: '1' } },
  { name: 'lookup first', reason: 'the process environment wins over the file', given: 'B=file\nA=$B', env: { B: 'env' }, want: { B: 'file', A: 'env' } },
  { name: 'inherited key', reason: 'a key alone on its line takes the lookup value, if set', given: 'HOME\nMISSING\nA=1', env: { HOME: '/root' }, want: { HOME: '/root', A: '1' } },
  { name: 'defaults', reason: ':- covers unset and empty, - only unset', given: 'E=\nA=${U:-d}\nB=${E:-d}\nC=${E-d}\nD=${U-d}', want: { E: '', A: 'd', B: 'd', C: '', D: 'd' } },
  { name: 'alternatives', reason: ':+ replaces a non-empty value, + any set value', given: 'E=\nS=1\nA=${S:+yes}\nB=${E:+yes}\nC=${E+yes}\nD=${U+yes}', want: { E: '', S: '1', A: 'yes', B: '', C: 'yes', D: '' } },
  { name: 'nested default', reason: 'a default is interpolated too', given: 'B=b\nA=${U:-${B}x}', want: { B: 'b', A: 'bx' } },
  { name: 'single quotes never expand', reason: 'literal', given: "B=1\nA='${B}'", want: { B: '1', A: '${B}' } },
  { name: 'lone dollar', reason: 'a $ not followed by a name, { or $ stays', given: 'A="5$ and $ 1"\nB=$', want: { A: '5$ and $ 1', B: '$' } },
  { name: 'case of names', reason: 'names are matched case-insensitively by the pattern, looked up exactly', given: 'ab=1\nA=$ab-$AB', want: { ab: '1', A: '1-' } },
  { name: 'unicode', reason: 'UTF-8 values and letters in keys pass through', given: "ÄPFEL='grüße 😀'\nB=\"日本\"", want: { ÄPFEL: 'grüße 😀', B: '日本' } },
  { name: 'BOM', reason: 'a UTF-8 BOM at the start is skipped', given: '\uFEFFA=1', want: { A: '1' } },
  { name: 'CRLF', reason: 'the \\r before \\n is trailing white space of an unquoted value', given: 'A=1\r\nB=2\r\n', want: { A: '1', B: '2' } },
  { name: 'empty key', reason: 'compose-go accepts ="value" as the empty key', given: '="value"', want: { '': 'value' } },
]

describe('.env parsing follows compose-go', () => {
  for (const c of cases) {
    it(`${c.name} (${c.reason})`, () => {
      expect(parseDotEnv(c.given, (k) => c.env?.[k])).toEqual(c.want)
    })
  }

  const errors: { name: string; reason: string; given: string; want: RegExp }[] = [
    { name: 'space in key', reason: 'keys cannot hold a space', given: 'MY KEY=1', want: /line 1: key cannot contain a space/ },
    { name: 'bad character', reason: 'only letters, digits and _ . - [ ] name a variable', given: 'A=1\nB$=2', want: /line 2: unexpected character "\$" in variable name "B\$=2"/ },
    { name: 'unterminated', reason: 'a quote must close', given: 'A="abc\nB=1', want: /unterminated quoted value "abc/ },
    { name: 'trailing backslash in single quotes', reason: "\\' escapes the closing quote, so the value never ends", given: "A='abc\\'", want: /unterminated quoted value/ },
    { name: 'invalid template', reason: '${ needs a name', given: 'A="${1}"', want: /Invalid template/ },
    { name: 'required', reason: ':? fails on unset or empty with its message', given: 'E=\nA=${E:?set E}', want: /required variable E is missing a value: set E/ },
  ]
  for (const c of errors) {
    it(`refuses: ${c.name} (${c.reason})`, () => {
      expect(() => parseDotEnv(c.given)).toThrow(DotenvError)
      expect(() => parseDotEnv(c.given)).toThrow(c.want)
    })
  }
})

describe("the App controller's .env reads back exactly through compose-go's rules", () => {
  const nasty = [
    "it's", 'say "hi"', 'back\\slash', 'ends with \\', '\\', "\\'", '\\"', '$HOME', '${HOME}', '$$', '\\$', '#not a comment', 'a #b', ' lead and trail ',
    'k=v', 'tab\there', 'uni ☃ 😀 日本', 'two\nlines', 'cr\r', '', "'", '"', '${A:-x}', '\\0123', '\\n', "mix '\"$\\#= \t☃",
  ]
  it('for every nasty value', () => {
    const values = Object.fromEntries(nasty.map((v, i) => [`V${i}`, v]))
    expect(parseDotEnv(renderEnv('web', values))).toEqual(values)
  })
  it('for random strings over the risky alphabet', () => {
    const alphabet = ['\'', '"', '\\', '$', '#', ' ', '=', '\t', '{', '}', ':', '-', '?', '+', 'a', 'Z', '0', '☃', '😀', '\n']
    let seed = 7
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    for (let round = 0; round < 200; round++) {
      const values: Record<string, string> = {}
      for (let k = 0; k < 5; k++) values[`K${k}`] = Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join('')
      expect(parseDotEnv(renderEnv('web', values))).toEqual(values)
    }
  })
})
