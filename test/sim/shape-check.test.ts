import { describe, expect, it } from 'vitest'
import { methodSchema } from '../../src/sim/schema.js'
import { checkShape, responseDrift, type ReturnSchema } from '../../src/sim/shape-check.js'

const jobs = methodSchema('GET', '/cluster/backup')!.returns
const job = { id: 'nightly', type: 'vzdump', schedule: '03:00', enabled: 1, storage: 'local', mode: 'snapshot', compress: 'zstd', 'prune-backups': { 'keep-last': 3 } }

describe('checkShape (the pve-apidata returns dialect)', () => {
  const cases: { name: string; reason: string; schema: ReturnSchema | undefined; given: unknown; want: string[] }[] = [
    { name: 'conforming backup job', reason: 'the real schema accepts what real PVE sends, undeclared keys (type) included', schema: jobs, given: [job], want: [] },
    {
      name: 'prune-backups as a string',
      reason: 'the drift this checker exists for: real PVE sends an object',
      schema: jobs,
      given: [{ ...job, 'prune-backups': 'keep-last=3' }],
      want: ["data[0].prune-backups: type check ('object') failed - got 'keep-last=3'"],
    },
    { name: 'required key missing', reason: 'id is not optional on a job', schema: jobs, given: [{ ...job, id: undefined }], want: ['data[0].id: property is missing and it is not optional'] },
    { name: 'integer as a string', reason: 'Perl scalars leak as strings when a handler forgets to type them', schema: jobs, given: [{ ...job, 'next-run': '1700000000' }], want: ["data[0].next-run: type check ('integer') failed - got '1700000000'"] },
    { name: 'boolean outside 0/1', reason: 'PVE booleans are 0 or 1', schema: jobs, given: [{ ...job, enabled: 2 }], want: ["data[0].enabled: type check ('boolean') failed - got '2'"] },
    { name: 'enum', reason: 'mode is one of snapshot|suspend|stop', schema: jobs, given: [{ ...job, mode: 'fast' }], want: ["data[0].mode: value 'fast' does not have a value in the enumeration 'snapshot, suspend, stop'"] },
    { name: 'format', reason: 'storage is a pve-storage-id', schema: jobs, given: [{ ...job, storage: 'bad id' }], want: ["data[0].storage: invalid format - storage ID 'bad id' contains illegal characters"] },
    { name: 'object instead of array', reason: 'a list endpoint must answer a list', schema: jobs, given: job, want: ["data: type check ('array') failed - got an object"] },
    { name: 'null return', reason: "'returns: null' methods answer data:null, and nothing else", schema: { type: 'null' }, given: 'x', want: ["data: type check ('null') failed - got x"] },
    { name: 'additionalProperties: 0', reason: 'where the schema closes an object, extra keys are drift', schema: methodSchema('GET', '/pools/{poolid}')!.returns, given: { members: [], extra: 1 }, want: ['data.extra: property is not defined in schema and the schema does not allow additional properties'] },
    { name: 'indexed keys', reason: 'net0 is checked against net[n] (a property-string format)', schema: methodSchema('GET', '/nodes/{node}/lxc/{vmid}/config')!.returns, given: { digest: 'x', net0: 'bridge=vmbr0' }, want: ['data.net0: invalid format - format error\nname: property is missing and it is not optional'] },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(checkShape(c.schema, c.given)).toEqual(c.want)
    })
  }
})

describe('responseDrift (the schema less the deviations real PVE has too)', () => {
  it('wants nextid as a numeric string, as PVE sends it, and refuses the integer the schema names', () => {
    const schema = methodSchema('GET', '/cluster/nextid')!.returns
    expect(responseDrift('GET /cluster/nextid', schema, '100')).toEqual([])
    expect(responseDrift('GET /cluster/nextid', schema, 100)).toHaveLength(1)
  })

  it('excuses numeric pending values (typed like GET config) but not other drift in the items', () => {
    const schema = methodSchema('GET', '/nodes/{node}/lxc/{vmid}/pending')!.returns
    expect(responseDrift('GET /nodes/{node}/lxc/{vmid}/pending', schema, [{ key: 'memory', value: 512, pending: 1024 }])).toEqual([])
    expect(responseDrift('GET /nodes/{node}/lxc/{vmid}/pending', schema, [{ key: 'memory', value: { x: 1 } }])).toEqual(["data[0].value: type check ('string') failed - got an object"])
  })

  it('excuses a prefix-length netmask on the network list only, and still checks the rest of the item', () => {
    const schema = methodSchema('GET', '/nodes/{node}/network')!.returns
    const iface = { iface: 'vmbr0', type: 'bridge', method: 'static', method6: 'manual', priority: 3, netmask: '24' }
    expect(responseDrift('GET /nodes/{node}/network', schema, [iface])).toEqual([])
    expect(responseDrift('GET /nodes/{node}/network', schema, [{ ...iface, autostart: 'yes' }])).toEqual(["data[0].autostart: type check ('boolean') failed - got 'yes'"])
    expect(checkShape(schema, [iface])).toEqual(['data[0].netmask: invalid format - value does not look like a valid IP netmask'])
  })
})
