/**
 * What the loader needs from the app catalog (src/catalog). Kept as a small port so the loader
 * can be tested with a fixture catalog and the real catalog is imported only when an App uses it.
 */

/** A catalog entry as the loader reads it (sizes already numbers: MiB memory/swap, GiB disks). */
export interface CatalogEntryLike {
  name: string
  version: string
  compose: Record<string, unknown>
  health?: { http?: { port: number; path: string; expectStatus: number }; tcp?: { port: number }; compose?: boolean; timeout?: string }
  resources: { cores: number; memory: number; swap: number; disk: number }
  volumes: { name: string; path: string; size: number; backup?: boolean }[]
  secrets: Record<string, { generate: { length: number } }>
  env: Record<string, string>
  expose: { port: number }[]
}

/** Looks catalog apps up by name. */
export interface CatalogPort {
  get(name: string): CatalogEntryLike | undefined
  names(): string[]
}

/** The real catalog, imported on first use. */
export async function defaultCatalog(): Promise<CatalogPort> {
  const mod = await import('../catalog/index.js')
  return {
    get: (name) => mod.getCatalogEntry(name) as CatalogEntryLike | undefined,
    names: () => mod.listCatalog().map((e: { name: string }) => e.name),
  }
}
