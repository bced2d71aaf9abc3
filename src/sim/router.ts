import type { RouteDef } from './core.js'
import { methodSchema, type MethodSchema } from './schema.js'
import { backupJobRoutes } from './routes/backup-jobs.js'
import { clusterRoutes } from './routes/cluster.js'
import { firewallRoutes } from './routes/firewall.js'
import { haPoolRoutes } from './routes/ha-pools.js'
import { lxcRoutes } from './routes/lxc.js'
import { lxcCloneRoutes } from './routes/lxc-clone.js'
import { lxcMoveVolumeRoutes } from './routes/lxc-move-volume.js'
import { lxcSnapshotRoutes } from './routes/lxc-snapshot.js'
import { lxcStatusRoutes } from './routes/lxc-status.js'
import { networkRoutes } from './routes/network.js'
import { storageRoutes } from './routes/storage.js'
import { vzdumpRoutes } from './routes/vzdump.js'
import { accessRoutes } from './routes/access.js'

/** A route resolved against the schema. */
export interface CompiledRoute extends RouteDef {
  segments: string[]
  schema: MethodSchema
  literalCount: number
}

/** A matched request. */
export interface RouteMatch {
  route: CompiledRoute
  pathParams: Record<string, string>
}

/** Every (method, template) the simulator serves. */
export const ALL_ROUTES: RouteDef[] = [
  ...accessRoutes,
  ...clusterRoutes,
  ...lxcRoutes,
  ...lxcCloneRoutes,
  ...lxcMoveVolumeRoutes,
  ...lxcStatusRoutes,
  ...lxcSnapshotRoutes,
  ...storageRoutes,
  ...vzdumpRoutes,
  ...networkRoutes,
  ...firewallRoutes,
  ...haPoolRoutes,
  ...backupJobRoutes,
]

/**
 * The route table: each served route paired with its method schema from pve-apidata. Throws at
 * construction when a route is not in the schema (so the simulator cannot invent endpoints).
 */
export class Router {
  readonly routes: CompiledRoute[]
  /** Routes by `METHOD segment-count` (a request only ever matches routes of its own shape). */
  private readonly byShape = new Map<string, CompiledRoute[]>()
  /** Routes whose last parameter swallows the rest of the path, by method. */
  private readonly rest = new Map<string, CompiledRoute[]>()

  constructor(defs: RouteDef[] = ALL_ROUTES) {
    this.routes = defs.map((d) => {
      const schema = methodSchema(d.method, d.path)
      if (!schema) throw new Error(`simulator route ${d.method} ${d.path} is not in the PVE schema`)
      const segments = d.path.split('/').filter((s) => s !== '')
      return { ...d, segments, schema, literalCount: segments.filter((s) => !s.startsWith('{')).length }
    })
    for (const r of this.routes) {
      if (r.restParam) this.rest.set(r.method, [...(this.rest.get(r.method) ?? []), r])
      const key = `${r.method} ${r.segments.length}`
      const list = this.byShape.get(key)
      if (list) list.push(r)
      else this.byShape.set(key, [r])
    }
  }

  /**
   * Matches a method and already-split, decoded path segments (below `/api2/json`). Literal
   * segments win over parameters; a `restParam` route takes any longer path, its last parameter
   * being the remaining segments joined with `/`. Undefined when nothing matches.
   */
  match(method: string, segments: string[]): RouteMatch | undefined {
    const exact = this.matchShape(segments, this.byShape.get(`${method} ${segments.length}`) ?? [])
    if (exact) return exact
    for (const r of this.rest.get(method) ?? []) {
      const n = r.segments.length
      if (segments.length <= n) continue
      const m = this.matchShape([...segments.slice(0, n - 1), segments.slice(n - 1).join('/')], [r])
      if (m) return m
    }
    return undefined
  }

  private matchShape(segments: string[], candidates: CompiledRoute[]): RouteMatch | undefined {
    let best: RouteMatch | undefined
    for (const r of candidates) {
      const pathParams: Record<string, string> = {}
      let ok = true
      for (let i = 0; i < segments.length; i++) {
        const t = r.segments[i] as string
        const s = segments[i] as string
        if (t.startsWith('{')) {
          if (s === '') {
            ok = false
            break
          }
          pathParams[t.slice(1, -1)] = s
        } else if (t !== s) {
          ok = false
          break
        }
      }
      if (ok && (!best || r.literalCount > best.route.literalCount)) best = { route: r, pathParams }
    }
    return best
  }
}
