import type { Command } from 'commander'
import { err, out, type CliContext } from '../context.js'
import { formatAge, parseDurationOption, parseOutputFormat, renderJson, renderTable } from '../format.js'

/** Heavy (jose) and only needed here: imported on use. */
const tokensModule = () => import('../../api/tokens.js')

const DEFAULT_BASE = 'http://127.0.0.1:8080'

/**
 * Registers `proximity token issue|list|revoke`: tokens for the status API and dashboard of
 * `proximity serve`. The signing key and the list of issued tokens live in the config directory
 * ($XDG_CONFIG_HOME/proximity, or PROXIMITY_CONFIG_DIR). Tokens themselves are printed once and
 * never stored.
 */
export function registerToken(program: Command, ctx: CliContext): void {
  const token = program
    .command('token')
    .description('issue, list and revoke tokens for the status API and dashboard')
    .addHelpText(
      'after',
      '\nRoles: viewer reads everything the API and dashboard show; metrics reads only /metrics.\n' +
        'Tokens are EdDSA-signed JWTs; the signing key is created on first use in the config\n' +
        'directory ($XDG_CONFIG_HOME/proximity, mode 0600). Revocation takes effect at once, also\n' +
        'for a running proximity serve.',
    )

  token
    .command('issue')
    .description('create a token and print it (and, for viewers, a dashboard URL carrying it)')
    .option('--role <role>', 'viewer or metrics', 'viewer')
    .option('--ttl <duration>', 'lifetime, e.g. 24h, 30d, 3600 (seconds)', '24h')
    .option('--name <name>', 'a label to recognise the token by in token list')
    .option('--url <base>', 'the API base the dashboard URL points at', DEFAULT_BASE)
    .option('-o, --output <format>', 'text or json')
    .addHelpText('after', '\nThe dashboard URL carries the token after #, which browsers never send to the server.\nExample:\n  proximity token issue --role metrics --ttl 30d --name prometheus')
    .action(async (opts: { role: string; ttl: string; name?: string; url: string; output?: string }) => {
      await guard(ctx, async () => {
        const format = parseOutputFormat(opts.output === 'text' ? undefined : opts.output, ['table', 'json'])
        if (opts.role !== 'viewer' && opts.role !== 'metrics') throw new UsageError(`--role "${opts.role}": use viewer or metrics`)
        if (opts.name !== undefined && !/^[\w .@-]{1,64}$/.test(opts.name)) throw new UsageError('--name: use up to 64 letters, digits, spaces and . _ @ -')
        const ttlMs = parseDurationOption(opts.ttl, '--ttl')
        const base = dashboardBase(opts.url)
        const { createTokenAuthority, resolveConfigDir } = await tokensModule()
        const authority = createTokenAuthority({ configDir: resolveConfigDir(ctx.env) })
        const { record, token: jwt } = await authority.issue({ role: opts.role, ttlMs, ...(opts.name ? { name: opts.name } : {}) })
        const url = record.role === 'viewer' ? `${base}/#token=${jwt}` : undefined
        if (format === 'json') {
          out(ctx, renderJson({ id: record.id, token: jwt, role: record.role, expiresAt: record.expiresAt, ...(url ? { url } : {}) }))
          return
        }
        out(ctx, jwt)
        err(ctx, `token ${record.id} (${record.role}) expires ${record.expiresAt}`)
        if (url) err(ctx, `dashboard: ${url}`)
      })
    })

  token
    .command('list')
    .description('list issued tokens (id, name, role, expiry, revoked); never the tokens themselves')
    .option('-o, --output <format>', 'table or json')
    .action(async (opts: { output?: string }) => {
      await guard(ctx, async () => {
        const format = parseOutputFormat(opts.output, ['table', 'json'])
        const { createTokenAuthority, resolveConfigDir } = await tokensModule()
        const records = createTokenAuthority({ configDir: resolveConfigDir(ctx.env) }).list()
        if (format === 'json') {
          out(ctx, renderJson({ items: records }))
          return
        }
        if (records.length === 0) {
          err(ctx, 'no tokens issued; create one with proximity token issue')
          return
        }
        const now = Date.now()
        out(ctx, renderTable(['ID', 'NAME', 'ROLE', 'AGE', 'EXPIRES', 'STATE'], records.map((r) => [
          r.id, r.name ?? '', r.role, formatAge(r.issuedAt, now), r.expiresAt,
          r.revokedAt ? 'revoked' : Date.parse(r.expiresAt) <= now ? 'expired' : 'active',
        ])))
      })
    })

  token
    .command('revoke')
    .description('revoke a token by id (effective at once, also for a running serve)')
    .argument('<id>', 'the token id shown by token issue and token list')
    .action(async (id: string) => {
      await guard(ctx, async () => {
        const { createTokenAuthority, resolveConfigDir } = await tokensModule()
        const r = createTokenAuthority({ configDir: resolveConfigDir(ctx.env) }).revoke(id)
        out(ctx, `token ${r.id} revoked`)
      })
    })
}

class UsageError extends Error {}

function dashboardBase(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new UsageError(`--url "${url}": use an http(s) URL such as ${DEFAULT_BASE}`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url "${url}": use an http(s) URL such as ${DEFAULT_BASE}`)
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`
}

async function guard(ctx: CliContext, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (e) {
    // Every failure here is the user's input or their config directory: say it, exit 1.
    err(ctx, `error: ${e instanceof Error ? e.message : String(e)}`)
    ctx.exitCode = 1
  }
}
