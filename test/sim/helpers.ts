import { Agent, fetch, FormData } from 'undici'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/sim/index.js'

/** A raw response. */
export interface RawResponse {
  status: number
  reason: string
  headers: Record<string, string | string[] | undefined>
  text: string
  json: any
}

/**
 * Starts a plain-HTTP simulator with short task latencies that checks every response against its
 * schema (a drift fails the request, so every simulator test also guards the shapes).
 */
export function startSim(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ http: true, taskLatencyMs: 5, verifyResponses: true, ...opts })
}

const agents = new Map<string, Agent>()

/** Sends a raw request to the simulator. `form` is sent urlencoded verbatim. */
export async function raw(
  sim: RunningSimulator,
  method: string,
  path: string,
  opts: { form?: string; json?: unknown; multipart?: FormData; headers?: Record<string, string>; auth?: 'token' | 'none' } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) }
  if ((opts.auth ?? 'token') === 'token' && !headers.authorization && !headers.cookie) headers.authorization = `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`
  let body: string | FormData | undefined
  if (opts.multipart !== undefined) body = opts.multipart
  else if (opts.form !== undefined) {
    body = opts.form
    headers['content-type'] = 'application/x-www-form-urlencoded'
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json)
    headers['content-type'] = 'application/json'
  }
  let dispatcher = agents.get(sim.caPem)
  if (!dispatcher) {
    dispatcher = new Agent({ connect: sim.caPem ? { ca: sim.caPem, servername: 'localhost' } : {} })
    agents.set(sim.caPem, dispatcher)
  }
  const res = await fetch(`${sim.endpoint}${path.startsWith('/_sim') ? '' : '/api2/json'}${path}`, { method, headers, body, dispatcher })
  const text = await res.text()
  const hdrs: Record<string, string> = {}
  res.headers.forEach((v, k) => (hdrs[k] = v))
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, reason: res.statusText, headers: hdrs, text, json }
}

/** Waits for a task to stop and returns its status object. */
export async function waitTask(sim: RunningSimulator, node: string, upid: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const r = await raw(sim, 'GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)
    if (r.json?.data?.status === 'stopped') return r.json.data
    await new Promise((res) => setTimeout(res, 5))
  }
  throw new Error(`task ${upid} did not stop`)
}

/** Creates a CT from the seed template and waits for it. */
export async function createCt(sim: RunningSimulator, vmid: number, extra = '', node = sim.nodes[0]!): Promise<any> {
  const r = await raw(sim, 'POST', `/nodes/${node}/lxc`, {
    form: `vmid=${vmid}&ostemplate=${encodeURIComponent('local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz')}&rootfs=local-lvm%3A8&net0=${encodeURIComponent('name=eth0,bridge=vmbr0,ip=dhcp')}${extra}`,
  })
  if (r.status !== 200) throw new Error(`create failed: ${r.status} ${r.text}`)
  return waitTask(sim, node, r.json.data)
}
