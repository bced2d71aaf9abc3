/**
 * Simulator bench: seeds 1,000 guests, then measures `GET /cluster/resources` throughput over
 * loopback (2,000 requests, concurrency 8; the client runs in the same process), per-request
 * latency percentiles and the process memory. Writes bench/results/sim-resources.{json,md}.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Agent, request } from 'undici'
import { packageRoot } from '../src/model/paths.js'
import { startSimulator } from '../src/sim/index.js'

/** Runs the bench and returns its figures. */
export async function run(): Promise<Record<string, number>> {
  const sim = await startSimulator({ http: true, taskLatencyMs: 0 })
  const agent = new Agent({ connections: 8 })
  try {
    for (let i = 0; i < 1000; i++) {
      sim.seedGuest({ vmid: 1000 + i, node: 'pve', status: i % 3 === 0 ? 'stopped' : 'running', config: { hostname: `app-${i}`, tags: 'proximity;app', memory: 512, cores: 1, net0: 'name=eth0,bridge=vmbr0,ip=dhcp' } })
    }
    const url = `${sim.endpoint}/api2/json/cluster/resources`
    const headers = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` }
    const once = async (): Promise<number> => {
      const res = await request(url, { headers, dispatcher: agent })
      const body = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`unexpected status ${res.statusCode}`)
      return body.length
    }
    for (let i = 0; i < 50; i++) await once()
    const total = 2000
    const concurrency = 8
    let next = 0
    let bytes = 0
    const latencies: number[] = []
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++
          const s = performance.now()
          const n = await once()
          latencies.push(performance.now() - s)
          bytes += n
        }
      }),
    )
    const seconds = (performance.now() - t0) / 1000
    latencies.sort((a, b) => a - b)
    const pct = (p: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(2))
    // Serial round trips (concurrency 1): the latency one resync read sees.
    const serial: number[] = []
    for (let i = 0; i < 200; i++) {
      const s = performance.now()
      await once()
      serial.push(performance.now() - s)
    }
    serial.sort((a, b) => a - b)
    const mem = process.memoryUsage()
    const load = (await import('node:os')).loadavg()[0] ?? 0
    const figures = {
      guests: sim.guests().length,
      requests: total,
      concurrency,
      requestsPerSecond: Math.round(total / seconds),
      meanMs: Number(((seconds * 1000 * concurrency) / total).toFixed(2)),
      p50Ms: pct(50),
      p99Ms: pct(99),
      serialP50Ms: Number((serial[100] ?? 0).toFixed(2)),
      serialP99Ms: Number((serial[198] ?? 0).toFixed(2)),
      responseKiB: Math.round(bytes / total / 1024),
      rssMiB: Math.round(mem.rss / 2 ** 20),
      heapUsedMiB: Math.round(mem.heapUsed / 2 ** 20),
      loadAverage1m: Number(load.toFixed(2)),
    }
    const dir = join(packageRoot(), 'bench', 'results')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'sim-resources.json'), `${JSON.stringify(figures, null, 2)}\n`)
    const md = [
      '# sim-resources',
      '',
      `GET /cluster/resources with ${figures.guests} seeded guests, ${total} requests, concurrency ${concurrency}, loopback HTTP.`,
      '',
      '| figure | value |',
      '|---|---|',
      ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v} |`),
      '',
    ].join('\n')
    await writeFile(join(dir, 'sim-resources.md'), md)
    return figures
  } finally {
    await agent.close()
    await sim.stop()
  }
}
