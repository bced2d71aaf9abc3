/**
 * Which compose ports count as published on the guest's own address (the only ones an app off the
 * appliance gets a URL for), and which interface address a guest report gives.
 */
import { describe, expect, it } from 'vitest'
import { publishedPorts, reportedIpOf } from '../../src/model/app-address.js'

describe('publishedPorts', () => {
  const cases: { name: string; reason: string; given: unknown[]; want: number[] }[] = [
    { name: 'host:container', reason: 'the common short form publishes the host side on every address', given: ['8080:80'], want: [8080] },
    { name: 'container port only', reason: 'docker picks a random host port: no fixed URL', given: ['80', 443], want: [] },
    { name: 'bound to loopback', reason: 'a port bound to 127.0.0.1 cannot be reached from the LAN', given: ['127.0.0.1:8080:80', '[::1]:8081:80'], want: [] },
    { name: 'bound to every address', reason: '0.0.0.0 and :: are the same as no address', given: ['0.0.0.0:8080:80', '[::]:8081:80'], want: [8080, 8081] },
    { name: 'udp', reason: 'a UDP port is no web page', given: ['5353:53/udp', '8080:80/tcp'], want: [8080] },
    { name: 'range', reason: 'a range publishes each port in it', given: ['9000-9002:9000-9002'], want: [9000, 9001, 9002] },
    {
      name: 'long form',
      reason: 'published counts (string or number), host_ip and protocol are honoured',
      given: [{ target: 80, published: 8080 }, { target: 81, published: '8081' }, { target: 82, published: 8082, host_ip: '127.0.0.1' }, { target: 53, published: 53, protocol: 'udp' }, { target: 84 }],
      want: [8080, 8081],
    },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect([...publishedPorts({ services: { web: { ports: c.given } } })].sort((a, b) => a - b)).toEqual(c.want)
    })
  }
})

describe('reportedIpOf', () => {
  it('takes the first IPv4 address of a non-loopback interface, without its prefix', () => {
    expect(reportedIpOf([{ name: 'lo', inet: '127.0.0.1/8' }, { name: 'eth0', inet: '10.10.0.7/24' }])).toBe('10.10.0.7')
  })
  it('gives nothing while the guest has no address yet', () => {
    expect(reportedIpOf([{ name: 'lo', inet: '127.0.0.1/8' }, { name: 'eth0' }])).toBeUndefined()
  })
})
