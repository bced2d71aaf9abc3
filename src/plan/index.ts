/** The pure plan: normalisation, guest diff, plan assembly, text and JSON rendering. */
export { buildPlan, isEmptyPlan, isRefused, refusalsOf, summarize } from './build.js'
export { diffGuest, IMPACT_ORDER, worstImpact, maxdiskGiB } from './diff.js'
export { planToJson, type PlanJson, type PlanJsonChange, type PlanJsonField } from './json.js'
export {
  bytesToGiB,
  bytesToMiB,
  gibToBytes,
  mibToBytes,
  normalizeDescription,
  normalizeTags,
  parseSizeBytes,
  parseVolume,
  diffPropertyMaps,
  type VolumeView,
} from './normalize.js'
export { formatPropertyString, parsePropertyString } from './property-string.js'
export { impactNote, renderPlan, type RenderPlanOptions } from './render.js'
export { displayValue, formatSize, formatValue, unitOf } from './display.js'
export { deployChanges, diffDeploy, readDeploySummary, sameDeploy, summarizeDeploy, type DeployedService, type DeployInput, type DeploySummary } from './deploy.js'
export type { DesiredGuest, ObservedGuest, Plan, PlanFieldChange, PlanSummary, SizeUnit } from './types.js'
