import { isAbsolute, relative } from 'node:path'
import type { Command } from 'commander'
import { resolveKeyLocation } from '../../engine/key-location.js'
import { collect, out, err, type CliContext } from '../context.js'
import { requireManifests } from '../require-manifests.js'
import type { Manifest, ManifestError, ManifestSet } from '../../model/types.js'

/**
 * Registers `proximity validate -f PATH… [-o json] [--key FILE]`: loads and checks every manifest
 * without contacting Proxmox. Sets exit code 0 when valid, 1 when invalid. The loader is imported
 * lazily so other commands do not pay for ajv and the schemas at start-up.
 */
export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check manifests (YAML syntax, schema, references, compose files, sealed secrets) without touching Proxmox')
    .option('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect)
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .option('--key <file>', 'secret key used to check that sealed values decrypt (default: $PROXIMITY_KEY_FILE or ~/.config/proximity/secret.key)')
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 1 invalid.\n' +
        'Each error is printed as FILE:LINE:COLUMN: Kind/name: field.path: message.\n\n' +
        'Examples:\n' +
        '  proximity validate -f manifests/\n' +
        '  proximity validate -f app.yaml -f backup.yaml -o json\n',
    )
    .action(async (opts: { filename?: string[]; output: string; key?: string }) => {
      if (!requireManifests(ctx, opts.filename)) {
        ctx.exitCode = 1
        return
      }
      if (opts.output !== 'text' && opts.output !== 'json') {
        err(ctx, `error: unknown output format "${opts.output}"; use text or json`)
        ctx.exitCode = 1
        return
      }
      const { loadManifests, formatError } = await import('../../manifest/index.js')
      // issue 7: the default key lives in the per-user config folder (old locations still found).
      const keyAt = opts.key ? undefined : resolveKeyLocation(ctx.env, ctx.cwd)
      if (keyAt?.notice && opts.output !== 'json') err(ctx, keyAt.notice)
      const result = await loadManifests(opts.filename, {
        cwd: ctx.cwd,
        keyFile: opts.key,
        defaultKeyFile: keyAt?.path,
        env: ctx.env,
      })
      const rel = (e: ManifestError): ManifestError => ({ ...e, file: isAbsolute(e.file) ? relative(ctx.cwd, e.file) || e.file : e.file })
      if (opts.output === 'json') {
        const errors = result.ok ? [] : result.errors.map(rel)
        const body = {
          valid: result.ok,
          errors: errors.map((e) => ({ file: e.file, line: e.line, column: e.column, kind: e.kind ?? null, name: e.name ?? null, path: e.path, message: e.message })),
          warnings: result.warnings.map(rel).map((e) => ({ file: e.file, line: e.line, column: e.column, kind: e.kind ?? null, name: e.name ?? null, path: e.path, message: e.message })),
          // The normalised manifests (defaults filled, units converted, catalog expanded), with
          // every sealed value shown as "(sealed)": plaintext and ciphertext never reach output.
          manifests: result.ok ? allManifests(result.set).map((m) => showable(m, ctx.cwd)) : [],
        }
        out(ctx, JSON.stringify(body, null, 2))
      } else {
        for (const w of result.warnings) err(ctx, `warning: ${formatError(w, ctx.cwd)}`)
        if (result.ok) out(ctx, summary(result.set))
        else {
          for (const e of result.errors) out(ctx, formatError(e, ctx.cwd))
          const files = new Set(result.errors.map((e) => e.file)).size
          out(ctx, `${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`)
        }
      }
      ctx.exitCode = result.ok ? 0 : 1
    })
}

function allManifests(set: ManifestSet): Manifest[] {
  return [...(set.cluster ? [set.cluster] : []), ...set.apps, ...set.appliances, ...set.backupPolicies, ...set.restores]
}

/** A manifest as printed by `validate -o json`: relative file, sealed values hidden. */
function showable(m: Manifest, cwd: string): unknown {
  const hide = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(hide)
    if (v === null || typeof v !== 'object') return v
    const o = v as Record<string, unknown>
    if (typeof o.sealed === 'string' && Object.keys(o).length === 1) return { sealed: '(sealed)' }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, hide(x)]))
  }
  const file = isAbsolute(m.source.file) ? relative(cwd, m.source.file) || m.source.file : m.source.file
  return { apiVersion: m.apiVersion, kind: m.kind, metadata: m.metadata, spec: hide(m.spec), source: { ...m.source, file }, specHash: m.specHash }
}

function summary(set: ManifestSet): string {
  const parts: string[] = []
  const add = (n: number, one: string, many: string): void => {
    if (n > 0) parts.push(`${n} ${n === 1 ? one : many}`)
  }
  add(set.cluster ? 1 : 0, 'Cluster', 'Clusters')
  add(set.apps.length, 'App', 'Apps')
  add(set.appliances.length, 'Appliance', 'Appliances')
  add(set.backupPolicies.length, 'BackupPolicy', 'BackupPolicies')
  add(set.restores.length, 'Restore', 'Restores')
  const total = (set.cluster ? 1 : 0) + set.apps.length + set.appliances.length + set.backupPolicies.length + set.restores.length
  return `valid: ${total} manifest${total === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}`
}
