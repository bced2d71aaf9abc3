import type { Command } from 'commander'
import { err, out, type CliContext } from '../context.js'
import { formatAge, parseOutputFormat, renderJson, renderTable } from '../format.js'
import { openStoreIfPresent } from './get.js'
import type { StoredEvent } from '../../store/types.js'
import { stateDirOption } from '../state-dir.js'

const KEY = /^(App|Appliance|BackupPolicy|Restore|Cluster)\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** Registers `proximity events`. */
export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .summary('show recorded events, like flux events')
    .description(
      'Show recorded events (transitions and changes only, newest last), like flux events.\n' +
        'Reads the local state store; it does not contact Proxmox.',
    )
    .option('--for <Kind/name>', 'only events of this object, e.g. App/web')
    .option('--limit <n>', 'at most this many events', '50')
    .option('-o, --output <format>', 'json (default: table)')
    .addOption(stateDirOption())
    .action(async (o: { for?: string; limit: string; output?: string; stateDir?: string }) => {
      try {
        const format = parseOutputFormat(o.output, ['table', 'json'])
        const limit = Number(o.limit)
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive whole number, got "${o.limit}"`)
        if (o.for !== undefined && !KEY.test(o.for)) throw new Error(`--for must look like Kind/name (e.g. App/web), got "${o.for}"`)
        const store = await openStoreIfPresent(ctx, o.stateDir)
        let events: StoredEvent[] = []
        try {
          events = store ? store.listEvents({ key: o.for, limit }) : []
        } finally {
          await store?.close()
        }
        events = [...events].sort((a, b) => a.time.localeCompare(b.time))
        if (format === 'json') {
          out(ctx, renderJson(events).trimEnd())
          return
        }
        if (events.length === 0) {
          err(ctx, o.for ? `No events found for ${o.for}.` : 'No events found.')
          return
        }
        const now = Date.now()
        ctx.stdout.write(
          renderTable(
            ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
            events.map((e) => [formatAge(e.time, now), e.type, e.reason, e.key, e.message]),
          ),
        )
      } catch (e) {
        err(ctx, `error: ${(e as Error).message}`)
        ctx.exitCode = 1
      }
    })
}
