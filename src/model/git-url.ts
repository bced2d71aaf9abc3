/**
 * Rules for a git repository URL and a ref as a user gives them (`serve --git`, the Cluster
 * manifest's `spec.git`), shared by the manifest checks and the git provider. Pure.
 */

/** The URL as it may be shown in logs, status and the API: user info (token, password) removed. */
export function displayGitUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.username || u.password) {
      u.username = ''
      u.password = ''
    }
    return u.toString()
  } catch {
    // scp-like `user@host:path`
    return url.replace(/^[^@/]*@(?=[^:]+:)/, '')
  }
}

/** A full commit sha. */
export const GIT_SHA = /^[0-9a-f]{40}$/

/** Branch and tag names git accepts, minus anything that could read as an option or a range. */
export const GIT_REF_NAME = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/-]{1,200}(?<![./])$/

/**
 * Why `url` cannot be used as a repository URL, or undefined when it can: https, http, ssh
 * (`ssh://` or `user@host:path`), git, `file://` or a local path; no password or token in it
 * (`tokenHint` says where the token goes instead), no git remote helpers (`ext::`), nothing that
 * could be read as an option.
 */
export function gitUrlProblem(url: string, tokenHint: string): string | undefined {
  if (url.length === 0 || url.length > 2048 || /[\s\0]/.test(url) || url.startsWith('-')) return 'is empty, too long, has spaces or starts with "-"'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return 'is not a valid URL'
    }
    if (!['https:', 'http:', 'ssh:', 'file:', 'git:'].includes(u.protocol)) return `has the scheme "${u.protocol}", which is not supported; use https, ssh, file or a local path`
    if (u.password) return `carries a password or token; remove it from the URL and ${tokenHint}`
    // A user name alone is how ssh names its account; over http(s) it is usually a token.
    if (u.username && (u.protocol === 'https:' || u.protocol === 'http:')) return `carries a user name or token before "@"; remove it from the URL and ${tokenHint}`
    return undefined
  }
  if (/^[a-z0-9+.-]+::/i.test(url)) return 'uses a git remote helper (transport::address), which is not allowed'
  return undefined
}

/** Why `ref` is not a branch, tag or full sha, or undefined. */
export function gitRefProblem(ref: string): string | undefined {
  return GIT_SHA.test(ref) || GIT_REF_NAME.test(ref) ? undefined : `ref "${ref}" is not a branch, tag or full commit sha`
}

/** Why `path` is not a folder inside the repository, or undefined. */
export function repoPathProblem(path: string): string | undefined {
  if (path.startsWith('/') || path.split('/').includes('..')) return `"${path}" must be a folder inside the repository (relative, without "..")`
  return undefined
}
