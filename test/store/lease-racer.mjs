// Child process for the lease race: waits for "go" on stdin, tries once to take the lease,
// prints "won <nonce>" or "held <owner>", then stays alive until stdin closes.
import { createInterface } from 'node:readline'
const [storeModule, dir, owner, ttl, waitMs] = process.argv.slice(2)
const { openStateStore } = await import(storeModule)
const store = await openStateStore(dir)
const rl = createInterface({ input: process.stdin })
process.stdout.write('ready\n')
for await (const line of rl) {
  if (line !== 'go') continue
  try {
    const lease = await store.acquireLease(owner, Number(ttl), { waitMs: Number(waitMs) })
    process.stdout.write(`won ${lease.nonce}\n`)
  } catch (e) {
    process.stdout.write(`held ${e.holder?.owner} ${e.name}\n`)
  }
}
await store.close()
