import { describe, expect, it } from 'vitest'
import { createInFlightTracker, interruptMessage } from '../../src/cli/interrupt.js'

const UPID = 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:105:root@pam!proximity:'

describe('interrupt message', () => {
  it('names each object in flight with its phase and Proxmox task, what was only queued, and that a re-run resumes', () => {
    const t = createInFlightTracker()
    t.update('App/web', 'observing')
    t.update('App/web', 'creating', `vmid 105 on pve, task ${UPID}`)
    t.update('App/db', 'installing', 'docker')
    t.update('App/cache', 'queued')
    t.update('App/old', 'done')
    const s = t.snapshot()
    expect(s).toEqual({
      working: [
        { key: 'App/db', phase: 'installing', detail: 'docker', tasks: [] },
        { key: 'App/web', phase: 'creating', detail: `vmid 105 on pve, task ${UPID}`, tasks: [UPID] },
      ],
      pending: ['App/cache'],
      finished: 1,
    })
    const text = interruptMessage(s, 'SIGINT')
    expect(text).toContain('interrupted: stopping this apply; no new step is started (press Ctrl-C again to exit at once)\n')
    expect(text).toContain('in flight (2):\n  App/db: installing (docker)\n  App/web: creating (vmid 105 on pve)\n')
    expect(text).toContain(`    Proxmox task vzcreate 105 on pve keeps running there: ${UPID}\n`)
    expect(text).toContain('queued or waiting, not running: App/cache\n')
    expect(text).toMatch(/Re-run the same\n`proximity apply` to resume/)
  })

  it('says so when nothing was in flight', () => {
    const t = createInFlightTracker()
    t.update('App/web', 'done')
    expect(interruptMessage(t.snapshot(), 'SIGTERM')).toContain('stopping this apply on SIGTERM; no new step is started\nin flight: nothing')
  })
})
