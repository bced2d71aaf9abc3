/**
 * Keeps src/model/types.ts and schemas/*.schema.json in step. Each constant below lists the
 * fields of one TS type and is checked by the compiler (`satisfies Fields<T>`: a field added to
 * the type but not here fails `tsc`; a field listed here but absent from the type fails too);
 * the tests then compare the same lists with the schema properties, so a field added to one
 * side only fails. Also checks manifest.schema.json against the per-kind files, and schedules.
 */
import { describe, expect, it } from 'vitest'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { AppSpec, ApplianceSpec, BackupPolicySpec, ClusterSpec, HealthSpec, Metadata, RestoreSpec } from '../../src/model/types.js'
import { KIND_FILES, readSchema } from '../../src/manifest/index.js'

type Fields<T> = { [K in keyof Required<T>]: true }
type Item<T> = T extends (infer U)[] ? U : never
type Def<T> = NonNullable<T>

const T = true as const
const fields = {
  metadata: { name: T, labels: T, annotations: T } satisfies Fields<Metadata>,
  cluster: { endpoint: T, tls: T, auth: T, ssh: T, defaults: T, vmidRange: T, concurrency: T, owner: T, deleteThreshold: T, git: T } satisfies Fields<ClusterSpec>,
  clusterGit: { url: T, ref: T, path: T, interval: T, tokenFile: T, username: T, sshKeyFile: T, knownHostsFile: T, webhook: T, notify: T } satisfies Fields<Def<ClusterSpec['git']>>,
  clusterGitWebhook: { secretFile: T } satisfies Fields<Def<Def<ClusterSpec['git']>['webhook']>>,
  clusterGitNotify: { webhook: T, commitStatus: T } satisfies Fields<Def<Def<ClusterSpec['git']>['notify']>>,
  clusterGitNotifyWebhook: { url: T, secretFile: T } satisfies Fields<Def<Def<Def<ClusterSpec['git']>['notify']>['webhook']>>,
  clusterGitCommitStatus: { api: T, repo: T, tokenFile: T } satisfies Fields<Def<Def<Def<ClusterSpec['git']>['notify']>['commitStatus']>>,
  clusterTls: { fingerprint: T, ca: T, insecureSkipVerify: T } satisfies Fields<ClusterSpec['tls']>,
  clusterAuth: { tokenId: T, tokenSecret: T, username: T, password: T } satisfies Fields<ClusterSpec['auth']>,
  clusterSsh: { host: T, port: T, user: T, privateKey: T, hostKey: T } satisfies Fields<Def<ClusterSpec['ssh']>>,
  clusterDefaults: { node: T, storage: T, templateStorage: T, backupStorage: T, bridge: T, template: T, resources: T } satisfies Fields<ClusterSpec['defaults']>,
  clusterVmidRange: { min: T, max: T } satisfies Fields<ClusterSpec['vmidRange']>,
  clusterConcurrency: { perNode: T, perStorage: T } satisfies Fields<ClusterSpec['concurrency']>,
  app: { source: T, node: T, placement: T, resources: T, template: T, network: T, hostname: T, expose: T, env: T, secrets: T, volumes: T, health: T, state: T, update: T, deletionPolicy: T, suspend: T, ha: T, dependsOn: T } satisfies Fields<AppSpec>,
  appSource: { catalog: T, version: T, compose: T, composeFile: T } satisfies Fields<AppSpec['source']>,
  appPlacement: { nodes: T, strategy: T } satisfies Fields<Def<AppSpec['placement']>>,
  appResources: { cores: T, memory: T, swap: T, disk: T, storage: T } satisfies Fields<AppSpec['resources']>,
  appNetwork: { appliance: T, bridge: T, ip: T, gateway: T } satisfies Fields<AppSpec['network']>,
  appExpose: { port: T, host: T, tls: T } satisfies Fields<Item<AppSpec['expose']>>,
  appVolume: { name: T, path: T, size: T, backup: T } satisfies Fields<Item<AppSpec['volumes']>>,
  appHealth: { http: T, tcp: T, compose: T, timeout: T } satisfies Fields<HealthSpec>,
  appUpdate: { strategy: T, rollback: T, healthTimeout: T } satisfies Fields<AppSpec['update']>,
  appHa: { enabled: T } satisfies Fields<AppSpec['ha']>,
  appliance: { node: T, wan: T, lan: T, dns: T, proxy: T, nat: T, resources: T } satisfies Fields<ApplianceSpec>,
  applianceWan: { bridge: T, ip: T, gateway: T } satisfies Fields<ApplianceSpec['wan']>,
  applianceLan: { bridge: T, subnet: T, gateway: T, dhcpRange: T } satisfies Fields<ApplianceSpec['lan']>,
  applianceDns: { domain: T, upstream: T, records: T } satisfies Fields<ApplianceSpec['dns']>,
  applianceProxy: { tls: T, acmeEmail: T } satisfies Fields<ApplianceSpec['proxy']>,
  applianceNat: { masquerade: T, portForwards: T } satisfies Fields<ApplianceSpec['nat']>,
  applianceResources: { cores: T, memory: T, swap: T, disk: T, storage: T } satisfies Fields<ApplianceSpec['resources']>,
  backupPolicy: { schedule: T, selector: T, storage: T, mode: T, compress: T, retention: T, includeAppliance: T, suspend: T, verify: T } satisfies Fields<BackupPolicySpec>,
  backupVerify: { schedule: T, suspend: T, healthTimeout: T, appsPerRun: T } satisfies Fields<Def<BackupPolicySpec['verify']>>,
  backupSelector: { matchLabels: T, apps: T, all: T } satisfies Fields<BackupPolicySpec['selector']>,
  backupRetention: { keepLast: T, keepHourly: T, keepDaily: T, keepWeekly: T, keepMonthly: T, keepYearly: T } satisfies Fields<BackupPolicySpec['retention']>,
  restore: { app: T, backup: T, mode: T } satisfies Fields<RestoreSpec>,
}

