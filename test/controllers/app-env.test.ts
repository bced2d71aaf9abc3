/**
 * `.env` written exactly (issue 7 point 6): an App deployed through the real ssh2 client to the
 * sandbox with env values holding quotes, backslashes, `$`, `#`, `=`, blanks and Unicode, read
 * back through the simulated `docker compose config` (compose-go's dotenv and interpolation
 * rules), equal to the input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { composeArgs } from '../../controllers/app/docker.js'
import { app, startHarness, type Harness } from './helpers.js'

const VALUES: Record<string, string> = {
  SINGLE: "it's",
  DOUBLE: 'say "hi"',
  BACKSLASH: 'C:\\path\\to',
  TRAILING_BACKSLASH: 'ends with \\',
  ESCAPED_QUOTE: "a\\'b\\\"c",
  DOLLAR: '$HOME ${HOME} $$ \\$x',
  DEFAULT_SYNTAX: '${UNSET:-fallback}',
  HASH: 'value #not-a-comment',
  EQUALS: 'a=b=c',
  BLANKS: '  lead and trail\t ',
  UNICODE: 'grüße ☃ 😀 日本',
  EMPTY: '',
  EVERYTHING: "mix '\"$\\#= \t☃",
}

describe('App .env through ssh2 and compose-go rules', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.close()
  })

  it('every value reaches the container environment unchanged', async () => {
    const environment = Object.fromEntries(Object.keys(VALUES).map((k) => [k, `\${${k}}`]))
    const a = app('quoting', { env: VALUES, source: { compose: { services: { web: { image: 'traefik/whoami:v1.10.3', ports: ['80:80'], environment } } } }, health: { tcp: { port: 80 }, timeout: 60_000 } })
    h.setApps([a])
    const out = await h.applyUntilReady(a)
    expect(out.error?.message, out.error?.message).toBeUndefined()
    expect(out.result?.ready).toBe(true)
    const vmid = out.result?.inventory?.vmid as number
    const r = await h.shells.forNode(out.result?.inventory?.node as string).pctExec(vmid, [...composeArgs('quoting'), 'config'])
    expect(r.code, r.stderr).toBe(0)
    const config = parseYaml(r.stdout) as { services: { web: { environment: Record<string, string> } } }
    expect(config.services.web.environment).toEqual(VALUES)
  })
})
