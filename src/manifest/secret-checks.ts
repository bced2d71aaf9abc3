/**
 * Step 6 of loading: checks every secret reference without ever keeping a plaintext. Sealed
 * values must decrypt with the key (when one is available); `{env}` variables and `{file}` files
 * must exist when the caller is about to apply (`requireKey`). `{file}` paths must stay inside
 * the manifest folder in every case.
 */
import { existsSync } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import type { Manifest, ManifestError, SecretRef } from '../model/types.js'
import { isInside } from './compose-source.js'
import { errorAt } from './located.js'
import type { FieldPath } from './locate.js'
import type { ParsedDoc } from './yaml-docs.js'

/** Options of {@link checkSecrets}. */
export interface SecretCheckOptions {
  /** Key file to unseal with; when absent, `defaultKeyFile`. */
  keyFile?: string
  /** Used when `keyFile` is not given (PROXIMITY_KEY_FILE or ~/.config/proximity/secret.key, from the CLI). */
  defaultKeyFile?: string
  /** Missing key / env / file are errors (apply) rather than warnings (validate). @default false */
  requireKey?: boolean
  /** Environment used for `{env}` refs; without it they are not checked. @default undefined */
  env?: Record<string, string | undefined>
  cwd: string
}

/** All secret refs of a manifest with their field paths. */
export function secretRefs(m: Manifest): { path: FieldPath; ref: SecretRef }[] {
  const out: { path: FieldPath; ref: SecretRef }[] = []
  if (m.kind === 'App') for (const [k, ref] of Object.entries(m.spec.secrets)) out.push({ path: ['spec', 'secrets', k], ref })
  if (m.kind === 'Cluster') {
    if (m.spec.auth.tokenSecret) out.push({ path: ['spec', 'auth', 'tokenSecret'], ref: m.spec.auth.tokenSecret })
    if (m.spec.auth.password) out.push({ path: ['spec', 'auth', 'password'], ref: m.spec.auth.password })
    if (m.spec.ssh) out.push({ path: ['spec', 'ssh', 'privateKey'], ref: m.spec.ssh.privateKey })
  }
  return out
}

/** Checks secret refs of the given documents; returns errors and warnings (never plaintext). */
export async function checkSecrets(docs: { d: ParsedDoc; manifest: Manifest }[], opts: SecretCheckOptions): Promise<{ errors: ManifestError[]; warnings: ManifestError[] }> {
  const errors: ManifestError[] = []
  const warnings: ManifestError[] = []
  const sealed: { d: ParsedDoc; path: FieldPath; jwe: string }[] = []
  const label = (path: FieldPath): string => String(path[path.length - 1])
  for (const { d, manifest } of docs) {
    const rawSecrets = ((d.value.spec as Record<string, unknown> | undefined)?.secrets ?? {}) as Record<string, unknown>
    for (const { path, ref } of secretRefs(manifest)) {
      // Catalog-provided generate refs have no node in the file: locate them at spec.source.
      const at: FieldPath = path[1] === 'secrets' && !(String(path[2]) in rawSecrets) ? ['spec', 'source'] : path
      if ('sealed' in ref) sealed.push({ d, path: at, jwe: ref.sealed })
      else if ('env' in ref) {
        if (opts.requireKey && opts.env && opts.env[ref.env] === undefined) errors.push(errorAt(d, [...at, 'env'], `environment variable ${ref.env} is not set; export it before applying`))
      } else if ('file' in ref) {
        const full = resolve(dirname(d.file), ref.file)
        let real = full
        try {
          real = await realpath(full)
        } catch {
          if (opts.requireKey) errors.push(errorAt(d, [...at, 'file'], `secret file "${ref.file}" does not exist; the path is relative to this manifest`))
        }
        let root = d.root
        try {
          root = await realpath(d.root)
        } catch {
          // keep as given
        }
        if (isAbsolute(ref.file) || !isInside(root, real)) errors.push(errorAt(d, [...at, 'file'], `secret file "${ref.file}" is outside the manifest folder; keep it inside the folder given to -f`))
        else {
          const st = await stat(real).catch(() => undefined)
          if (st && !st.isFile()) errors.push(errorAt(d, [...at, 'file'], `secret file "${ref.file}" is ${st.isDirectory() ? 'a folder' : 'not a regular file'}; name the file that holds the value`))
        }
      }
    }
  }
  if (sealed.length === 0) return { errors, warnings }
  const keyFile = opts.keyFile ?? opts.defaultKeyFile
  const shownKey = keyFile ? relative(opts.cwd, keyFile) || keyFile : '(none)'
  const secrets = await import('./secrets.js')
  if (!keyFile || (!opts.keyFile && !existsSync(keyFile))) {
    const first = sealed[0]
    const e = errorAt(first.d, first.path, `sealed values cannot be checked: no secret key at ${shownKey}; pass --key FILE or set PROXIMITY_KEY_FILE`)
    if (opts.requireKey) for (const s of sealed) errors.push(errorAt(s.d, s.path, `${label(s.path)}: no secret key at ${shownKey} to unseal it; pass --key FILE or set PROXIMITY_KEY_FILE`))
    else warnings.push(e)
    return { errors, warnings }
  }
  let key
  try {
    key = await secrets.loadSecretKey(keyFile)
  } catch (e) {
    const first = sealed[0]
    errors.push(errorAt(first.d, first.path, e instanceof Error ? e.message : 'secret key cannot be loaded'))
    return { errors, warnings }
  }
  for (const s of sealed) {
    try {
      await secrets.unsealValue(s.jwe, key)
    } catch (e) {
      const reason = (e as { reason?: string }).reason
      const why = reason === 'SealedMalformed' ? 'is not a sealed value; seal it with `proximity secret seal`' : `cannot be decrypted with key ${shownKey} (sealed for another key?)`
      errors.push(errorAt(s.d, s.path, `sealed value ${why}`))
    }
  }
  return { errors, warnings }
}
