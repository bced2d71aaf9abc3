import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import { err, out, type CliContext } from '../context.js'
import { SecretError } from '../../manifest/secret-error.js'
import { resolveKeyLocation } from '../../engine/key-location.js'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Registers `proximity secret keygen` and `proximity secret seal`. There is deliberately no
 * `unseal` command: plaintext never reaches the output. Errors set `ctx.exitCode = 1`.
 */
export function registerSecret(program: Command, ctx: CliContext): void {
  const secret = program
    .command('secret')
    .description('create the secret key and seal secret values so they are safe to commit')
    .addHelpText(
      'after',
      '\nSealed values are JWE (ECDH-ES+A256KW, A256GCM, X25519). The private key unseals them in memory\n' +
        'when applying; keep it out of git. The public key (FILE.pub) is enough to seal.',
    )

  secret
    .command('keygen')
    .description('create a new secret key (private FILE, mode 0600, and public FILE.pub)')
    .option('--out <file>', 'where to write the private key (default: $PROXIMITY_KEY_FILE or ~/.config/proximity/secret.key)')
    .option('--force', 'replace an existing key (values sealed for the old key can no longer be unsealed)', false)
    .addHelpText(
      'after',
      '\nThe key is kept apart from the state directory that holds the values it protects:\n' +
        '$XDG_CONFIG_HOME/proximity/secret.key (default ~/.config/proximity/secret.key), mode 0600.\n' +
        'Example:\n  proximity secret keygen --out /secure/place/proximity.key',
    )
    .action(async (opts: { out?: string; force: boolean }) => {
      await runSafely(ctx, () => keygen(ctx, opts), true)
    })

  secret
    .command('seal')
    .description('read a value from stdin and print it sealed, ready to paste into a manifest')
    .option('--key <file>', 'private or public key file (default: $PROXIMITY_KEY_FILE or ~/.config/proximity/secret.key)')
    .option('--name <name>', 'print as "NAME: {sealed: …}" for a spec.secrets entry')
    .addHelpText(
      'after',
      '\nOne trailing newline of the input is removed. The value is never echoed.\n' +
        'Example:\n  printf %s "$DB_PASSWORD" | proximity secret seal --name DB_PASSWORD',
    )
    .action(async (opts: { key?: string; name?: string }) => {
      await runSafely(ctx, () => seal(ctx, opts))
    })
}

/** jose is only needed when a secret command runs. */
const secrets = () => import('../../manifest/secrets.js')

async function keygen(ctx: CliContext, opts: { out?: string; force: boolean }): Promise<void> {
  const { defaultKeyPath, generateSecretKey } = await secrets()
  const path = opts.out ? resolve(ctx.cwd, opts.out) : defaultKeyPath(ctx.env, ctx.cwd)
  const pubPath = `${path}.pub`
  if (!opts.force && !opts.out) {
    // A key left in an old location is still the one in use: a new key would orphan its values.
    const found = resolveKeyLocation(ctx.env, ctx.cwd)
    if (found.notice) throw new SecretError('KeyExists', `${found.path} is the secret key in use; move it rather than making a new one (${found.notice.replace(/^notice: .*Move it: /, '')}), or pass --force`)
  }
  if (!opts.force) {
    for (const p of [path, pubPath]) {
      if (await exists(p)) {
        throw new SecretError('KeyExists', `${p} already exists; pass --force to replace it (values sealed for the old key will no longer unseal)`)
      }
    }
  }
  const { keyText, publicKeyText, kid } = await generateSecretKey()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const flag = opts.force ? 'w' : 'wx'
  await writeFile(path, keyText, { mode: 0o600, flag })
  await chmod(path, 0o600) // an existing file keeps its old mode on overwrite
  await writeFile(pubPath, publicKeyText, { mode: 0o644, flag })
  out(ctx, `wrote secret key ${path} (mode 0600, key id ${kid})`)
  out(ctx, `wrote public key ${pubPath} (share it so others can seal values)`)
  out(ctx, `keep ${path} out of git and back it up: without it sealed values cannot be unsealed`)
}

async function seal(ctx: CliContext, opts: { key?: string; name?: string }): Promise<void> {
  if (opts.name !== undefined && !ENV_NAME.test(opts.name)) {
    throw new SecretError('InvalidArgument', `--name ${JSON.stringify(opts.name)} is not a valid secret name; use letters, digits and _`)
  }
  const { loadSecretKey, sealValue, stripOneNewline } = await secrets()
  const found = opts.key ? undefined : resolveKeyLocation(ctx.env, ctx.cwd)
  if (found?.notice) err(ctx, found.notice)
  const path = opts.key ? resolve(ctx.cwd, opts.key) : (found as { path: string }).path
  const key = await loadSecretKey(path, { onWarning: (w) => err(ctx, `warning: ${w}`) })
  if ((ctx.stdin as { isTTY?: boolean }).isTTY) err(ctx, 'reading the value from stdin; end it with Ctrl-D')
  const value = stripOneNewline(await readAll(ctx))
  if (value === '') {
    throw new SecretError('InvalidArgument', 'no value on stdin; pipe it in, e.g. printf %s "$VALUE" | proximity secret seal')
  }
  const sealed = await sealValue(value, key)
  out(ctx, opts.name ? `${opts.name}: {sealed: "${sealed}"}` : `{sealed: "${sealed}"}`)
}

async function readAll(ctx: CliContext): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of ctx.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks).toString('utf8')
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** Runs a command body; expected failures print one line and set exit code 1. */
async function runSafely(ctx: CliContext, body: () => Promise<void>, messageIsSafe = false): Promise<void> {
  try {
    await body()
  } catch (e) {
    ctx.exitCode = 1
    if (e instanceof SecretError) {
      err(ctx, `error: ${e.message}`)
      return
    }
    if (messageIsSafe && e instanceof Error) {
      err(ctx, `error: ${e.message}`)
      return
    }
    // Unexpected failures may carry input in their text: print only the code, never the message.
    const code = (e as NodeJS.ErrnoException).code
    err(ctx, `error: secret command failed${code ? ` (${code})` : ''}; check the paths and permissions`)
  }
}
