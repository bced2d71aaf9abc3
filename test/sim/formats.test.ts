import { describe, expect, it } from 'vitest'
import { nextEvent, parseCalendarEvent, verifyCalendarEvent } from '../../src/sim/calendar-event.js'
import { checkFormat, isKnownFormat, splitList } from '../../src/sim/formats.js'
import { validateParams } from '../../src/sim/params.js'
import { methodSchema } from '../../src/sim/schema.js'
import { PveError } from '../../src/sim/errors.js'

describe('checkFormat (verifiers ported from the PVE source)', () => {
  const cases: { format: string; given: string; want: string | undefined; reason: string }[] = [
    { format: 'mac-addr', given: 'BC:24:11:00:00:01', want: undefined, reason: 'the Proxmox OUI is unicast' },
    { format: 'mac-addr', given: '01:00:5E:00:00:01', want: 'value does not look like a valid unicast MAC address', reason: 'the I/G bit makes it multicast' },
    { format: 'mac-addr', given: 'ff:ff:ff:ff:ff:ff', want: 'value does not look like a valid unicast MAC address', reason: 'broadcast is a group address too' },
    { format: 'pve-storage-id', given: 'l', want: "storage ID 'l' cannot be shorter than 2 characters", reason: 'parse_id checks the length first' },
    { format: 'pve-storage-id', given: 'local-', want: "storage ID 'local-' contains illegal characters", reason: 'an id ends with a letter or digit' },
    { format: 'pve-volume-id', given: 'local:vztmpl/a.tar.zst', want: undefined, reason: 'STORAGE:VOLNAME' },
    { format: 'pve-volume-id', given: '/var/lib/vz/a.tar', want: "unable to parse volume ID '/var/lib/vz/a.tar'", reason: 'a path is not a volume id' },
    { format: 'pve-configid', given: 'snap_1', want: undefined, reason: 'letters, digits, _ and -' },
    { format: 'pve-configid', given: 'a', want: "invalid configuration ID 'a'", reason: 'two characters at least' },
    { format: 'pve-node', given: 'pve-1', want: undefined, reason: 'a hostname label' },
    { format: 'pve-node', given: 'pve_1', want: 'value does not look like a valid node name', reason: 'no underscores' },
    { format: 'ipv4', given: '10.0.0.01', want: 'value does not look like a valid IPv4 address', reason: 'octets have no leading zeros' },
    { format: 'ipv6', given: 'fe80::1', want: undefined, reason: 'compressed form' },
    { format: 'ipv6', given: 'fe80:::1', want: 'value does not look like a valid IPv6 address', reason: 'one :: at most' },
    { format: 'CIDRv4', given: '10.0.0.0/7', want: 'value does not look like a valid IPv4 CIDR network', reason: 'prefixes below 8 are refused' },
    { format: 'CIDR', given: 'fd00::/64', want: undefined, reason: 'either family' },
    { format: 'ipv4mask', given: '255.255.254.0', want: undefined, reason: 'contiguous mask' },
    { format: 'pve-ipv4-config', given: 'dhcp', want: undefined, reason: 'net[n] ip accepts dhcp' },
    { format: 'pve-ipv4-config', given: '10.0.0.5', want: 'value does not look like a valid ipv4 network configuration', reason: 'a static ip needs its prefix' },
    { format: 'pve-calendar-event', given: 'mon..fri 22:30', want: undefined, reason: 'weekday range and time' },
    { format: 'pve-calendar-event', given: '0 3 * * *', want: "invalid calendar event '0 3 * * *' - unable to parse calendar event", reason: 'cron syntax is not a calendar event' },
    { format: 'pve-poolid', given: 'a/b/c/d', want: "pool name 'a/b/c/d' nested too deeply (max levels = 3)", reason: 'three levels at most' },
    { format: 'pve-userid', given: 'root@pam', want: undefined, reason: 'user@realm' },
    { format: 'pve-userid', given: 'root', want: "value 'root' does not look like a valid user name", reason: 'the realm is required' },
    { format: 'pve-vlan-id-or-range-list', given: '2-4094 10', want: undefined, reason: 'ranges and single tags' },
    { format: 'pve-vlan-id-or-range-list', given: '20-10', want: "VLAN range must go from lower to higher tag '20-10'", reason: 'ranges go upwards' },
    { format: 'pve-fw-dport-spec', given: '80,443,8000:8100', want: undefined, reason: 'ports, lists and ranges' },
    { format: 'pve-fw-dport-spec', given: '100:10', want: "backwards range '100:10' not allowed, did you mean '10:100'?", reason: 'pve-firewall suggests the fix' },
    { format: 'pve-fw-addr-spec', given: '10.0.0.0/8,fd00::1', want: "detected mixed ipv4/ipv6 addresses in address list '10.0.0.0/8,fd00::1'", reason: 'one family per list' },
    { format: 'pve-tag-list', given: 'web;db prod', want: undefined, reason: 'lists split on ; , and spaces' },
    { format: 'pve-tag-list', given: 'ok;b@d', want: 'invalid characters in tag', reason: 'each item is checked' },
    { format: 'pve-ct-timezone', given: 'Europe/Vienna', want: undefined, reason: 'a zone.tab name' },
    { format: 'pve-ct-timezone', given: 'Mars/Olympus', want: "invalid time zone 'Mars/Olympus'", reason: 'unknown zones are refused' },
    { format: 'no-such-format', given: 'anything', want: undefined, reason: 'formats the served routes never use pass' },
  ]
  for (const c of cases) {
    it(`${c.format} ${JSON.stringify(c.given)}: ${c.reason}`, () => {
      expect(checkFormat(c.format, c.given)).toBe(c.want)
    })
  }

  it('knows which formats it verifies (the conformance test relies on it to find unverified ones)', () => {
    expect(['pve-vmid-list', 'prune-backups', 'pve-storage-content', 'mac-addr'].map(isKnownFormat)).toEqual([true, true, true, true])
    expect(['pve-sdn-zone-id', 'pve-qm-boot'].map(isKnownFormat)).toEqual([false, false])
  })

  it('splits lists like ParseUtils split_list (NUL wins over the other separators)', () => {
    expect(splitList(' a,b;c  d ')).toEqual(['a', 'b', 'c', 'd'])
    expect(splitList('a b\0c')).toEqual(['a b', 'c'])
  })
})

