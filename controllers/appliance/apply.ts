/**
 * Apply for Appliance, in order: LAN bridges (create pending, then apply — only bridges we
 * marked as ours), guest (create with WAN and LAN NICs, config changes, start), setup (apk,
 * rc-update), config files (push `.new`, check it with the service's own binary, keep the old
 * file as `.prev`, move, run the table's action; a failed action restores the old files so the
 * running config and the files agree, and reports the error), health probes → conditions, and
 * the marker with the new specHash LAST. Idempotent: every step re-reads what it needs.
 */
import type { ApplianceManifest } from '../../src/model/types.js'
import type { ControllerContext, Result } from '../../src/runtime/controller.js'
import { StalledError, TransientError, WaitingError } from '../../src/runtime/errors.js'
import { audited, read, waitTask } from '../shared/call.js'
import { createGuest, exec, guestRef, push, rebootGuest, startGuest, tail, type GuestRef } from '../lxc/index.js'
import { APPLIANCE_CHECK_INTERVAL_MS, APPLIANCE_FEATURES, APPLIANCE_PACKAGES, APPLIANCE_SERVICES, applianceConfig, applianceIdentity, bridgeComment, filesDigest, renderAppliance, SETUP_VERSION } from './desired.js'
import { probeAppliance, serviceStatus } from './health.js'
import type { ApplianceStatusExtra } from './observation.js'
import { readFileHashes, storedApplianceExtra } from './observe.js'
import type { ApplianceAction, ApplianceDetail } from './plan.js'
import { changedFiles, serviceCommandsFor, type ApplianceFileId, type ApplianceNetwork, type ApplianceService, type RenderedApplianceFile } from './render/index.js'

/** Requeue while services come up, and the health polling interval once Ready. */
export const APPLIANCE_RETRY_MS = 5_000
export const APPLIANCE_POLL_MS = APPLIANCE_CHECK_INTERVAL_MS

/** Condition type of each service, for config errors. */
const CONDITION_OF: Record<ApplianceService, string> = { dnsmasq: 'DnsReady', caddy: 'ProxyReady', nftables: 'NatReady' }

/** The check a `.new` file gets before it replaces the live one (REFERENCE §2.3, §3.3, §4.2); none for the data files. */
function checkArgv(id: ApplianceFileId, path: string): string[] | undefined {
  if (id === 'dnsmasq-conf') return ['dnsmasq', '--test', `--conf-file=${path}`]
  if (id === 'caddyfile') return ['caddy', 'validate', '--config', path, '--adapter', 'caddyfile']
  if (id === 'nftables') return ['nft', '-c', '-f', path]
  return undefined
}

interface Run {
  ctx: ControllerContext
  a: ApplianceManifest
  key: string
  vmid: number
  node: string
  extra: ApplianceStatusExtra
  done: string[]
}

function remember(run: Run, patch: Partial<ApplianceStatusExtra>): void {
  run.extra = { ...run.extra, ...patch }
  run.ctx.status.remember(patch)
}

