/**
 * Template resolution: `Cluster.defaults.template` / `spec.template` as a volid
 * (`local:vztmpl/alpine-…tar.xz`) or an aplinfo name prefix (`alpine-3.22`). A prefix is resolved
 * from the template storage first, then from aplinfo (downloading it once). REFERENCE §4.4, trap 22.
 */
import type { ControllerContext } from '../../src/runtime/controller.js'
import { StalledError } from '../../src/runtime/errors.js'
import { audited, read, waitTask } from '../shared/call.js'

/** Sorts template file names newest last (date stamps and versions compare as text). */
const newest = (names: string[]): string | undefined => [...names].sort()[names.length - 1]

const fileOf = (volid: string): string => volid.slice(volid.lastIndexOf('/') + 1)

/** What `spec` names on `node`: a template on the storage, one to download from aplinfo, or nothing. Read-only. */
export async function lookupTemplate(ctx: Pick<ControllerContext, 'pve' | 'cluster'>, node: string, spec: string): Promise<{ storage: string; local?: string; download?: string }> {
  const storage = spec.includes(':') ? spec.slice(0, spec.indexOf(':')) : ctx.cluster.spec.defaults.templateStorage
  const wanted = spec.includes(':') ? fileOf(spec) : undefined
  const prefix = wanted ?? spec
  const content = await read(`list templates on ${storage}`, () => ctx.pve.storageContent(node, storage, { content: 'vztmpl' }))
  const local = newest(content.map((c) => c.volid).filter((v) => (wanted ? fileOf(v) === wanted : fileOf(v).startsWith(prefix))))
  if (local) return { storage, local }
  const apl = await read('read the template index (aplinfo)', () => ctx.pve.aplinfo(node))
  const pick = newest(apl.map((a) => a.template).filter((t) => (wanted ? t === wanted : t.startsWith(prefix))))
  return pick ? { storage, download: pick } : { storage }
}

/** The sentence plan and apply share for a template nothing matches (`storage`: where it was looked for). */
export const templateNotFound = (spec: string, storage: string): string =>
  `template "${spec}" is neither on storage ${storage} nor in the proxmox template index; set spec.template or Cluster.spec.defaults.template to an existing template`

/**
 * Returns a vztmpl volid present on `node`, downloading from aplinfo when needed (progress is
 * reported as `creating` on `key`). Idempotent. Throws StalledError `TemplateNotFound` when
 * nothing matches.
 */
export async function resolveTemplate(ctx: ControllerContext, node: string, spec: string, key: string): Promise<string> {
  const found = await lookupTemplate(ctx, node, spec)
  if (found.local) return found.local
  const { storage, download: pick } = found
  if (!pick) throw new StalledError('TemplateNotFound', templateNotFound(spec, storage))
  ctx.progress(key, 'creating', `downloading template ${pick}`)
  const upid = await audited(ctx, { action: 'POST /nodes/{node}/aplinfo', target: `${storage}:vztmpl/${pick}`, reason: 'template for create', what: `download template ${pick}` }, () =>
    ctx.pve.downloadTemplate(node, storage, pick),
  )
  await waitTask(ctx, node, upid, `download template ${pick}`)
  return `${storage}:vztmpl/${pick}`
}
