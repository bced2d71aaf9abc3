import { describe, expect, it } from 'vitest'
import { apiSchema, lookupParam } from '../../src/sim/schema.js'
import { ALL_ROUTES, Router } from '../../src/sim/router.js'
import { validateParams } from '../../src/sim/params.js'
import { isKnownFormat } from '../../src/sim/formats.js'
import type { ParamSchema } from '../../src/sim/schema.js'
import { PveError } from '../../src/sim/errors.js'

describe('conformance with pve-apidata-9.1.json', () => {
  const router = new Router()

  it('serves only (method, template) pairs that exist in the PVE 9.1 schema', () => {
    const schema = apiSchema()
    const missing = ALL_ROUTES.filter((r) => !schema.get(r.path)?.[r.method]).map((r) => `${r.method} ${r.path}`)
    expect(missing).toEqual([])
    expect(new Set(ALL_ROUTES.map((r) => `${r.method} ${r.path}`)).size).toBe(ALL_ROUTES.length)
    expect(ALL_ROUTES.length).toBeGreaterThan(60)
  })

  it('accepts exactly the parameters of each method schema', () => {
    for (const r of router.routes) {
      const props = r.schema.parameters?.properties ?? {}
      expect(() => validateParams(r.schema, { definitely_not_a_pve_param: '1' })).toThrow(PveError)
      try {
        validateParams(r.schema, { definitely_not_a_pve_param: '1' })
      } catch (e) {
        expect((e as PveError).errors?.definitely_not_a_pve_param, `${r.method} ${r.path}`).toBe('property is not defined in schema and the schema does not allow additional properties')
      }
      for (const seg of r.segments.filter((s) => s.startsWith('{'))) expect(lookupParam(props, seg.slice(1, -1)), `${r.method} ${r.path} ${seg}`).toBeDefined()
    }
  })

  it('verifies every named format the served routes use in their parameters', () => {
    const unknown = new Set<string>()
    const visit = (s: ParamSchema | undefined, where: string): void => {
      if (!s) return
      if (typeof s.format === 'string' && !isKnownFormat(s.format)) unknown.add(`${s.format} (${where})`)
      else if (s.format && typeof s.format === 'object') for (const [k, sub] of Object.entries(s.format)) visit(sub, `${where}.${k}`)
      visit(s.items, `${where}[]`)
    }
    for (const r of router.routes) for (const [k, s] of Object.entries(r.schema.parameters?.properties ?? {})) visit(s, `${r.method} ${r.path} ${k}`)
    expect([...unknown]).toEqual([])
  })

  it('prefers literal segments over parameters when matching', () => {
    expect(router.match('GET', ['nodes', 'pve', 'lxc', '101', 'config'])?.route.path).toBe('/nodes/{node}/lxc/{vmid}/config')
    expect(router.match('GET', ['cluster', 'nextid'])?.route.path).toBe('/cluster/nextid')
    expect(router.match('PATCH', ['version'])).toBeUndefined()
  })
})
