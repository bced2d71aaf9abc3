/**
 * /metrics: the controller-runtime/client-go names users alert on, the per-app info metric that
 * joins pve-exporter, and output that the real `promtool check metrics` accepts.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngineMetrics } from '../../src/runtime/metrics.js'

const PROMTOOL = process.env.PROXIMITY_PROMTOOL ?? 'promtool'
let text: string

beforeAll(async () => {
  const m = createEngineMetrics()
  m.reconcileDone('App', 'success', 0.12)
  m.reconcileDone('App', 'error', 1.5)
  m.queueAdded('reconcile')
  m.queueRetried('reconcile')
  m.queueDepth('reconcile', 3)
  m.queueWaited('reconcile', 0.02)
  m.pveRequest('GET', '/cluster/resources', 200, 0.004)
  m.objectReady('App', 'whoami', true)
  m.objectReady('App', 'notes', false)
  m.appInfo('whoami', { vmid: 105, node: 'pve1' })
  m.appInfo('whoami', { vmid: 105, node: 'pve2' })
  m.resynced(Date.parse('2026-11-30T10:00:00Z'))
  text = await m.text()
})

describe('metrics', () => {
  it('names the series users already alert on', () => {
    for (const name of [
      'controller_runtime_reconcile_total{controller="App",result="success"} 1',
      'controller_runtime_reconcile_errors_total{controller="App"} 1',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth{name="reconcile"} 3',
      'workqueue_adds_total{name="reconcile"} 1',
      'workqueue_retries_total{name="reconcile"} 1',
      'workqueue_queue_duration_seconds_bucket',
      'proximity_pve_requests_total{method="GET",route="/cluster/resources",status="200"} 1',
      'proximity_object_ready{kind="App",name="whoami"} 1',
      'proximity_object_ready{kind="App",name="notes"} 0',
      `proximity_last_resync_timestamp_seconds ${Date.parse('2026-11-30T10:00:00Z') / 1000}`,
      'process_resident_memory_bytes',
    ]) {
      expect(text).toContain(name)
    }
  })

  it('keeps one info series per app, carrying the pve-exporter id, after a migration', () => {
    const info = text.split('\n').filter((l) => l.startsWith('proximity_app_info{'))
    expect(info).toEqual(['proximity_app_info{name="whoami",id="lxc/105",node="pve2"} 1'])
  })

  it('passes promtool check metrics', () => {
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    if (r.error) throw new Error(`${PROMTOOL} is missing (Debian package prometheus; .ci/run installs it): ${r.error.message}`)
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('')
    expect(r.status).toBe(0)
  })
})
