import { describe, expect, it } from 'vitest'
import { PassThrough } from 'node:stream'
import { formatAge, parseDurationOption, parseOutputFormat, renderTable } from '../../src/cli/format.js'
import { createProgress, formatElapsed } from '../../src/cli/progress.js'
import { localRevision } from '../../src/cli/session.js'
import type { ManifestSet } from '../../src/model/types.js'

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0)

describe('formatAge', () => {
  const cases = [
    { name: 'seconds', reason: 'under two minutes kubectl prints plain seconds', ago: 45_000, want: '45s' },
    { name: 'minutes+seconds', reason: 'between 2 and 10 minutes kubectl keeps the seconds', ago: 150_000, want: '2m30s' },
    { name: 'whole minutes', reason: 'from 10 minutes only minutes', ago: 5 * 60_000 + 12 * 60_000, want: '17m' },
    { name: 'hours+minutes', reason: 'between 3 and 8 hours kubectl shows hours and minutes', ago: (3 * 60 + 12) * 60_000, want: '3h12m' },
    { name: 'hours', reason: 'from 8 hours only hours', ago: 20 * 3_600_000, want: '20h' },
    { name: 'days', reason: 'from two days only days', ago: 3 * 86_400_000, want: '3d' },
    { name: 'future', reason: 'clock skew must not print a negative age', ago: -5_000, want: '0s' },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(formatAge(NOW - c.ago, NOW)).toBe(c.want)
    })
  }
  it('prints <unknown> for an unparsable time (a corrupt status must not crash get)', () => {
    expect(formatAge('not a date', NOW)).toBe('<unknown>')
  })
})

describe('renderTable', () => {
  it('aligns columns and marks missing cells (kubectl look, no trailing spaces)', () => {
    const t = renderTable(['NAME', 'READY', 'VMID'], [['web', 'True', 1001], ['db', 'False', undefined]])
    expect(t).toBe('NAME   READY   VMID\nweb    True    1001\ndb     False   <none>\n')
  })
})

describe('option parsing', () => {
  const cases = [
    { name: '15m', reason: 'the documented default of --timeout', value: '15m', want: 900_000 },
    { name: '30s', reason: 'the documented default of --lease-wait', value: '30s', want: 30_000 },
    { name: '250ms', reason: 'tests use sub-second waits', value: '250ms', want: 250 },
    { name: '90', reason: 'a plain number is seconds, as in manifests (issue 9 point 7)', value: '90', want: 90_000 },
    { name: '1h30m', reason: 'compound durations work on the command line as in manifests', value: '1h30m', want: 5_400_000 },
    { name: '1.5s', reason: 'a decimal with one unit keeps working', value: '1.5s', want: 1500 },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => expect(parseDurationOption(c.value, '--timeout')).toBe(c.want))
  }
  it('rejects what is not a duration with a message naming the option', () => {
    for (const bad of ['15 minutes', '-5s', '1w', '']) expect(() => parseDurationOption(bad, '--timeout'), bad).toThrow(/--timeout must be a duration such as 30s, 15m, 1h30m or a number of seconds/)
  })
  it('rejects an unknown -o value listing the accepted ones', () => {
    expect(() => parseOutputFormat('xml', ['table', 'json', 'yaml'])).toThrow('unknown output format "xml"; use one of: json, yaml')
    expect(parseOutputFormat('JSON', ['table', 'json'])).toBe('json')
  })
})

describe('progress', () => {
  const UPID = 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:1001:root@pam!proximity:'
  const capture = (): { s: PassThrough; text: () => string } => {
    const s = new PassThrough()
    let text = ''
    s.on('data', (d: Buffer) => (text += d.toString()))
    return { s, text: () => text }
  }
  it('prints one plain line per phase change and none for repeats, with the time since the object started (non-TTY logs stay readable)', () => {
    const { s, text } = capture()
    let t = NOW
    const p = createProgress(s, { tty: false, now: () => t })
    p.update('App/web', 'creating', `vmid 1001 on pve, task ${UPID}`)
    t += 2_500
    p.update('App/web', 'creating', `vmid 1001 on pve, task ${UPID}`)
    t += 70_000
    p.update('App/web', 'healthy')
    p.finish()
    expect(text()).toBe('App/web: creating (vmid 1001 on pve, task vzcreate 1001) [0s]\nApp/web: healthy [1m12s]\n')
  })
  it('shows the full UPID beside the short one only when verbose (-v)', () => {
    const { s, text } = capture()
    const p = createProgress(s, { tty: false, now: () => NOW, verbose: true })
    p.update('App/web', 'starting', `task ${UPID}`)
    expect(text()).toBe(`App/web: starting (task vzcreate 1001 (${UPID})) [0s]\n`)
  })
  it('redraws in place with cursor-up on a TTY, with phase, elapsed time and the short task id', () => {
    const { s, text } = capture()
    let t = NOW
    const p = createProgress(s, { tty: true, redrawMs: 0, tickMs: 0, now: () => t })
    p.update('App/web', 'creating', `task ${UPID}`)
    t += 5_000
    p.update('App/db', 'queued')
    t += 4_000
    p.update('App/web', 'done')
    t += 60_000 // a finished row keeps the time it took
    p.finish()
    expect(text()).toContain('\x1b[1A')
    expect(text()).toMatch(/• web\s+creating\s+5s   task vzcreate 1001\n/)
    expect(text()).toMatch(/✓ web\s+done\s+9s\n/)
    expect(text()).toMatch(/• db\s+queued\s+1m04s\n/)
    expect(text()).not.toContain('UPID:')
  })
})

