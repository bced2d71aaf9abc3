/**
 * The simulator's appliance services check configs with the REAL dnsmasq, caddy and nft (issue
 * 12 §6): what the real binary rejects fails the reload in the simulator, with the binary's
 * own message, and the service keeps its old config; what it accepts is loaded.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { checkConfig } from '../../src/sim/ct-config-check.js'
import { ctContext, runInContainer, type CtContext } from '../../src/sim/ct-runtime.js'
import { requireBinary } from '../appliance/binaries.js'

const GOOD_CADDY = '{\n\tadmin localhost:2019\n}\n\nhttp://web.home.arpa {\n\treverse_proxy 10.44.0.10:8080\n}\n'
const BAD_CADDY = '{\n\tadmin localhost:2019\n}\n\nhttp://web.home.arpa {\n\treverse_prox 10.44.0.10:8080\n}\n'
const GOOD_NFT = 'flush ruleset\ntable inet proximity {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname "eth0" ip saddr 10.44.0.0/24 masquerade\n\t}\n}\n'

const run = (ctx: CtContext, ...argv: string[]) => runInContainer(ctx, argv)
const text = (r: { stdout: string | Buffer; stderr: string }): string => `${r.stdout.toString()}${r.stderr}`

describe('simulated appliance services, checked by the real binaries', () => {
  let ctx: CtContext
  beforeAll(async () => {
    for (const b of ['dnsmasq', 'caddy', 'nft', 'unshare']) requireBinary(b)
    ctx = ctContext({ vmid: 150, runtime: {}, config: { net0: 'name=eth0,bridge=vmbr0,ip=dhcp', net1: 'name=eth1,bridge=vmbr1,ip=10.44.0.1/24' }, now: () => Date.now(), hostLxcPveVersion: '6.0.5-2', readStdin: async () => Buffer.alloc(0) })
    expect((await run(ctx, 'apk', 'add', 'dnsmasq', 'caddy', 'nftables')).code).toBe(0)
  })

  it('checks really run (the binaries are on this host), not accepted unchecked', async () => {
    const c = await checkConfig('caddy', GOOD_CADDY, '/etc/caddy/Caddyfile')
    expect(c).toMatchObject({ ok: true, checked: true })
  })

  it('a reload the real caddy rejects fails with its message and keeps the old routes', async () => {
    expect((await run(ctx, 'rc-service', 'caddy', 'reload')).code).toBe(1) // not started yet
    ctx.fs.mkdir('/etc/caddy', true)
    ctx.fs.write('/etc/caddy/Caddyfile', GOOD_CADDY)
    expect((await run(ctx, 'rc-service', 'caddy', 'start')).code).toBe(0)
    ctx.fs.write('/etc/caddy/Caddyfile', BAD_CADDY.replace('web.home.arpa', 'wiki.home.arpa'))
    const r = await run(ctx, 'rc-service', 'caddy', 'reload')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('unrecognized directive: reverse_prox')
    const cfg = await run(ctx, 'wget', '-q', '-O', '-', 'http://localhost:2019/config/')
    expect(cfg.stdout.toString()).toContain('"web.home.arpa"')
    expect(cfg.stdout.toString()).not.toContain('wiki.home.arpa')
    expect((await run(ctx, 'caddy', 'validate', '--config', '/etc/caddy/Caddyfile', '--adapter', 'caddyfile')).code).toBe(1)
  })

  it('dnsmasq --test and a dnsmasq start use the real check', async () => {
    ctx.fs.write('/etc/dnsmasq.conf', 'dhcp-range=10.44.0.100,10.44.0.300,12h\n')
    const t = await run(ctx, 'dnsmasq', '--test', '--conf-file=/etc/dnsmasq.conf')
    expect(t.code).toBe(1)
    expect(text(t)).toContain('bad dhcp-range at line 1 of /etc/dnsmasq.conf')
    expect((await run(ctx, 'rc-service', 'dnsmasq', 'start')).code).toBe(1)
    expect((await run(ctx, 'rc-service', 'dnsmasq', 'status')).code).toBe(3)
    ctx.fs.write('/etc/dnsmasq.conf', 'no-resolv\nserver=1.1.1.1\ndomain=home.arpa\nlocal=/home.arpa/\nexpand-hosts\naddn-hosts=/etc/proximity/hosts\n')
    ctx.fs.mkdir('/etc/proximity', true)
    ctx.fs.write('/etc/proximity/hosts', '10.44.0.1 web\n')
    expect((await run(ctx, 'rc-service', 'dnsmasq', 'start')).code).toBe(0)
    const ns = await run(ctx, 'nslookup', 'web.home.arpa', '127.0.0.1')
    expect(ns.code).toBe(0)
    expect(ns.stdout.toString()).toContain('Address: 10.44.0.1')
    expect((await run(ctx, 'nslookup', 'nothere.home.arpa', '127.0.0.1')).code).toBe(1)
  })

  it('nft -c -f and the nftables reload use the real check; a rejected ruleset leaves the loaded one', async () => {
    ctx.fs.write('/etc/nftables.nft', GOOD_NFT)
    ctx.fs.write('/etc/conf.d/nftables', 'rules_file="/etc/nftables.nft"\nenable_forwarding="yes"\n')
    expect((await run(ctx, 'rc-service', 'nftables', 'start')).code).toBe(0)
    expect((await run(ctx, 'sysctl', '-n', 'net.ipv4.ip_forward')).stdout.toString()).toBe('1\n')
    ctx.fs.write('/etc/nftables.nft', GOOD_NFT.replace('masquerade', 'masquerad'))
    const c = await run(ctx, 'nft', '-c', '-f', '/etc/nftables.nft')
    expect(c.code).toBe(1)
    expect(c.stderr).toMatch(/\/etc\/nftables\.nft:\d+:\d+-\d+: Error: syntax error/)
    expect((await run(ctx, 'rc-service', 'nftables', 'reload')).code).toBe(1)
    expect((await run(ctx, 'nft', 'list', 'table', 'inet', 'proximity')).stdout.toString()).toContain('masquerade\n')
  })
})
