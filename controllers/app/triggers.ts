/** Cross-object triggers of the App controller: who to look at again when another object changes. */
import type { ManifestSet } from '../../src/model/types.js'

/**
 * The Apps whose `dependsOn` names the App `changed`, or that join the Appliance `changed`
 * (pure): they wait on it, so they are looked at again as soon as it changes instead of after
 * their waiting delay.
 */
export function appsDependingOn(changed: string, set: ManifestSet): string[] {
  if (changed.startsWith('Appliance/')) {
    // Apps on an appliance's LAN wait for it: look again once it changed (e.g. became Ready).
    const appliance = changed.slice('Appliance/'.length)
    return set.apps.filter((a) => a.spec.network.appliance === appliance).map((a) => `App/${a.metadata.name}`)
  }
  if (!changed.startsWith('App/')) return []
  const name = changed.slice('App/'.length)
  return set.apps.filter((a) => a.spec.dependsOn.includes(name)).map((a) => `App/${a.metadata.name}`)
}
