import type { Command } from 'commander'
import { collect, err, out, type CliContext } from '../context.js'
import { renderTable } from '../format.js'
import { TARGET_HELP } from '../target-help.js'
import { loadSource, openCliEngine, pathsSource, resolveStateDir } from '../session.js'
import type { Engine } from '../../engine/types.js'
import { createStatusRecorder } from '../../runtime/status.js'
import type { ControllerContext } from '../../runtime/controller.js'
import { redactObjectSecrets } from '../../runtime/redact-values.js'
import { stateDirOption } from '../state-dir.js'

/** The report `diagnose appliance` prints (controllers/appliance/diagnose.ts owns its shape). */
type Diagnosis = Awaited<ReturnType<typeof import('../../../controllers/appliance/diagnose.js').diagnoseAppliance>>

/** Renders a diagnosis as text: sections with tables; files by path only (`-o json` has their content). Pure. */
export function renderDiagnosis(d: Diagnosis): string {
  const lines: string[] = [`Appliance ${d.appliance}: guest ${d.guest.vmid} on ${d.guest.node} (${d.guest.status})`, '']
  const table = (title: string, headers: string[], rows: (string | number | undefined)[][]): void => {
    lines.push(`${title}:`)
    if (rows.length === 0) lines.push('  <none>')
    else for (const l of renderTable(headers, rows).trimEnd().split('\n')) lines.push(`  ${l}`)
    lines.push('')
  }
  table('Services', ['NAME', 'STATUS'], d.services.map((s) => [s.name, s.started ? 'started' : 'stopped']))
  for (const s of d.services) {
    lines.push(`Log of ${s.name} (last ${s.log.length} lines):`)
    lines.push(...(s.log.length ? s.log.map((l) => `  ${l}`) : ['  <none>']), '')
  }
  table('Leases', ['MAC', 'IP', 'NAME', 'EXPIRES'], d.leases.map((l) => [l.mac, l.ip, l.name, l.expires]))
  table('DNS', ['NAME', 'EXPECTED', 'ANSWER', 'OK'], d.dns.map((x) => [x.name, x.expected, x.answer ?? '-', x.ok ? 'yes' : 'NO']))
  table('Proxy routes', ['HOST', 'APP', 'UPSTREAM', 'TLS', 'UPSTREAM HEALTH'], d.routes.map((r) => [r.host, r.app, r.upstream, r.tls, r.healthy ? 'up' : `DOWN: ${r.detail}`]))
  lines.push('NAT:')
  lines.push(`  forwarding: ${d.nat.forwarding ? 'on' : 'OFF'}`)
  lines.push(`  ruleset (table inet proximity): ${d.nat.rulesLoaded ? 'loaded' : 'NOT LOADED'}`)
  lines.push(`  outbound from the LAN (${d.nat.outbound.from} -> ${d.nat.outbound.to}): ${d.nat.outbound.ok ? 'ok' : 'FAILED'}`, '')
  lines.push('Files (content with -o json):')
  for (const [path, text] of Object.entries(d.files)) lines.push(`  ${path}: ${text === null ? 'missing' : `${text.split('\n').filter((l) => l.trim() !== '').length} lines`}`)
  return `${lines.join('\n')}\n`
}

/** Registers `proximity diagnose`. */
export function registerDiagnose(program: Command, ctx: CliContext): void {
  const diagnose = program.command('diagnose').description('Look inside a running object and report what it really does (read only).')
  diagnose
    .command('appliance')
    .description(
      'Diagnose a network appliance from inside its guest: service status and their last log\n' +
        'lines, current DHCP leases, DNS answers for every name, proxy routes with upstream health,\n' +
        'a NAT test, and the config files as read back (-o json). Runs only a fixed set of commands.\n\n' +
        'Exit codes: 0 every check passed, 1 error, 2 a check failed.',
    )
    .argument('<name>', 'Appliance name')
    .requiredOption('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('-o, --output <format>', 'json: print the report as JSON, with a `files` member (path → content)')
    .addOption(stateDirOption())
    .addHelpText('after', TARGET_HELP)
    .action(async (name: string, o: { filename: string[]; output?: string; stateDir?: string }) => {
      ctx.exitCode = await runDiagnose(ctx, name, o)
    })
}

async function runDiagnose(ctx: CliContext, name: string, o: { filename: string[]; output?: string; stateDir?: string }): Promise<number> {
  if (o.output !== undefined && o.output !== 'json') {
    err(ctx, `error: unknown output format "${o.output}"; diagnose supports: json`)
    return 1
  }
  const stateDir = resolveStateDir(ctx, o.stateDir)
  const source = await pathsSource(ctx, o.filename, { stateDir, requireKey: false })
  const initial = await loadSource(ctx, source)
  if (!initial) return 1
  const set = initial.set
  const appliance = set.appliances.find((a) => a.metadata.name === name)
  if (!appliance) {
    const known = set.appliances.map((a) => a.metadata.name)
    err(ctx, `error: no Appliance named "${name}" in ${o.filename.join(', ')}${known.length ? `; known: ${known.join(', ')}` : ''}`)
    return 1
  }
  let session: Engine | undefined
  try {
    session = await openCliEngine(ctx, { source, initial, stateDir, dryRun: true })
    const pass = await session.newContext({ dryRun: true })
    const key = `Appliance/${name}`
    const recorder = createStatusRecorder()
    const kctx: ControllerContext = Object.assign(Object.create(pass) as ControllerContext, {
      status: recorder,
      audit: () => {},
      redact: (text: string) => redactObjectSecrets(pass.secrets, key, text),
    })
    const { diagnoseAppliance } = await import('../../../controllers/appliance/diagnose.js')
    const d = await diagnoseAppliance(kctx, appliance)
    if (o.output === 'json') out(ctx, JSON.stringify(d, null, 2))
    else ctx.stdout.write(renderDiagnosis(d))
    const failed = d.services.some((s) => !s.started) || d.dns.some((x) => !x.ok) || d.routes.some((r) => !r.healthy) || !d.nat.forwarding || !d.nat.rulesLoaded || !d.nat.outbound.ok
    return failed ? 2 : 0
  } catch (e) {
    err(ctx, `error: ${(e as Error).message}`)
    return 1
  } finally {
    await session?.close()
  }
}
