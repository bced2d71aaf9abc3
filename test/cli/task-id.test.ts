import { describe, expect, it } from 'vitest'
import { shortTaskId, shortenTaskIds, taskIdsIn } from '../../src/cli/task-id.js'

const UPID = 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:105:root@pam!proximity:'

describe('task ids', () => {
  const cases = [
    { name: 'create', reason: 'type and vmid are what a person needs to find the task in the Proxmox UI', given: UPID, want: 'vzcreate 105' },
    { name: 'no id', reason: 'a task without a guest id keeps just its type', given: 'UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzdump::root@pam:', want: 'vzdump' },
    { name: '9-digit pstart', reason: 'PVE writes pstart with 8 or 9 hex digits', given: 'UPID:node-2:0001A2B3:100C0FFEE:65B8F2A1:vzstart:7:root@pam:', want: 'vzstart 7' },
    { name: 'not a upid', reason: 'anything else is left alone', given: 'vmid 105 on pve', want: 'vmid 105 on pve' },
  ]
  for (const c of cases) it(`${c.name}: ${c.reason}`, () => expect(shortTaskId(c.given)).toBe(c.want))

  it('shortens UPIDs inside progress details; -v keeps the full id beside the short one', () => {
    expect(shortenTaskIds(`vmid 105 on pve, task ${UPID}`)).toBe('vmid 105 on pve, task vzcreate 105')
    expect(shortenTaskIds(`task ${UPID}`, true)).toBe(`task vzcreate 105 (${UPID})`)
    expect(taskIdsIn(`a ${UPID} b`)).toEqual([UPID])
  })
})
