import { describe, expect, it } from 'vitest'
import { OPERATORS_REFUSED, ShellWordsError, splitShellWords } from '../../src/sim/ct-shell-words.js'
import { checkPath, featuresString, pctExecCommand, pctPushCommand, pctSetFeaturesCommand, shellQuote } from '../../src/providers/ssh/commands.js'
import { SshError } from '../../src/providers/ssh/errors.js'
import { interpolate, parseDotEnv } from '../../src/sim/ct-compose-file.js'

describe('splitShellWords', () => {
  const ok = [
    { name: 'plain words', reason: 'the common case', given: 'pct exec 101 -- true', want: ['pct', 'exec', '101', '--', 'true'] },
    { name: 'single quotes', reason: 'everything inside is literal', given: "echo 'a $b `c` \"d\"'", want: ['echo', 'a $b `c` "d"'] },
    { name: 'quote escape', reason: "our client encodes ' as '\\''", given: "echo 'a'\\''b'", want: ['echo', "a'b"] },
    { name: 'double quotes', reason: 'backslash escapes only $ ` " \\ newline', given: 'echo "a\\"b\\\\c\\d"', want: ['echo', 'a"b\\c\\d'] },
    { name: 'backslash outside quotes', reason: 'escapes the next character', given: 'echo a\\ b', want: ['echo', 'a b'] },
    { name: 'quoted newline', reason: 'a newline inside quotes is data', given: "echo 'x\ny'", want: ['echo', 'x\ny'] },
    { name: 'empty quoted word', reason: "'' is an empty argument", given: "echo '' x", want: ['echo', '', 'x'] },
    { name: 'operators inside quotes', reason: 'quoted operators are literal', given: "echo ';|&><()'", want: ['echo', ';|&><()'] },
  ]
  it.each(ok)('$name ($reason)', ({ given, want }) => {
    expect(splitShellWords(given)).toEqual(want)
  })

  const refused = [
    { name: 'semicolon', reason: 'command separator', given: 'true; reboot' },
    { name: 'pipe', reason: 'pipeline', given: 'cat x | sh' },
    { name: 'and', reason: 'background or chaining', given: 'true && reboot' },
    { name: 'dollar', reason: 'expansion', given: 'echo $HOME' },
    { name: 'dollar in double quotes', reason: 'expansion still happens in double quotes', given: 'echo "$(id)"' },
    { name: 'backtick', reason: 'command substitution', given: 'echo `id`' },
    { name: 'redirect', reason: 'would write files', given: 'cat > /etc/passwd' },
    { name: 'subshell', reason: 'grouping', given: '(reboot)' },
    { name: 'newline', reason: 'second command', given: 'true\nreboot' },
    { name: 'comment', reason: 'would hide the rest', given: 'true #x' },
  ]
  it.each(refused)('refuses $name ($reason)', ({ given }) => {
    expect(() => splitShellWords(given)).toThrow(OPERATORS_REFUSED)
  })

  it('refuses an unterminated quote', () => {
    expect(() => splitShellWords("echo 'x")).toThrow(ShellWordsError)
  })
})

describe('shellQuote', () => {
  it('round-trips any string through the strict splitter', () => {
    const samples = ['', 'plain', "it's", "''", 'a b', '$(x)', '`x`', 'a;b', 'x\ny', '\\', '"', '*?[]{}~', 'ünïcödé', "'\\''", 'a=b', '-n']
    for (const s of samples) expect(splitShellWords(`echo ${shellQuote(s)}`)).toEqual(['echo', s])
  })
  it('refuses NUL bytes', () => {
    expect(() => shellQuote('a\0b')).toThrow(SshError)
  })
})

describe('command builders', () => {
  it('pct exec always clears the environment and quotes argv', () => {
    expect(pctExecCommand(101, ['echo', "a'b"])).toBe("pct exec 101 --keep-env 0 -- echo 'a'\\''b'")
  })
  const bad = [
    { name: 'vmid too small', reason: 'PVE vmids start at 100', run: () => pctExecCommand(99, ['true']) },
    { name: 'vmid not integer', reason: 'would be sent verbatim', run: () => pctExecCommand(101.5, ['true']) },
    { name: 'empty argv', reason: 'pct exec needs a command', run: () => pctExecCommand(101, []) },
    { name: 'relative path', reason: 'pct push needs absolute paths', run: () => pctPushCommand(101, '/tmp/x', 'etc/x', '0644') },
    { name: 'newline in path', reason: 'paths never contain newlines', run: () => checkPath('/opt/a\nb') },
    { name: 'dotdot in path', reason: 'no escaping the app directory', run: () => checkPath('/opt/app/../../etc/shadow') },
    { name: 'bad perms', reason: 'perms must be 0NNN', run: () => pctPushCommand(101, '/tmp/x', '/etc/x', '777') },
    { name: 'unknown feature', reason: 'only documented features', run: () => featuresString({ lxc: 1 }) },
    { name: 'bad feature value', reason: 'booleans are 0 or 1', run: () => featuresString({ nesting: 'yes' }) },
  ]
  it.each(bad)('rejects $name ($reason)', ({ run }) => {
    expect(run).toThrow(SshError)
  })
  it('renders features', () => {
    expect(pctSetFeaturesCommand(101, { nesting: 1, keyctl: 1, mount: 'nfs;cifs' })).toBe("pct set 101 --features 'nesting=1,keyctl=1,mount=nfs;cifs'")
  })
})

describe('.env and interpolation', () => {
  const envCases = [
    { name: 'single quoted', reason: 'literal, only \\\' is special', given: "A='x $y \\'z'", want: { A: "x $y 'z" } },
    { name: 'double quoted', reason: 'escapes and expansion', given: 'B=1\nA="v\\n${B} \\$B"', want: { B: '1', A: 'v\n1 $B' } },
    { name: 'unquoted comment', reason: 'a trailing " #" is cut', given: 'A=abc # note', want: { A: 'abc' } },
    { name: 'export and comments', reason: 'common .env styles', given: '# c\nexport A=1\n\n', want: { A: '1' } },
  ]
  it.each(envCases)('$name ($reason)', ({ given, want }) => {
    expect(parseDotEnv(given)).toEqual(want)
  })

  const interp: { name: string; reason: string; given: string; env: Record<string, string>; want: string }[] = [
    { name: 'default when unset', reason: ':- covers unset and empty', given: '${A:-d}', env: { A: '' }, want: 'd' },
    { name: 'dash keeps empty', reason: '- only covers unset', given: '${A-d}', env: { A: '' }, want: '' },
    { name: 'dollar escape', reason: '$$ is a literal $', given: 'a$$b', env: {}, want: 'a$b' },
    { name: 'plus', reason: ':+ replaces when set', given: '${A:+yes}', env: { A: '1' }, want: 'yes' },
    { name: 'nested default', reason: 'defaults may interpolate', given: '${A:-${B}}', env: { B: 'b' }, want: 'b' },
  ]
  it.each(interp)('$name ($reason)', ({ given, env, want }) => {
    expect(interpolate(given, env, 'x', new Set())).toBe(want)
  })
  it('fails on a missing required variable with compose wording', () => {
    expect(() => interpolate('${PW:?needed}', {}, 'x', new Set())).toThrow('required variable PW is missing a value: needed')
  })
  it('warns about unset plain variables', () => {
    const w = new Set<string>()
    expect(interpolate('${NOPE}', {}, 'x', w)).toBe('')
    expect([...w]).toEqual(['The "NOPE" variable is not set. Defaulting to a blank string.'])
  })
})
