/**
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * sign in with a token from the URL fragment, see the apps, watch a state change arrive live
 * without a reload, and pass an axe-core accessibility check with no serious violations, in light
 * and dark colour schemes and on a phone-sized viewport.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApiHarness, type ApiHarness } from './harness.js'

const CHROMIUM = process.env.PROXIMITY_CHROMIUM ?? '/usr/bin/chromium'
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

let h: ApiHarness
let browser: Browser

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`)
  h = await startApiHarness()
  h.reconcile('App', 'whoami', 'success', { ip: '10.44.0.10', urls: ['https://whoami.home.arpa'] })
  h.reconcile('App', 'secretive', 'waiting')
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
})
afterAll(async () => {
  await browser?.close()
  await h?.close()
})

async function axeSerious(page: Page): Promise<{ id: string; impact: string; nodes: number }[]> {
  await page.addScriptTag({ content: axeSource })
  type Violation = { id: string; impact: string; nodes: unknown[] }
  const result = await page.evaluate(async () => {
    const g = globalThis as unknown as { axe: { run(ctx: unknown, o: object): Promise<{ violations: Violation[] }> }; document: unknown }
    const r = await g.axe.run(g.document, { resultTypes: ['violations'] })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }))
  })
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

describe('dashboard', () => {
  it('signs in from the fragment, lists apps, follows a change live and keeps the token out of requests', { timeout: 60_000 }, async () => {
    const token = await h.viewer()
    const page = await browser.newPage()
    const requested: string[] = []
    page.on('request', (r) => requested.push(r.url()))
    await page.goto(`${h.url}/#token=${token}`)
    await page.waitForSelector('#apps-table tr[data-app="whoami"]')
    expect(page.url()).not.toContain(token)
    expect(requested.some((u) => u.includes(token))).toBe(false)
    expect(await page.textContent('#count-ready')).toBe('1')
    // The address the App controller records (status.addresses): its IP and a link per URL.
    expect(await page.textContent('#apps-table tr[data-app="whoami"]')).toContain('10.44.0.10')
    expect(await page.getAttribute('#apps-table tr[data-app="whoami"] a[href^="https://"]', 'href')).toBe('https://whoami.home.arpa')

    await page.goto(`${h.url}/#/apps`)
    await page.waitForSelector('#apps-table tr[data-app="secretive"]')
    const row = page.locator('#apps-table tr[data-app="secretive"] .badge')
    await expect.poll(() => row.textContent()).toBe('Progressing')
    await page.waitForFunction("document.querySelector('#live')?.textContent === 'live'")

    // Another client changes the state; the page updates without a reload.
    h.reconcile('App', 'secretive', 'success')
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toBe('Ready')

    await page.fill('#app-search', 'whoami')
    await expect.poll(() => page.locator('#apps-table tbody tr').count()).toBe(1)

    await page.goto(`${h.url}/#/apps/whoami`)
    await page.waitForSelector('#app-status')
    expect(await page.textContent('main')).toContain('10.44.0.10')
    expect(await page.textContent('main')).not.toContain(h.sealedText)
    await page.close()
  })

  it('asks for a token when there is none and refuses a bad one', async () => {
    const page = await browser.newPage()
    await page.goto(`${h.url}/`)
    await page.waitForSelector('#login:not([hidden])')
    await page.fill('#token-input', 'not-a-token')
    await page.click('#login-form button')
    await expect.poll(() => page.textContent('#login-error')).toContain('Sign-in failed')
    await page.close()
  })

  const looks = [
    { scheme: 'light' as const, viewport: { width: 1280, height: 800 } },
    { scheme: 'dark' as const, viewport: { width: 390, height: 844 } },
  ]
  for (const { scheme, viewport } of looks) {
    it(`has no serious accessibility violations (${scheme}, ${viewport.width}px wide)`, { timeout: 60_000 }, async () => {
      const token = await h.viewer()
      // bypassCSP lets the test inject axe; the page itself runs under its strict CSP.
      const context = await browser.newContext({ colorScheme: scheme, viewport, bypassCSP: true })
      const page = await context.newPage()
      await page.goto(`${h.url}/#token=${token}`)
      await page.waitForSelector('#apps-table')
      for (const route of ['#/', '#/apps', '#/apps/whoami', '#/events', '#/deliveries']) {
        await page.evaluate(`location.hash = ${JSON.stringify(route)}`)
        await page.waitForSelector('#view h1')
        expect(await axeSerious(page), `${scheme} ${viewport.width}px ${route}`).toEqual([])
      }
      await context.close()
    })
  }
})
