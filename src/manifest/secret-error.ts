/**
 * The one error type of the secrets module. Its message is safe to print: it never contains a
 * secret value, a sealed value (ciphertext) or key material, only what failed and what to do.
 */
export class SecretError extends Error {
  override readonly name = 'SecretError'
  /**
   * PascalCase reason for callers that branch or set a condition, e.g. `KeyNotFound`,
   * `KeyUnreadable`, `KeyMalformed`, `PublicKeyOnly`, `SealedMalformed`, `WrongKey`,
   * `UnsealFailed`, `EnvNotSet`, `FileNotFound`, `FileUnreadable`, `KeyRequired`,
   * `NotResolvable`, `InvalidArgument`.
   */
  readonly reason: string
  constructor(reason: string, message: string) {
    // WARNING: never pass a `cause` here: an underlying error may quote the input it failed on.
    super(message)
    this.reason = reason
  }
}
