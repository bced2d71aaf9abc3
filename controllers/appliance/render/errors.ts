/**
 * The one error the appliance renderers throw. Bad input that reaches a config file is a spec
 * problem a person has to fix, so it is a {@link StalledError}: the reconciler stops retrying
 * until the spec changes.
 */
import { StalledError } from '../../../src/runtime/errors.js'

/** A value that cannot be written safely into dnsmasq, Caddy or nftables configuration. */
export class ApplianceRenderError extends StalledError {
  /** Where the value came from, e.g. `App/web spec.expose[1].host`; '' when unknown. */
  readonly field: string
  constructor(field: string, message: string) {
    super('InvalidApplianceConfig', field ? `${field}: ${message}` : message)
    this.field = field
  }
}