/** Applies the Appliance's action. */
export async function applyAppliance(ctx: ControllerContext, a: ApplianceManifest, actions: ApplianceAction[]): Promise<Result> {
  const act = actions[0]
  const d = act?.detail
  if (!act || !d) throw new Error(`the plan of Appliance ${a.metadata.name} has no action`)
  if (act.wait) throw new WaitingError(act.wait.reason, act.wait.message, act.wait.requeueAfterMs)
  if (d.step === 'invalid') throw new StalledError('InvalidApplianceConfig', d.message)
  if (d.step === 'wait') throw new Error(`the plan of Appliance ${a.metadata.name} waits without saying why`)
  if (ctx.dryRun) return { ready: false, reason: 'DryRun', message: 'dry run: nothing applied' }
  const key = applianceIdentity(a.metadata.name).key
  const extra: ApplianceStatusExtra = { ...storedApplianceExtra(ctx, a.metadata.name), deletionPolicy: 'Delete' }
  ctx.status.remember({ deletionPolicy: 'Delete' })
  if (d.step === 'await-create') return { ready: false, reason: 'Progressing', message: `guest ${d.guest.vmid} is being created`, requeueAfterMs: APPLIANCE_RETRY_MS, inventory: { vmid: d.guest.vmid, node: d.guest.node } }

  if (d.step === 'in-sync' && !d.check) {
    // Steady state: nothing changed since the last full check, which is recent (no request at all).
    const due = (extra.lastCheckAt ?? 0) + APPLIANCE_CHECK_INTERVAL_MS - ctx.now()
    return { ready: true, reason: 'Succeeded', message: `appliance guest ${d.guest.vmid} on ${d.guest.node} is converged`, requeueAfterMs: Math.max(1_000, due), inventory: { vmid: d.guest.vmid, node: d.guest.node }, extra }
  }
  await ensureBridges(ctx, a, d)
  let run: Run
  if (d.step === 'create') {
    ctx.progress(key, 'queued')
    const created = await createGuest(ctx, {
      id: applianceIdentity(a.metadata.name),
      where: { node: a.spec.node },
      templateSpec: d.templateSpec,
      params: { ...applianceConfig(a, ctx.cluster.spec, ''), features: APPLIANCE_FEATURES },
      pendingVmid: d.pendingVmid,
    })
    run = { ctx, a, key, vmid: created.vmid, node: created.node, extra, done: [`created guest ${created.vmid} on ${created.node}`] }
    ctx.status.inventory({ vmid: run.vmid, node: run.node })
    remember(run, { templateSpec: d.templateSpec, template: created.template })
    await startGuest(ctx, run)
  } else {
    run = { ctx, a, key, vmid: d.guest.vmid, node: d.guest.node, extra, done: [] }
    ctx.status.inventory({ vmid: run.vmid, node: run.node })
    if (d.step === 'converge') await convergeGuest(run, d)
  }
  const g = guestRef(ctx, key, run.vmid, run.node)
  const setup = d.step === 'create' || (d.step === 'converge' && d.setup)
  if (setup) await setupGuest(run, g)
  const { network, files } = renderAppliance(a, ctx.set, ctx.cluster.spec.owner, d.previous)
  await pushFiles(run, g, files, setup)
  remember(run, { addresses: Object.fromEntries(network.apps.map((x) => [x.name, x.ip])), filesDigest: filesDigest(files) })
  const writeMarker = d.step !== 'in-sync' || d.writeMarker
  return health(run, g, network, writeMarker)
}

async function ensureBridges(ctx: ControllerContext, a: ApplianceManifest, d: ApplianceDetail): Promise<void> {
  const iface = a.spec.lan.bridge
  for (const b of d.bridges) {
    if (b.create) {
      await audited(ctx, { action: 'POST /nodes/{node}/network', target: `node/${b.node}/network/${iface}`, reason: `LAN of Appliance ${a.metadata.name}`, what: `create bridge ${iface} on node ${b.node}` }, () =>
        ctx.pve.createNetwork(b.node, { iface, type: 'bridge', autostart: 1, comments: bridgeComment(ctx.cluster.spec.owner, a.metadata.name) }),
      )
    }
    const upid = await audited(ctx, { action: 'PUT /nodes/{node}/network', target: `node/${b.node}`, reason: `apply bridge ${iface}`, what: `apply the network of node ${b.node}` }, () => ctx.pve.applyNetwork(b.node))
    await waitTask(ctx, b.node, upid, `apply the network of node ${b.node}`)
  }
}