describe('validateParams (check_prop order and property-string errors)', () => {
  const put = methodSchema('PUT', '/nodes/{node}/lxc/{vmid}/config')!
  const fails = (raw: Record<string, string>): Record<string, string> => {
    try {
      validateParams(put, { node: 'pve', vmid: '101', ...raw })
    } catch (e) {
      return (e as PveError).errors ?? {}
    }
    throw new Error('expected a parameter error')
  }

  it('reports every bad key of a property string under param.key, after "format error"', () => {
    expect(fails({ net0: 'name=eth0,hwaddr=01:00:00:00:00:01,ip=10.0.0.1' })).toEqual({
      net0: 'invalid format - format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n',
    })
  })

  it('refuses unknown keys and values without a default key in a property string', () => {
    expect(fails({ net0: 'name=eth0,colour=red' })).toEqual({ net0: 'invalid format - invalid key in comma-separated list property: colour\n' })
    expect(fails({ features: 'nesting' })).toEqual({ features: 'invalid format - value without key, but schema does not define a default key\n' })
  })

  it('accepts on/off words for booleans inside a property string', () => {
    expect(() => validateParams(put, { node: 'pve', vmid: '101', features: 'nesting=on,keyctl=0' })).not.toThrow()
  })
})

describe('calendar events', () => {
  const at = (y: number, mo: number, d: number, h: number, mi: number): number => new Date(y, mo - 1, d, h, mi).getTime() / 1000
  const cases: { event: string; after: number; want: number; reason: string }[] = [
    { event: '03:00', after: at(2026, 11, 30, 2, 0), want: at(2026, 11, 30, 3, 0), reason: 'later today' },
    { event: '03:00', after: at(2026, 11, 30, 3, 0), want: at(2026, 12, 1, 3, 0), reason: 'strictly after: the same minute rolls to tomorrow' },
    { event: 'sat 02:00', after: at(2026, 11, 30, 12, 0), want: at(2026, 12, 5, 2, 0), reason: 'the next saturday' },
    { event: 'mon..fri 22:30', after: at(2026, 12, 4, 23, 0), want: at(2026, 12, 7, 22, 30), reason: 'skips the weekend' },
    { event: '*/15', after: at(2026, 11, 30, 10, 7), want: at(2026, 11, 30, 10, 15), reason: 'a single field is minutes' },
    { event: 'daily', after: at(2026, 12, 31, 1, 0), want: at(2027, 1, 1, 0, 0), reason: 'named events' },
    { event: '*-*-01 00:00', after: at(2026, 11, 30, 0, 0), want: at(2026, 12, 1, 0, 0), reason: 'date fields' },
    { event: 'monthly', after: at(2026, 1, 31, 12, 0), want: at(2026, 2, 1, 0, 0), reason: 'the first of the month' },
  ]
  for (const c of cases) {
    it(`${c.event}: ${c.reason}`, () => {
      expect(nextEvent(parseCalendarEvent(c.event), c.after)).toBe(c.want)
    })
  }

  it('refuses what proxmox-time refuses', () => {
    for (const bad of ['', 'tomorrow', '25:00', 'mon..xyz', '*-13-01', '1 2 3']) expect(verifyCalendarEvent(bad), bad).toMatch(/^invalid calendar event '/)
  })
})
