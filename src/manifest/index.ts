/**
 * Public surface of the manifest loader (DESIGN §2): `loadManifests` and helpers. Secrets
 * (sealing, unsealing, keys) live in ./secrets.js.
 */
export { loadManifests, sortErrors, type LoadOptions, type LoadResultWithWarnings } from './load.js'
export { formatError } from './format.js'
export { canonicalJson, specHash, BUILTIN_APP_RESOURCES } from './normalize.js'
export { MAX_FILE_BYTES } from './read-files.js'
export { MAX_ALIAS_COUNT, MAX_DEPTH } from './yaml-docs.js'
export { KINDS, KIND_FILES, readSchema } from './schemas.js'
export type { CatalogEntryLike, CatalogPort } from './catalog-port.js'
export { secretRefs } from './secret-checks.js'
