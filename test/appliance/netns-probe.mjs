// Helper of netns.test.ts, run with `ip netns exec NS node netns-probe.mjs …` inside a test
// network namespace. Fixed commands only; prints one JSON line.
//   resolve SERVER NAME        A records of NAME from the DNS server SERVER
//   get URL SERVER [CAFILE]    HTTP(S) GET, the URL's host resolved through SERVER ('-' = literal IP)
//   wait URL SECONDS           GET until a 2xx answer (a daemon's readiness)
//   serve HOST PORT LABEL      HTTP server answering "LABEL <client address>"; prints {"listening":true}
import { promises as dns } from 'node:dns'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'

const [cmd, ...args] = process.argv.slice(2)
const print = (v) => process.stdout.write(`${JSON.stringify(v)}\n`)

async function resolve(server, name) {
  const r = new dns.Resolver({ timeout: 1000, tries: 2 })
  r.setServers([server])
  try {
    return { addresses: (await r.resolve4(name)).sort() }
  } catch (e) {
    return { error: e.code ?? String(e) }
  }
}

function get(url, server, caFile) {
  const u = new URL(url)
  const lib = u.protocol === 'https:' ? https : http
  // '-': the system resolver (/etc/hosts), for localhost and literal addresses.
  const lookup = server === '-' ? undefined : (host, opts, cb) => {
    resolve(server, host).then((r) => (r.addresses?.length ? (opts.all ? cb(null, [{ address: r.addresses[0], family: 4 }]) : cb(null, r.addresses[0], 4)) : cb(Object.assign(new Error(`no address for ${host}: ${r.error}`), { code: r.error }))))
  }
  return new Promise((done) => {
    const req = lib.get(url, { ...(lookup ? { lookup } : {}), timeout: 5000, ...(caFile ? { ca: readFileSync(caFile) } : {}) }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => done({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => done({ error: e.code ?? e.message }))
  })
}

if (cmd === 'resolve') print(await resolve(args[0], args[1]))
else if (cmd === 'get') print(await get(args[0], args[1], args[2]))
else if (cmd === 'wait') {
  const until = Date.now() + Number(args[1]) * 1000
  let last
  for (;;) {
    last = await get(args[0], '-')
    if (last.status >= 200 && last.status < 300) break
    if (Date.now() > until) break
    await new Promise((r) => setTimeout(r, 100))
  }
  print(last)
} else if (cmd === 'serve') {
  const server = http.createServer((req, res) => res.end(`${args[2]} ${req.socket.remoteAddress}`))
  server.listen(Number(args[1]), args[0], () => print({ listening: true }))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
} else {
  print({ error: `unknown command ${cmd}` })
  process.exitCode = 2
}
