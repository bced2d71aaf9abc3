/**
 * The Proxmox VE simulator (DESIGN §7): `startSimulator` runs the HTTP(S) API and the SSH node
 * over one persisted state. See types.ts for the public surface.
 */
import { mkdtemp } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { SimCore } from './core.js'
import { setServiceHealth } from './ct-runtime.js'
import { failServiceReload } from './ct-appliance.js'
import { FaultStore } from './faults.js'
import { normaliseValue } from './guest-config.js'
import { certFingerprint, loadOrCreateKeys } from './keys.js'
import { createNodeAccess } from './node-access.js'
import { MemoryRequestLog } from './request-log.js'
import { Router } from './router.js'
import { createSimServer } from './server.js'
import { startSshNode } from './ssh-node.js'
import { loadState, newNode, newState, nodeNames, type ConfigValue, type SimGuest } from './state.js'
import type { FaultApi, RunningSimulator, SimulatorOptions } from './types.js'

export type { FaultApi, FaultRule, RequestLog, RunningSimulator, SimulatorInfo, SimulatorOptions } from './types.js'

/**
 * Starts a simulator: loads (or creates) state and key material, listens for HTTP(S) and SSH.
 * With `statePath` the state and credentials survive a restart. Resolves once both listen.
 */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const now = opts.now ?? Date.now
  const host = opts.host ?? '127.0.0.1'
  const keyDir = opts.statePath ? dirname(opts.statePath) : await mkdtemp(join(tmpdir(), 'proximity-sim-'))
  const { keys, clientKeyFile } = await loadOrCreateKeys(keyDir)
  const loaded = opts.statePath ? await loadState(opts.statePath) : undefined
  const state = loaded ?? newState(nodeNames(opts.nodes ?? 1), now())
  if (loaded && opts.nodes !== undefined) for (const n of nodeNames(opts.nodes)) state.nodes[n] ??= newNode(n, now())
  const faults = new FaultStore()
  const log = new MemoryRequestLog()
  const core = new SimCore(state, {
    now,
    taskLatencyMs: opts.taskLatencyMs ?? 50,
    resourcesLagMs: opts.resourcesLagMs ?? 0,
    statePath: opts.statePath,
    takeFailure: (type) => faults.takeFailure(type),
    tokenId: keys.tokenId,
    sslFingerprint: certFingerprint(keys.tlsCert),
  })
  const { server, closeAll } = createSimServer({
    core,
    router: new Router(),
    faults,
    log,
    auth: { tokenId: keys.tokenId, tokenSecret: keys.tokenSecret, password: keys.password, ticketKey: keys.ticketKey, now },
    authFailureDelayMs: opts.authFailureDelayMs ?? 0,
    faultsEndpoint: opts.faultsEndpoint ?? false,
    verifyResponses: opts.verifyResponses ?? false,
    tls: opts.http ? undefined : { cert: keys.tlsCert, key: keys.tlsKey },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  let ssh: Awaited<ReturnType<typeof startSshNode>>
  try {
    ssh = await startSshNode(createNodeAccess(core, log), {
      host,
      port: opts.sshPort ?? 0,
      hostKeyPem: keys.sshHostKey,
      authorizedPublicKey: keys.sshClientPublic,
      password: keys.password,
      user: 'root',
    })
  } catch (e) {
    closeAll()
    server.close()
    throw e
  }
  if (opts.statePath && !loaded) await core.save()

  const guestOrThrow = (vmid: number): SimGuest => {
    const g = core.guest(vmid)
    if (!g) throw new Error(`no guest ${vmid} in the simulator`)
    return g
  }
  const faultApi: FaultApi = {
    add: (rule) => faults.add(rule),
    remove: (id) => faults.remove(id),
    clear: () => faults.clear(),
    failTask: (type, message, count) => faults.failTask(type, message, count),
    setNodeOffline: (node, offline) => {
      core.requireNode(node)
      if (offline) core.offline.add(node)
      else core.offline.delete(node)
    },
    editGuest: (vmid, changes) => {
      const g = guestOrThrow(vmid)
      if (changes.hostname !== undefined) core.noteRrd(g)
      for (const [k, v] of Object.entries(changes)) g.config[k] = normaliseValue(k, v, g.config[k])
      core.markDirty()
    },
    setGuestStatus: (vmid, status) => core.setStatus(guestOrThrow(vmid), status),
    migrateGuest: (vmid, node) => {
      core.requireNode(node)
      guestOrThrow(vmid).node = node
      core.markDirty()
    },
    lockGuest: (vmid, lock) => {
      const g = guestOrThrow(vmid)
      if (lock === undefined) delete g.config.lock
      else g.config.lock = lock
      core.markDirty()
    },
    setServiceHealth: (vmid, project, service, health) => {
      setServiceHealth(guestOrThrow(vmid).runtime, project, service, health)
      core.markDirty()
    },
    failServiceReload: (vmid, service, message, count = 1) => {
      failServiceReload(guestOrThrow(vmid).runtime, service, message, count)
      core.markDirty()
    },
  }
  let stopped = false
  const endpointHost = host.includes(':') ? `[${host}]` : host
  return {
    endpoint: `${opts.http ? 'http' : 'https'}://${endpointHost}:${port}`,
    host,
    port,
    fingerprint: opts.http ? '' : certFingerprint(keys.tlsCert),
    caPem: opts.http ? '' : keys.tlsCert,
    tokenId: keys.tokenId,
    tokenSecret: keys.tokenSecret,
    password: keys.password,
    ssh: { host, port: ssh.port, user: 'root', privateKeyFile: clientKeyFile, privateKey: keys.sshClientPrivate, hostKey: ssh.hostKeyFingerprint },
    nodes: core.nodeNames(),
    faults: faultApi,
    log,
    guests: () =>
      Object.values(core.state.guests).map((g) => ({
        vmid: g.vmid,
        node: g.node,
        status: g.status,
        ...(g.config.tags !== undefined ? { tags: String(g.config.tags) } : {}),
        ...(g.config.description !== undefined ? { description: String(g.config.description) } : {}),
        ...(g.config.lock !== undefined ? { lock: String(g.config.lock) } : {}),
        config: { ...g.config },
      })),
    seedGuest: (s) => {
      const node = s.node ?? core.nodeNames()[0]!
      core.requireNode(node)
      const config: Record<string, ConfigValue> = { hostname: `CT${s.vmid}`, memory: 512, swap: 512, ostype: 'alpine', arch: 'amd64', unprivileged: 1, rootfs: `local-lvm:vm-${s.vmid}-disk-0,size=8G`, ...s.config }
      for (const [k, v] of Object.entries(config)) config[k] = normaliseValue(k, v)
      const status = s.status ?? 'stopped'
      core.state.guests[String(s.vmid)] = {
        vmid: s.vmid,
        node,
        type: 'lxc',
        status,
        config,
        pending: {},
        pendingDelete: [],
        snapshots: [],
        firewall: { rules: [], options: {} },
        runtime: {},
        ...(status === 'running' ? { startedAt: now() } : {}),
        rrd: { status, name: String(config.hostname), changedAt: 0 },
        created: true,
      }
      core.markDirty()
    },
    save: () => core.save(),
    stop: async () => {
      if (stopped) return
      stopped = true
      core.close()
      await core.save()
      await ssh.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        closeAll()
      })
    },
  }
}