describe('progress on a pseudo-terminal without a size', () => {
  it('treats 0 columns as unknown (80) instead of cutting every row to nothing', () => {
    const s = Object.assign(new PassThrough(), { columns: 0, rows: 0 })
    let text = ''
    s.on('data', (d: Buffer) => (text += d.toString()))
    const p = createProgress(s, { tty: true, redrawMs: 0, tickMs: 0, now: () => NOW })
    p.update('App/web', 'installing', 'docker')
    p.finish()
    expect(text).toMatch(/• web\s+installing\s+0s   docker\n/)
  })
})

describe('formatElapsed', () => {
  const cases = [
    { name: 'seconds', reason: 'most objects take under a minute', ms: 42_900, want: '42s' },
    { name: 'minutes', reason: 'seconds stay two digits so columns line up', ms: 185_000, want: '3m05s' },
    { name: 'hours', reason: 'a long apply drops the seconds', ms: 3_720_000, want: '1h02m' },
    { name: 'negative', reason: 'a clock step back never prints a negative time', ms: -5, want: '0s' },
  ]
  for (const c of cases) it(`${c.name}: ${c.reason}`, () => expect(formatElapsed(c.ms)).toBe(c.want))
})

describe('progress on a small terminal', () => {
  it('collapses finished rows into a count so the frame never outgrows the screen', () => {
    const s = new PassThrough()
    let text = ''
    s.on('data', (d: Buffer) => (text += d.toString()))
    let t = 0
    const p = createProgress(s, { tty: true, redrawMs: 0, tickMs: 0, rows: 6, now: () => (t += 100) })
    for (let i = 0; i < 10; i++) p.update(`App/a${i}`, i < 7 ? 'done' : 'creating')
    text = ''
    p.finish()
    const lines = text.split('\n').filter((l) => l.replace(/\x1b\[[0-9]*[A-Za-z]/g, '').trim() !== '')
    expect(lines.length).toBeLessThanOrEqual(4)
    expect(text).toContain('7 done, 0 failed')
    expect(text).toMatch(/a7\s+creating/)
  })
})

describe('localRevision', () => {
  const set = (hashes: [string, string][]): ManifestSet =>
    ({
      apps: hashes.map(([name, specHash]) => ({ kind: 'App', metadata: { name }, specHash })),
      appliances: [],
      backupPolicies: [],
      restores: [],
      roots: [],
    }) as unknown as ManifestSet
  it('does not depend on manifest order, and changes when a spec changes', () => {
    const a = localRevision(set([['web', 'h1'], ['db', 'h2']]))
    expect(a).toMatch(/^local@sha256:[0-9a-f]{12}$/)
    expect(localRevision(set([['db', 'h2'], ['web', 'h1']]))).toBe(a)
    expect(localRevision(set([['db', 'h3'], ['web', 'h1']]))).not.toBe(a)
  })
})

describe('help texts', () => {
  const cases = [
    { cmd: 'plan', reason: 'plan documents the Terraform exit codes and how the target is chosen', want: ['--detailed-exitcode', '2 changes present', 'PROXIMITY_ENDPOINT', 'built-in sandbox'] },
    { cmd: 'apply', reason: 'apply documents prune, the mass-delete flag and the lease wait', want: ['--prune', '--allow-mass-delete', '--lease-wait', 'PROXIMITY_FINGERPRINT'] },
    { cmd: 'get', reason: 'get lists the resource words it accepts', want: ['apps', 'wide'] },
    { cmd: 'events', reason: 'events documents --for Kind/name', want: ['--for <Kind/name>', '--limit'] },
  ]
  for (const c of cases) {
    it(`${c.cmd} --help: ${c.reason}`, async () => {
      const { main } = await import('../../src/cli/main.js')
      const out = new PassThrough()
      let text = ''
      out.on('data', (d: Buffer) => (text += d.toString()))
      const code = await main([c.cmd, '--help'], { stdout: out, stderr: out, env: {}, cwd: '/' })
      expect(code).toBe(0)
      for (const w of c.want) expect(text).toContain(w)
    })
  }
})
