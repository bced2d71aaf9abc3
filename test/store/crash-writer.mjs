// Child process for the kill -9 test: writes to the store as fast as it can and reports, on
// stdout, each counter value that is durable (a flushed putPendingCreate covers everything).
// A small compaction threshold makes kills land in snapshot writes and log switches too.
const [storeModule, dir] = process.argv.slice(2)
const { openStateStore } = await import(storeModule)
const store = await openStateStore(dir, { batchMs: 1, compactMinBytes: 32 * 1024 })
let i = store.getStatus('App/counter')?.extra?.counter ?? 0
process.stdout.write(`start ${i}\n`)
for (;;) {
  i++
  store.putStatus({
    key: 'App/counter', kind: 'App', name: 'counter', generation: i, observedGeneration: i,
    conditions: [], history: [], createdAt: 'x', updatedAt: new Date().toISOString(),
    extra: { counter: i, pad: 'x'.repeat(2000) },
  })
  store.addEvent({ key: 'App/counter', type: 'Normal', reason: 'Tick', message: `tick ${i}` })
  store.appendAudit({ action: 'tick', key: 'App/counter', result: 'ok', reason: `n=${i}` })
  if (i % 5 === 0) {
    await store.putPendingCreate({ key: 'App/counter', vmid: i, node: 'pve', startedAt: 'x' })
    await store.flush()
    process.stdout.write(`durable ${i}\n`)
  } else {
    await new Promise((r) => setImmediate(r))
  }
}
