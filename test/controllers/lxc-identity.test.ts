import { describe, expect, it } from 'vitest'
import { guestIdentity, type GuestKind } from '../../controllers/lxc/index.js'
import { parseMarker } from '../../src/model/marker.js'

const APP: GuestKind = { kind: 'App', tag: 'app' }
const APPLIANCE: GuestKind = { kind: 'Appliance', tag: 'appliance' }

describe('guestIdentity: one guest machinery, parameterised by kind', () => {
  const cases: { name: string; reason: string; given: { kind: GuestKind; name: string }; want: { key: string; label: string; tags: string } }[] = [
    { name: 'App', reason: 'the App guest keeps the key, tags and marker it always had', given: { kind: APP, name: 'web' }, want: { key: 'App/web', label: 'App web', tags: 'app;proximity' } },
    { name: 'Appliance', reason: 'the second user gets its own key, tag and label without copying code', given: { kind: APPLIANCE, name: 'edge' }, want: { key: 'Appliance/edge', label: 'Appliance edge', tags: 'appliance;proximity' } },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.reason}`, () => {
      const id = guestIdentity(c.given.kind, c.given.name)
      expect({ key: id.key, label: id.label, tags: id.tags }).toEqual(c.want)
      const description = id.description('home', 'abc')
      expect(parseMarker(description)).toEqual({ kind: c.given.kind.kind, name: c.given.name, owner: 'home', specHash: 'abc' })
      expect(description.split('\n')[1]).toBe(`managed by proximity (${c.want.key}); change the manifest, not this guest`)
    })
  }

  it('owns only markers of the same owner, kind and name', () => {
    const id = guestIdentity(APPLIANCE, 'edge')
    const marker = parseMarker(id.description('home', ''))
    expect(id.owns(marker, 'home')).toBe(true)
    expect(id.owns(marker, 'someone-else')).toBe(false)
    expect(guestIdentity(APP, 'edge').owns(marker, 'home')).toBe(false) // an App named like the appliance
    expect(guestIdentity(APPLIANCE, 'other').owns(marker, 'home')).toBe(false)
    expect(id.owns(undefined, 'home')).toBe(false)
  })
})
