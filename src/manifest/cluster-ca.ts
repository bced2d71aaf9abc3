/**
 * Step 3c of loading, for the Cluster: `tls.ca` is PEM text or the path of a PEM file relative
 * to the manifest (DESIGN §2). A path is read here (inside the manifest tree, a regular UTF-8
 * file) and replaced by its text, and the certificates are parsed, so a wrong CA is a located
 * manifest error rather than a TLS failure on the first request. Reads files only.
 */
import { X509Certificate } from 'node:crypto'
import { readFile, realpath, stat } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import type { ManifestError } from '../model/types.js'
import { isInside } from './compose-source.js'
import { errorAt } from './located.js'
import { decodeYamlBytes } from './read-files.js'
import type { ParsedDoc } from './yaml-docs.js'

/** Largest CA file read (a bundle of a few hundred certificates). */
const MAX_CA_BYTES = 1024 * 1024

/**
 * Resolves `spec.tls.ca` of Cluster document `d` in place (path → PEM text) and checks that it
 * holds at least one parsable certificate. Returns located errors; changes nothing on error.
 */
export async function resolveClusterCa(d: ParsedDoc): Promise<ManifestError[]> {
  const tls = (d.value.spec as { tls?: { ca?: unknown } } | undefined)?.tls
  if (!tls || typeof tls.ca !== 'string') return []
  const where = ['spec', 'tls', 'ca']
  const ca = tls.ca
  let pem = ca
  if (!ca.includes('-----BEGIN')) {
    const full = resolve(dirname(d.file), ca)
    const real = await realpath(full).catch(() => undefined)
    if (!real) return [errorAt(d, where, `CA file "${ca}" does not exist; give PEM text or a path relative to this manifest`)]
    const root = await realpath(d.root).catch(() => d.root)
    if (isAbsolute(ca) || !isInside(root, real)) return [errorAt(d, where, `CA file "${ca}" is outside the manifest folder; move it inside the folder given to -f`)]
    const st = await stat(real)
    if (!st.isFile()) return [errorAt(d, where, `CA file "${ca}" is ${st.isDirectory() ? 'a folder' : 'not a regular file'}; name the PEM file`)]
    if (st.size > MAX_CA_BYTES) return [errorAt(d, where, `CA file "${ca}" is larger than 1 MiB; it should hold PEM certificates`)]
    const text = decodeYamlBytes(await readFile(real))
    if (typeof text !== 'string') return [errorAt(d, where, `CA file "${ca}": ${text.message}`)]
    pem = text
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) return [errorAt(d, where, 'CA holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA certificate of the Proxmox API')]
  for (const b of blocks) {
    try {
      new X509Certificate(b)
    } catch {
      return [errorAt(d, where, 'CA holds a certificate that cannot be parsed; copy it again from /etc/pve/pve-root-ca.pem')]
    }
  }
  tls.ca = pem
  return []
}
