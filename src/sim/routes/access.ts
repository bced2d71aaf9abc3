import { createHash } from 'node:crypto'
import { flag, str, type RouteDef, type SimCore } from '../core.js'
import { fail } from '../errors.js'

/** The realms every PVE install has (pve-access-control Auth/Plugin.pm adds them by force). */
const REALMS: Record<string, Record<string, string>> = {
  pam: { type: 'pam', plugin: 'PVE::Auth::PAM', comment: 'Linux PAM standard authentication' },
  pve: { type: 'pve', comment: 'Proxmox VE authentication server' },
}

const sha1 = (v: unknown): string => createHash('sha1').update(JSON.stringify(v)).digest('hex')

/** A user known to the simulator: root@pam, plus the user of the API token it accepts. */
interface SimUser {
  userid: string
  tokens: Record<string, { privsep: number; expire: number }>
}

function users(core: SimCore): SimUser[] {
  const byId = new Map<string, SimUser>([['root@pam', { userid: 'root@pam', tokens: {} }]])
  const token = core.opts.tokenId
  const bang = token?.indexOf('!') ?? -1
  if (token && bang > 0) {
    const userid = token.slice(0, bang)
    const user = byId.get(userid) ?? { userid, tokens: {} }
    // The sandbox token acts with its user's rights (no separate ACLs are modelled).
    user.tokens[token.slice(bang + 1)] = { privsep: 0, expire: 0 }
    byId.set(userid, user)
  }
  return [...byId.values()].sort((a, b) => (a.userid < b.userid ? -1 : 1))
}

const groupsOf = (core: SimCore): Record<string, { comment?: string; users: string[] }> => (core.state.groups ??= {})
const memberOf = (core: SimCore, userid: string): string[] =>
  Object.entries(groupsOf(core))
    .filter(([, g]) => g.users.includes(userid))
    .map(([id]) => id)
    .sort()

/**
 * Access routes (pve-access-control API2/User.pm, Domains.pm, Group.pm). `POST /access/ticket`
 * is answered by the server itself (it needs the auth config).
 */
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
  {
    method: 'GET',
    path: '/access/users',
    handler: ({ core, params }) => {
      const full = flag(params, 'full')
      return users(core)
        .filter(() => params.enabled === undefined || flag(params, 'enabled'))
        .map((u) => ({
          userid: u.userid,
          enable: 1,
          expire: 0,
          'realm-type': REALMS[u.userid.slice(u.userid.lastIndexOf('@') + 1)]?.type,
          ...(full
            ? { groups: memberOf(core, u.userid).join(','), tokens: Object.entries(u.tokens).map(([tokenid, t]) => ({ tokenid, ...t })) }
            : {}),
        }))
    },
  },
  {
    method: 'GET',
    path: '/access/users/{userid}',
    handler: ({ core, params }) => {
      const userid = String(params.userid)
      const u = users(core).find((x) => x.userid === userid)
      if (!u) throw fail(`no such user ('${userid}')`)
      return { enable: 1, expire: 0, groups: memberOf(core, userid), tokens: u.tokens }
    },
  },
  {
    method: 'GET',
    path: '/access/domains',
    handler: () => Object.entries(REALMS).map(([realm, d]) => ({ realm, type: d.type, comment: d.comment })),
  },
  {
    method: 'GET',
    path: '/access/domains/{realm}',
    handler: ({ params }) => {
      const realm = String(params.realm)
      const d = REALMS[realm]
      if (!d) throw fail(`domain '${realm}' does not exist`)
      return { ...d, digest: sha1(REALMS) }
    },
  },
  {
    method: 'GET',
    path: '/access/groups',
    handler: ({ core }) =>
      Object.entries(groupsOf(core))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([groupid, g]) => ({ groupid, ...(g.comment !== undefined ? { comment: g.comment } : {}), users: [...g.users].sort().join(',') })),
  },
  {
    method: 'POST',
    path: '/access/groups',
    handler: ({ core, params }) => {
      const id = String(params.groupid)
      const groups = groupsOf(core)
      if (groups[id]) throw fail(`group '${id}' already exists`)
      const comment = str(params, 'comment')
      groups[id] = { users: [], ...(comment ? { comment } : {}) }
      core.markDirty()
      return null
    },
  },
  {
    method: 'GET',
    path: '/access/groups/{groupid}',
    handler: ({ core, params }) => {
      const id = String(params.groupid)
      const g = groupsOf(core)[id]
      if (!g) throw fail(`group '${id}' does not exist`)
      return { members: [...g.users], ...(g.comment !== undefined ? { comment: g.comment } : {}) }
    },
  },
  {
    method: 'DELETE',
    path: '/access/groups/{groupid}',
    handler: ({ core, params }) => {
      const id = String(params.groupid)
      const groups = groupsOf(core)
      if (!groups[id]) throw fail(`group '${id}' does not exist`)
      delete groups[id]
      core.markDirty()
      return null
    },
  },
]
