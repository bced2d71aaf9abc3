import { describe, expect, it } from 'vitest'
import { composeLogsArgv, pctExecCommand } from '../../src/providers/ssh/commands.js'
import { splitShellWords } from '../../src/sim/ct-shell-words.js'

describe('composeLogsArgv: the logs node command is built from fixed words', () => {
  const ok: { name: string; reason: string; given: Parameters<typeof composeLogsArgv>; want: string[] }[] = [
    { name: 'plain', reason: 'every service, every line, never colour codes', given: ['/opt/proximity/web', {}], want: ['docker', 'compose', '--project-directory', '/opt/proximity/web', 'logs', '--no-color'] },
    { name: 'tail and service', reason: 'the tail and the service are single words after the flags', given: ['/opt/proximity/web', { tail: 20, service: 'db' }], want: ['docker', 'compose', '--project-directory', '/opt/proximity/web', 'logs', '--no-color', '--tail', '20', 'db'] },
    { name: 'follow', reason: '--follow is only a flag', given: ['/opt/proximity/web', { follow: true, tail: 0 }], want: ['docker', 'compose', '--project-directory', '/opt/proximity/web', 'logs', '--no-color', '--tail', '0', '--follow'] },
  ]
  for (const c of ok) it(`${c.name}: ${c.reason}`, () => expect(composeLogsArgv(...c.given)).toEqual(c.want))

  const bad: { name: string; reason: string; given: Parameters<typeof composeLogsArgv>; want: RegExp }[] = [
    { name: 'flag as service', reason: 'a service starting with "-" would become a compose flag', given: ['/opt/proximity/web', { service: '--help' }], want: /invalid service name/ },
    { name: 'shell in service', reason: 'shell syntax is refused even though quoting would make it inert', given: ['/opt/proximity/web', { service: 'a;reboot' }], want: /invalid service name/ },
    { name: 'negative tail', reason: 'a tail is a whole number', given: ['/opt/proximity/web', { tail: -1 }], want: /invalid tail/ },
    { name: 'relative dir', reason: 'the project directory must be absolute', given: ['opt/proximity/web', {}], want: /must be absolute/ },
    { name: 'dotdot dir', reason: 'no escaping the project folder', given: ['/opt/proximity/../../etc', {}], want: /must not contain \.\./ },
  ]
  for (const c of bad) it(`${c.name}: ${c.reason}`, () => expect(() => composeLogsArgv(...c.given)).toThrow(c.want))

  it('round-trips through the node shell as the same words', () => {
    const argv = composeLogsArgv('/opt/proximity/web', { service: 'web', tail: 5 })
    expect(splitShellWords(pctExecCommand(1001, argv))).toEqual(['pct', 'exec', '1001', '--keep-env', '0', '--', ...argv])
  })
})
