/**
 * The manifest JSON Schemas (schemas/*.schema.json) compiled once with ajv (draft 2020-12,
 * allErrors, formats, defaults filled in). Reading and compiling happens on first use only, so
 * commands that never validate pay nothing.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Ajv, ValidateFunction } from 'ajv'
import { packageRoot } from '../model/paths.js'
import type { Kind } from '../model/types.js'
import { loadValidators } from './validator-cache.js'

/** Every manifest kind, with its schema file name. */
export const KIND_FILES: Record<Kind, string> = {
  Cluster: 'cluster.schema.json',
  App: 'app.schema.json',
  Appliance: 'appliance.schema.json',
  BackupPolicy: 'backup-policy.schema.json',
  Restore: 'restore.schema.json',
}

/** The kinds in documentation order. */
export const KINDS = Object.keys(KIND_FILES) as Kind[]

/** Reads one schema file from the package's schemas/ folder. */
export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(packageRoot(), 'schemas', file), 'utf8')) as Record<string, unknown>
}

type AddFormats = (ajv: Ajv) => unknown

let validators: Record<string, ValidateFunction> | undefined

/**
 * The compiled validator of a kind. Validators fill in schema defaults (mutating the data) and
 * report every error (`allErrors`), with `parentSchema` for the message translator. Compiled
 * code is cached on disk (validator-cache.ts).
 */
export function kindValidator(kind: Kind): ValidateFunction {
  if (!validators) throw new Error('kindValidator called before prepareKindValidators')
  return validators[kind]
}

/** Loads (from the cache) or compiles the kind validators; call once before kindValidator. */
export async function prepareKindValidators(): Promise<void> {
  if (!validators) {
    const texts = KINDS.map((k) => readFileSync(join(packageRoot(), 'schemas', KIND_FILES[k]), 'utf8'))
    const schemas = texts.map((t) => JSON.parse(t) as { $id: string })
    validators = await loadValidators({
      name: 'manifest-validators',
      inputs: ['v1', ...texts],
      exports: Object.fromEntries(KINDS.map((k, i) => [k, schemas[i].$id])),
      build: async () => {
        const [{ Ajv2020, _ }, formatsModule] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')])
        const addFormats = ((formatsModule as unknown as { default?: AddFormats }).default ?? formatsModule) as unknown as AddFormats
        const ajv = new Ajv2020({ allErrors: true, verbose: true, useDefaults: true, strict: true, strictTypes: false, strictRequired: false, code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } })
        ajv.addKeyword({ keyword: 'x-hint', schemaType: 'string' })
        addFormats(ajv as unknown as Ajv)
        for (const s of schemas) ajv.addSchema(s)
        return ajv as unknown as Ajv
      },
    })
  }
}
