import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createDaemonLog } from '../../src/cli/daemon-log.js'

function capture(tty: boolean): { text: () => string; log: ReturnType<typeof createDaemonLog> } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => (text += d.toString()))
  return { text: () => text, log: createDaemonLog(stream, { tty }) }
}

describe('daemon log', () => {
  it('writes JSON lines off a TTY with secrets masked in messages, fields and errors', () => {
    const c = capture(false)
    c.log.pino.info({ key: 'App/web', tokenSecret: 'abc-123', detail: 'password=hunter2' }, 'connecting with PVEAPIToken=root@pam!x=0000-1111')
    c.log.runtime.error('reconcile failed', new Error('auth failed: token_secret=s3cr3t'))
    const lines = c.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines[0]).toMatchObject({ level: 30, key: 'App/web', tokenSecret: '(redacted)', detail: 'password=(redacted)', msg: 'connecting with PVEAPIToken=root@pam!x=(redacted)' })
    expect(lines[1]).toMatchObject({ level: 50, msg: 'reconcile failed', err: { message: 'auth failed: token_secret=(redacted)' } })
    expect(c.text()).not.toMatch(/abc-123|hunter2|0000-1111|s3cr3t/)
  })

  it('writes one readable line per record on a TTY', () => {
    const c = capture(true)
    c.log.pino.warn({ key: 'Source/manifests' }, 'manifests rejected')
    expect(c.text()).toMatch(/^\d\d:\d\d:\d\d warn {2}manifests rejected {2}key=Source\/manifests\n$/)
  })
})
