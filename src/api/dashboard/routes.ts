/**
 * The dashboard: one HTML page, a stylesheet and a small client script, served from the package
 * itself (no CDN). The script reads a token from the URL fragment (never sent to the server),
 * trades it for an HttpOnly cookie, then reads the API and follows the live stream.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Hono } from 'hono'
import { packageRoot } from '../../model/paths.js'

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
}

const cache = new Map<string, string>()
function asset(name: string): string {
  let text = cache.get(name)
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), 'src', 'api', 'dashboard', 'assets', name), 'utf8')
    cache.set(name, text)
  }
  return text
}

/** Content-Security-Policy: only our own script and style, no inline code, no other origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export function dashboardRoutes(): Hono {
  const app = new Hono()
  app.get('/', (c) => c.body(asset('index.html'), 200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' }))
  app.get('/assets/:name', (c) => {
    const name = c.req.param('name')
    const type = ASSETS[name]
    if (!type) return c.json({ error: { code: 'NotFound', message: `no asset ${name}` } }, 404)
    return c.body(asset(name), 200, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'Content-Security-Policy': CSP })
  })
  return app
}
