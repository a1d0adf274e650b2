import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { accessTokenSchema, type AccessTokenConfig, type Config } from '../platform/config.ts'
import { ConfigError } from '../platform/errors.ts'
import type { Logger } from '../platform/logger.ts'

/**
 * The HTTP API's access tokens. A token has a role (ingest, read, admin) and may be bound to a
 * tenant. Tokens come from the configuration (inline, a file, or an environment variable) and
 * from a tokens file; files are re-read when they change and on `reload()` (SIGHUP), so a
 * token is rotated without a restart. Only SHA-256 digests are kept, compared in constant time;
 * the secrets are never logged.
 */

export type Role = 'ingest' | 'read' | 'admin'

/** Who made a request: the token's name and what it may do. */
export interface Principal {
  name: string
  role: Role
  tenant?: string
}

export interface AccessTokens {
  /** True when no token was configured at start: the API is open (allowed on loopback only). */
  isOpen(): boolean
  /** The principal of a presented token, or undefined for an unknown one. */
  identify(presented: string): Principal | undefined
  /** Re-reads every file source; a broken file keeps the tokens it gave before. */
  reload(): void
  /**
   * Adds a token that lives as long as this process (the demo's own traffic); returns it.
   * It does not open or close the API: isOpen() looks at configured tokens only.
   */
  issueProcessToken(name: string, role: Role): string
  /** Stops watching files. */
  close(): void
}

/** True when `principal` may act as `role`: admin may do everything. */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.role === 'admin' || principal.role === role
}

interface Entry extends Principal {
  digest: Buffer
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest()

export interface AccessTokensOptions {
  auth: Config['auth']
  env: Record<string, string | undefined>
  logger: Logger
  /** Watch token files for changes (off in tests, which call reload()). */
  watch?: boolean
}

function secretOf(token: AccessTokenConfig, env: AccessTokensOptions['env']): string {
  if (token.token !== undefined) return token.token
  if (token.tokenEnv !== undefined) {
    const value = env[token.tokenEnv]
    if (!value) throw new ConfigError(`auth token "${token.name}": ${token.tokenEnv} is not set`)
    if (value.length < 16)
      throw new ConfigError(`auth token "${token.name}": ${token.tokenEnv} is under 16 characters`)
    return value
  }
  const file = resolve(token.tokenFile!)
  let value: string
  try {
    value = readFileSync(file, 'utf8').trim()
  } catch (cause) {
    throw new ConfigError(`auth token "${token.name}": cannot read ${file}`, cause)
  }
  if (value.length < 16)
    throw new ConfigError(`auth token "${token.name}": the token in ${file} is under 16 characters`)
  return value
}

function readTokensFile(file: string): AccessTokenConfig[] {
  let document: unknown
  try {
    document = JSON.parse(readFileSync(file, 'utf8'))
  } catch (cause) {
    throw new ConfigError(`tokens file ${file} cannot be read as JSON`, cause)
  }
  const parsed = z.array(accessTokenSchema).safeParse(document)
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ')
    throw new ConfigError(`tokens file ${file}: ${detail}`)
  }
  return parsed.data
}

export function createAccessTokens(options: AccessTokensOptions): AccessTokens {
  const { auth, env, logger } = options
  const tokensFile = auth.tokensFile ? resolve(auth.tokensFile) : undefined

  function load(): Entry[] {
    const configured = [...auth.tokens, ...(tokensFile ? readTokensFile(tokensFile) : [])]
    return configured.map((token) => ({
      name: token.name,
      role: token.role,
      ...(token.tenant ? { tenant: token.tenant } : {}),
      digest: digestOf(secretOf(token, env)),
    }))
  }

  let entries = load()
  // Open or closed is decided once, at start: a token file emptied later must not open an API
  // that was started behind tokens.
  const open = entries.length === 0
  const processEntries: Entry[] = []
  const watched = [
    ...(tokensFile ? [tokensFile] : []),
    ...auth.tokens.flatMap((t) => (t.tokenFile ? [resolve(t.tokenFile)] : [])),
  ]

  function reload(): void {
    try {
      const loaded = load()
      if (loaded.length === 0 && !open) {
        logger.error(
          'access tokens not reloaded: the new set is empty; the previous ones stay in force',
        )
        return
      }
      entries = loaded
      logger.info({ tokens: entries.map((e) => e.name) }, 'access tokens reloaded')
    } catch (error) {
      logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        'access tokens not reloaded; the previous ones stay in force',
      )
    }
  }

  if (options.watch) {
    for (const file of watched) watchFile(file, { interval: 1000, persistent: false }, reload)
  }

  return {
    isOpen: () => open,
    identify(presented) {
      const digest = digestOf(presented)
      let found: Entry | undefined
      // Every entry is compared, so the time taken does not tell which one matched.
      for (const entry of [...entries, ...processEntries]) {
        if (timingSafeEqual(entry.digest, digest) && !found) found = entry
      }
      if (!found) return undefined
      return {
        name: found.name,
        role: found.role,
        ...(found.tenant ? { tenant: found.tenant } : {}),
      }
    },
    reload,
    issueProcessToken(name, role) {
      const token = randomBytes(32).toString('base64url')
      processEntries.push({ name, role, digest: digestOf(token) })
      return token
    },
    close() {
      for (const file of watched) unwatchFile(file, reload)
    },
  }
}