type Schema = { properties?: Record<string, Schema>; items?: Schema; $ref?: string; $defs?: Record<string, Schema> }
const schemas = {
  cluster: readSchema('cluster.schema.json') as Schema,
  app: readSchema('app.schema.json') as Schema,
  appliance: readSchema('appliance.schema.json') as Schema,
  backupPolicy: readSchema('backup-policy.schema.json') as Schema,
  restore: readSchema('restore.schema.json') as Schema,
}

/** Follows a dotted path of property names ('[]' steps into array items, $refs are resolved). */
function props(root: Schema, path: string[]): string[] {
  let s: Schema = root
  const deref = (x: Schema): Schema => (x.$ref ? root.$defs![x.$ref.replace('#/$defs/', '')] : x)
  for (const p of path) s = p === '[]' ? deref(s.items!) : deref(s.properties![p])
  return Object.keys(deref(s).properties ?? {}).sort()
}

const cases: { name: keyof typeof fields; reason: string; schema: Schema; path: string[] }[] = [
  { name: 'metadata', reason: 'metadata is shared by every kind', schema: schemas.app, path: ['metadata'] },
  { name: 'cluster', reason: 'Cluster spec top level', schema: schemas.cluster, path: ['spec'] },
  { name: 'clusterTls', reason: 'TLS pinning options', schema: schemas.cluster, path: ['spec', 'tls'] },
  { name: 'clusterAuth', reason: 'credentials', schema: schemas.cluster, path: ['spec', 'auth'] },
  { name: 'clusterSsh', reason: 'SSH access', schema: schemas.cluster, path: ['spec', 'ssh'] },
  { name: 'clusterDefaults', reason: 'defaults for apps', schema: schemas.cluster, path: ['spec', 'defaults'] },
  { name: 'clusterVmidRange', reason: 'vmid allocation', schema: schemas.cluster, path: ['spec', 'vmidRange'] },
  { name: 'clusterConcurrency', reason: 'apply limits', schema: schemas.cluster, path: ['spec', 'concurrency'] },
  { name: 'clusterGit', reason: 'the git source serve follows without --git', schema: schemas.cluster, path: ['spec', 'git'] },
  { name: 'clusterGitWebhook', reason: 'inbound webhooks', schema: schemas.cluster, path: ['spec', 'git', 'webhook'] },
  { name: 'clusterGitNotify', reason: 'notification receivers', schema: schemas.cluster, path: ['spec', 'git', 'notify'] },
  { name: 'clusterGitNotifyWebhook', reason: 'the signed JSON receiver', schema: schemas.cluster, path: ['spec', 'git', 'notify', 'webhook'] },
  { name: 'clusterGitCommitStatus', reason: 'commit statuses', schema: schemas.cluster, path: ['spec', 'git', 'notify', 'commitStatus'] },
  { name: 'app', reason: 'App spec top level', schema: schemas.app, path: ['spec'] },
  { name: 'appSource', reason: 'App sources', schema: schemas.app, path: ['spec', 'source'] },
  { name: 'appPlacement', reason: 'placement', schema: schemas.app, path: ['spec', 'placement'] },
  { name: 'appResources', reason: 'resources', schema: schemas.app, path: ['spec', 'resources'] },
  { name: 'appNetwork', reason: 'network', schema: schemas.app, path: ['spec', 'network'] },
  { name: 'appExpose', reason: 'expose items', schema: schemas.app, path: ['spec', 'expose', '[]'] },
  { name: 'appVolume', reason: 'volume items', schema: schemas.app, path: ['spec', 'volumes', '[]'] },
  { name: 'appHealth', reason: 'health checks', schema: schemas.app, path: ['spec', 'health'] },
  { name: 'appUpdate', reason: 'update strategy', schema: schemas.app, path: ['spec', 'update'] },
  { name: 'appHa', reason: 'HA', schema: schemas.app, path: ['spec', 'ha'] },
  { name: 'appliance', reason: 'Appliance spec top level', schema: schemas.appliance, path: ['spec'] },
  { name: 'applianceWan', reason: 'WAN side', schema: schemas.appliance, path: ['spec', 'wan'] },
  { name: 'applianceLan', reason: 'LAN side', schema: schemas.appliance, path: ['spec', 'lan'] },
  { name: 'applianceDns', reason: 'DNS', schema: schemas.appliance, path: ['spec', 'dns'] },
  { name: 'applianceProxy', reason: 'reverse proxy', schema: schemas.appliance, path: ['spec', 'proxy'] },
  { name: 'applianceNat', reason: 'NAT', schema: schemas.appliance, path: ['spec', 'nat'] },
  { name: 'applianceResources', reason: 'appliance resources', schema: schemas.appliance, path: ['spec', 'resources'] },
  { name: 'backupPolicy', reason: 'BackupPolicy spec top level', schema: schemas.backupPolicy, path: ['spec'] },
  { name: 'backupSelector', reason: 'selector', schema: schemas.backupPolicy, path: ['spec', 'selector'] },
  { name: 'backupRetention', reason: 'retention', schema: schemas.backupPolicy, path: ['spec', 'retention'] },
  { name: 'backupVerify', reason: 'restore drills', schema: schemas.backupPolicy, path: ['spec', 'verify'] },
  { name: 'restore', reason: 'Restore spec', schema: schemas.restore, path: ['spec'] },
]