async function convergeGuest(run: Run, d: Extract<ApplianceDetail, { step: 'converge' }>): Promise<void> {
  const { ctx, a, vmid, node } = run
  if (d.config.length) {
    const want = applianceConfig(a, ctx.cluster.spec, '')
    const params: Record<string, string | number> = Object.fromEntries(d.config.filter((k) => k !== 'description').map((k) => [k, want[k]]))
    if (Object.keys(params).length) {
      await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${vmid}`, reason: Object.keys(params).sort().join(','), what: `update guest ${vmid} of Appliance ${a.metadata.name}` }, () =>
        ctx.pve.updateLxcConfig(node, vmid, d.guest.digest ? { ...params, digest: d.guest.digest } : params),
      )
      run.done.push(`updated ${Object.keys(params).sort().join(', ')}`)
    }
  }
  if (d.start) {
    await startGuest(ctx, run)
    run.done.push('started')
  } else if (d.restart) {
    await rebootGuest(ctx, run)
    run.done.push('restarted')
  }
}

async function must(g: GuestRef, argv: string[], why: string): Promise<void> {
  const r = await exec(g, argv, why)
  if (r.code !== 0) throw new TransientError(`cannot ${why} in appliance guest ${g.vmid}: ${tail(r)}`)
}

/** Packages, runlevels and our folder; idempotent (apk add and rc-update add are). */
async function setupGuest(run: Run, g: GuestRef): Promise<void> {
  run.ctx.progress(run.key, 'installing')
  await must(g, ['apk', 'add', '--no-cache', ...APPLIANCE_PACKAGES], 'install dnsmasq, caddy and nftables')
  for (const svc of APPLIANCE_SERVICES) await must(g, ['rc-update', 'add', svc, 'default'], `enable ${svc}`)
  await must(g, ['mkdir', '-p', '/etc/proximity'], 'create /etc/proximity')
  remember(run, { setupVmid: run.vmid, setupVersion: SETUP_VERSION })
  run.done.push('installed dnsmasq, caddy, nftables')
}

/**
 * Pushes the files whose hash differs from the appliance's, each checked before it goes live,
 * then runs one action per touched service (start when it is not running). Nothing changed and
 * every service running: no command at all.
 */
async function pushFiles(run: Run, g: GuestRef, files: RenderedApplianceFile[], setup: boolean): Promise<void> {
  const hashes = await readFileHashes(g)
  const changed = changedFiles(files, hashes)
  const up = setup || changed.length ? await serviceStatus(g) : undefined
  if (!changed.length && (!up || APPLIANCE_SERVICES.every((s) => up[s]))) return
  run.ctx.progress(run.key, 'configuring')
  for (const f of changed) {
    await push(g, `${f.path}.new`, f.content, `0${f.mode.toString(8)}`)
    const argv = checkArgv(f.id, `${f.path}.new`)
    if (!argv) continue
    const r = await exec(g, argv, `check ${f.path}`)
    if (r.code !== 0) {
      await exec(g, ['rm', '-f', `${f.path}.new`], `discard ${f.path}.new`)
      const message = `${f.service} rejects the rendered ${f.path}: ${tail(r)}; the running config is unchanged`
      run.ctx.status.condition({ type: CONDITION_OF[f.service], status: 'False', reason: 'ConfigRejected', message })
      throw new StalledError('ConfigRejected', message)
    }
  }
  for (const f of changed) {
    if (hashes[f.id] !== undefined) await must(g, ['mv', f.path, `${f.path}.prev`], `keep the previous ${f.path}`)
    await must(g, ['mv', `${f.path}.new`, f.path], `install ${f.path}`)
  }
  const commands = serviceCommandsFor(changed.map((f) => f.id))
  for (const svc of APPLIANCE_SERVICES) {
    const cmd = commands.find((c) => c.service === svc)
    const running = up?.[svc] ?? true
    if (!cmd && running) continue
    const argv = running ? [...cmd!.argv] : ['rc-service', svc, 'start']
    const r = await exec(g, argv, `${argv[2]} ${svc}`)
    const mine = changed.filter((f) => f.service === svc)
    if (r.code !== 0) {
      // Put the old files back, so what runs and what is on disk agree; the next attempt retries.
      for (const f of mine) {
        if (hashes[f.id] !== undefined) await exec(g, ['mv', `${f.path}.prev`, f.path], `restore ${f.path}`)
        else await exec(g, ['rm', '-f', f.path], `remove ${f.path}`)
      }
      const message = `${argv.slice(1).join(' ')} failed: ${serviceError(r)}; the previous config was restored`
      run.ctx.status.condition({ type: CONDITION_OF[svc], status: 'False', reason: running ? 'ReloadFailed' : 'StartFailed', message })
      throw new StalledError(running ? 'ReloadFailed' : 'StartFailed', `Appliance ${run.a.metadata.name}: ${message}`)
    }
    for (const f of mine) if (hashes[f.id] !== undefined) await exec(g, ['rm', '-f', `${f.path}.prev`], `drop ${f.path}.prev`)
    run.done.push(`${argv[2]} ${svc}${mine.length ? ` (${mine.map((f) => f.path).join(', ')})` : ''}`)
  }
}

/** The service's own message from an OpenRC command's output: the last line that is not OpenRC's ` * …` chatter. */
function serviceError(r: { stdout: string; stderr: string; code: number }): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('* ') && !l.startsWith('['))
  const last = lines[lines.length - 1]
  return last ? (last.length > 300 ? `${last.slice(0, 300)}…` : last) : tail(r)
}

/** Probes, records conditions and the LAN app list, writes the marker when converged. */
async function health(run: Run, g: GuestRef, network: ApplianceNetwork, writeMarker: boolean): Promise<Result> {
  const { ctx, a } = run
  const h = await probeAppliance(g, network)
  for (const c of h.conditions) ctx.status.condition(c)
  const exposed = h.apps.filter((x) => x.reachable !== undefined)
  const unreachable = exposed.filter((x) => !x.reachable)
  ctx.status.condition({
    type: 'Reachable',
    status: unreachable.length ? 'False' : 'True',
    reason: unreachable.length ? 'AppUnreachable' : 'AllReachable',
    message: unreachable.length ? unreachable.map((x) => `${x.name}: ${x.detail ?? 'not reachable'}`).join('; ') : `${exposed.length} exposed apps answer through the proxy`,
  })
  remember(run, { apps: h.apps, lastCheckAt: ctx.now() })
  const inventory = { vmid: run.vmid, node: run.node }
  if (!h.ready) {
    const bad = h.conditions.filter((c) => c.status !== 'True')
    return { ready: false, reason: 'Progressing', message: bad.map((c) => `${c.type}: ${c.message}`).join('; '), requeueAfterMs: APPLIANCE_RETRY_MS, inventory, changed: run.done, extra: { ...run.extra } }
  }
  if (writeMarker) {
    const cfg = await read(`read config of guest ${run.vmid}`, () => ctx.pve.lxcConfig(run.node, run.vmid))
    const description = applianceIdentity(a.metadata.name).description(ctx.cluster.spec.owner, a.specHash)
    if (String(cfg.description ?? '').trim() !== description.trim()) {
      await audited(ctx, { action: 'PUT /nodes/{node}/lxc/{vmid}/config', target: `lxc/${run.vmid}`, reason: 'marker', what: `write the marker of guest ${run.vmid}` }, () =>
        ctx.pve.updateLxcConfig(run.node, run.vmid, { description, digest: cfg.digest as string }),
      )
    }
    await ctx.store.clearPendingCreate(run.key)
    run.extra = { ...run.extra, appliedSpecHash: a.specHash }
  }
  return {
    ready: true,
    reason: 'Succeeded',
    message: `appliance guest ${run.vmid} on ${run.node} serves ${network.apps.length} apps, ${network.routes.length} routes`,
    requeueAfterMs: APPLIANCE_POLL_MS,
    inventory,
    changed: run.done,
    extra: { ...run.extra },
  }
}
