/**
 * The manifest JSON Schemas (schemas/*.schema.json) compiled once with ajv (draft 2020-12,
 * allErrors, formats, defaults filled in). Reading and compiling happens on first use only, so
 * commands that never validate pay nothing.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import formatsModule from 'ajv-formats'
import { packageRoot } from '../model/paths.js'
import type { Kind } from '../model/types.js'

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

type AddFormats = (ajv: Ajv2020) => unknown
const addFormats = ((formatsModule as unknown as { default?: AddFormats }).default ?? formatsModule) as unknown as AddFormats

let validators: Map<Kind, ValidateFunction> | undefined

/**
 * The compiled validator of a kind. Validators fill in schema defaults (mutating the data) and
 * report every error (`allErrors`), with `parentSchema` for the message translator.
 */
export function kindValidator(kind: Kind): ValidateFunction {
  if (!validators) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, useDefaults: true, strict: true, strictTypes: false, strictRequired: false })
    ajv.addKeyword({ keyword: 'x-hint', schemaType: 'string' })
    addFormats(ajv)
    validators = new Map()
    for (const kind of KINDS) validators.set(kind, ajv.compile(readSchema(KIND_FILES[kind])))
  }
  return validators.get(kind)!
}