describe('model types and schemas agree', () => {
  it('covers every field list', () => expect(cases.map((c) => c.name).sort()).toEqual(Object.keys(fields).sort()))
  it.each(cases)('$name: $reason', ({ name, schema, path }) => {
    expect(props(schema, path)).toEqual(Object.keys(fields[name]).sort())
  })
})

describe('manifest.schema.json', () => {
  const manifest = readSchema('manifest.schema.json') as Schema & { oneOf: { $ref: string }[] }
  it('embeds every kind schema unchanged', () => {
    for (const [kind, file] of Object.entries(KIND_FILES)) {
      const { $schema: _s, $id: _i, $defs, ...body } = readSchema(file) as Record<string, unknown>
      expect(manifest.$defs![kind], kind).toEqual(body)
      for (const [k, v] of Object.entries($defs as object)) expect(manifest.$defs![k], `${kind} $defs.${k}`).toEqual(v)
    }
    expect(manifest.oneOf.map((o) => o.$ref).sort()).toEqual(Object.keys(KIND_FILES).map((k) => `#/$defs/${k}`).sort())
  })

  it('validates a manifest of each kind and rejects an unknown kind', () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false })
    const validate = ajv.compile(manifest)
    expect(validate({ apiVersion: 'proximity/v1alpha1', kind: 'Restore', metadata: { name: 'r' }, spec: { app: 'web' } })).toBe(true)
    expect(validate({ apiVersion: 'proximity/v1alpha1', kind: 'App', metadata: { name: 'a' }, spec: { source: { catalog: 'gitea' } } })).toBe(true)
    expect(validate({ apiVersion: 'proximity/v1alpha1', kind: 'Pod', metadata: { name: 'a' }, spec: {} })).toBe(false)
  })
})

describe('schedule pattern', () => {
  // The pattern is a character filter (no shell text, no newlines); the calendar grammar itself is
  // checked by the loader with checkBackupSchedule (test/manifest/schedule-check.test.ts).
  const ajv = new Ajv2020({ strict: false, validateFormats: false })
  const pattern = (schemas.backupPolicy.properties!.spec.properties!.schedule as { pattern: string }).pattern
  const ok = ajv.compile({ type: 'string', pattern })
  it.each([
    { given: 'daily', want: true, reason: 'keyword' },
    { given: '*-*-* 03:00', want: true, reason: 'every day at 3' },
    { given: 'mon..fri 22:30', want: true, reason: 'weekday range' },
    { given: '*-05', want: true, reason: 'month-day without a year: valid in Proxmox, refused by the old pattern' },
    { given: 'Sat *-1..7 15:00', want: true, reason: 'capitalised weekday and a day range: valid in Proxmox, refused by the old pattern' },
    { given: 'daily UTC', want: true, reason: 'a time zone suffix: valid in Proxmox, refused by the old pattern' },
    { given: '*/15', want: true, reason: 'every 15 minutes' },
    { given: 'sat; reboot', want: false, reason: 'shell text' },
    { given: 'sat\n02:00', want: false, reason: 'a newline' },
    { given: '$(reboot)', want: false, reason: 'command substitution' },
    { given: '', want: false, reason: 'empty' },
  ])('$given: $reason', ({ given, want }) => expect(ok(given)).toBe(want))
})
