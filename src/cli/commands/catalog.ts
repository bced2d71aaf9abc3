import type { Command } from 'commander'
import { distance } from 'fastest-levenshtein'
import { stringify } from 'yaml'
import type { CatalogEntry } from '../../catalog/index.js'
import { err, out, type CliContext } from '../context.js'

type ListFormat = 'table' | 'json' | 'yaml'
type ShowFormat = 'text' | 'json' | 'yaml'

/**
 * Registers `proximity catalog list` and `proximity catalog show NAME`. Read-only; unknown names
 * and bad flags set `ctx.exitCode = 1` with a one-line error (and a suggestion when close).
 */
export function registerCatalog(program: Command, ctx: CliContext): void {
  // The catalog compiles its schema and reads every data file: load it only when a catalog
  // command runs, so other commands start fast.
  const load = () => import('../../catalog/index.js')
  const catalog = program
    .command('catalog')
    .description('browse the one-click app catalog (use an entry with spec.source.catalog: NAME)')

  catalog
    .command('list')
    .description('list catalog apps: NAME VERSION DESCRIPTION')
    .option('-o, --output <format>', 'output format: table, json or yaml', 'table')
    .addHelpText('after', '\nExample:\n  proximity catalog list -o json')
    .action(async (opts: { output: string }) => {
      const format = pickFormat(ctx, opts.output, ['table', 'json', 'yaml'] as const)
      if (!format) return
      const { listCatalog } = await load()
      const rows = listCatalog().map((e) => ({ name: e.name, version: e.version, description: e.description, website: e.website }))
      if (format === 'json') out(ctx, JSON.stringify(rows, null, 2))
      else if (format === 'yaml') out(ctx, stringify(rows))
      else out(ctx, table([['NAME', 'VERSION', 'DESCRIPTION'], ...rows.map((r) => [r.name, r.version, r.description])]))
    })

  catalog
    .command('show')
    .description('show one catalog app: resources, volumes, ports, secrets and an example manifest')
    .argument('<name>', 'catalog app name, as listed by "proximity catalog list"')
    .option('-o, --output <format>', 'output format: text, json or yaml (json and yaml print the full entry)', 'text')
    .addHelpText('after', '\nExamples:\n  proximity catalog show uptime-kuma\n  proximity catalog show nextcloud -o yaml')
    .action(async (name: string, opts: { output: string }) => {
      const format = pickFormat(ctx, opts.output, ['text', 'json', 'yaml'] as const)
      if (!format) return
      const { getCatalogEntry, listCatalog } = await load()
      const entry = getCatalogEntry(name)
      if (!entry) {
        const hint = suggestName(name, listCatalog().map((e) => e.name))
        err(ctx, `error: unknown catalog app "${name}"; ${hint ? `did you mean "${hint}"?` : 'run "proximity catalog list"'}`)
        ctx.exitCode = 1
        return
      }
      if (format === 'json') out(ctx, JSON.stringify(entry, null, 2))
      else if (format === 'yaml') out(ctx, stringify(entry))
      else out(ctx, describeEntry(entry))
    })
}

function pickFormat<T extends string>(ctx: CliContext, value: string, allowed: readonly T[]): T | undefined {
  if ((allowed as readonly string[]).includes(value)) return value as T
  err(ctx, `error: unknown output format "${value}"; use one of ${allowed.join(', ')}`)
  ctx.exitCode = 1
  return undefined
}

/** The closest name within a small edit distance, for "did you mean". */
function suggestName(name: string, names: string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const n of names) {
    const d = n.startsWith(name) || name.startsWith(n) ? 1 : distance(name, n)
    if (d < bestD) {
      best = n
      bestD = d
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ')).join('\n')
}

function describeEntry(e: CatalogEntry): string {
  const services = Object.entries((e.compose.services ?? {}) as Record<string, { image?: string }>)
  const lines = [
    `Name:         ${e.name}`,
    `Version:      ${e.version}`,
    `Description:  ${e.description}`,
    ...(e.website ? [`Website:      ${e.website}`] : []),
    `Images:       ${services.map(([s, v]) => `${s}=${v.image ?? '(build)'}`).join(', ')}`,
    `Resources:    ${e.resources.cores} cores, ${e.resources.memory} MiB memory, ${e.resources.swap} MiB swap, ${e.resources.disk} GiB disk`,
    `Volumes:      ${e.volumes.length ? e.volumes.map((v) => `${v.name} ${v.path} ${v.size} GiB${v.backup ? ' (backed up)' : ''}`).join(', ') : '(none)'}`,
    `Expose:       ${e.expose.map((x) => x.port).join(', ') || '(none)'}`,
    `Health:       ${healthText(e)}`,
    `Secrets:      ${Object.keys(e.secrets).join(', ') || '(none)'} (generated once, kept in the app's .env)`,
    `Env:          ${Object.entries(e.env).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`,
    '',
    'Example manifest:',
    '',
    `  apiVersion: proximity/v1alpha1`,
    `  kind: App`,
    `  metadata:`,
    `    name: ${e.name}`,
    `  spec:`,
    `    source:`,
    `      catalog: ${e.name}`,
    `    network:`,
    `      bridge: vmbr0`,
    `      ip: dhcp`,
  ]
  return lines.join('\n')
}

function healthText(e: CatalogEntry): string {
  const h = e.health
  if (!h) return '(container state only)'
  const t = h.timeout ? `, timeout ${h.timeout}` : ''
  if (h.http) return `http :${h.http.port}${h.http.path} expects ${h.http.expectStatus}${t}`
  if (h.tcp) return `tcp :${h.tcp.port}${t}`
  return `compose health${t}`
}
