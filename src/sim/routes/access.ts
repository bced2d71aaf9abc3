import type { RouteDef } from '../core.js'

/** Access routes. `POST /access/ticket` is answered by the server itself (it needs the auth config). */
export const accessRoutes: RouteDef[] = [
  { method: 'POST', path: '/access/ticket', noAuth: true, handler: () => null },
  {
    method: 'GET',
    path: '/access/permissions',
    handler: ({ params }) => {
      const privs = ['VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Config.Options', 'VM.PowerMgmt', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit', 'Sys.Audit', 'Sys.Modify', 'Pool.Allocate', 'Pool.Audit']
      const path = typeof params.path === 'string' ? params.path : '/'
      return { [path]: Object.fromEntries(privs.map((p) => [p, 1])) }
    },
  },
]
