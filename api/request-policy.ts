import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { HttpError } from './http-error.ts'

/**
 * Browser safety of the HTTP API: the Host header must name this server (against DNS
 * rebinding), a cross-origin request is refused unless its origin is allowed, and JSON
 * endpoints take only their documented content types in UTF-8 (a form or `text/plain` post,
 * which a page can send without a preflight, is refused).
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1']

/** True for an address or name that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (bare === 'localhost' || bare === '::1') return true
  return isIP(bare) === 4 && bare.startsWith('127.')
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

/**
 * The Host names the API answers to; undefined means any (a wildcard listener, which needs
 * tokens, with no names configured).
 */
export function allowedHostNames(
  listenHost: string,
  configured: readonly string[],
): ReadonlySet<string> | undefined {
  if (configured.length > 0) return new Set(configured.map((h) => h.toLowerCase()))
  if (WILDCARD_HOSTS.has(listenHost)) return undefined
  return new Set([...LOOPBACK_NAMES, listenHost.replace(/^\[|\]$/g, '').toLowerCase()])
}

/** The host name of a Host header, without port or IPv6 brackets. */
function hostName(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header)
  if (bracketed) return bracketed[1]!.toLowerCase()
  return header.replace(/:\d+$/, '').toLowerCase()
}

export function checkHost(
  request: IncomingMessage,
  allowed: ReadonlySet<string> | undefined,
): void {
  if (!allowed) return
  const header = request.headers.host
  if (!header || !allowed.has(hostName(header))) {
    throw new HttpError(
      421,
      `host "${header ?? ''}" is not served here; add it to http.allowedHosts if it is this server`,
    )
  }
}

/**
 * Checks the Origin of a browser request. Same-origin requests (the dashboard) and origins in
 * the allow-list pass; the returned origin is echoed in CORS headers when it was allowed by
 * the list. Requests without Origin (curl, SDKs) pass.
 */
export function checkOrigin(
  request: IncomingMessage,
  allowedOrigins: readonly string[],
): string | undefined {
  const origin = request.headers.origin
  if (origin === undefined) return undefined
  if (allowedOrigins.includes(origin)) return origin
  let sameOrigin = false
  try {
    sameOrigin = new URL(origin).host === request.headers.host
  } catch {
    // An Origin that is not a URL ("null" from a sandboxed page) is cross-origin.
  }
  if (sameOrigin) return undefined
  throw new HttpError(
    403,
    `cross-origin request refused: origin ${origin} is not in http.allowedOrigins`,
  )
}

/** CORS headers for an allowed origin (none without one). */
export function corsHeaders(origin: string | undefined): Record<string, string> {
  if (origin === undefined) return {}
  return { 'access-control-allow-origin': origin, vary: 'Origin' }
}

/** Answers a CORS preflight: allowed origins get the methods and headers the API uses. */
export function preflightHeaders(origin: string): Record<string, string> {
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, DELETE',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-max-age': '600',
  }
}

/**
 * Checks the media type against the endpoint's list; a charset other than UTF-8 is refused
 * with a clear error instead of being misread.
 */
export function checkContentType(
  request: IncomingMessage,
  accepted: readonly string[],
  hint?: string,
): string {
  const header = request.headers['content-type']
  if (!header) {
    throw new HttpError(415, `a Content-Type header is required: one of ${accepted.join(', ')}`)
  }
  const [type, ...parameters] = header.split(';').map((part) => part.trim())
  const mediaType = type!.toLowerCase()
  if (!accepted.includes(mediaType)) {
    throw new HttpError(
      415,
      `Content-Type ${mediaType} is not accepted here; send one of ${accepted.join(', ')}${hint ? ` (${hint})` : ''}`,
    )
  }
  for (const parameter of parameters) {
    const [name, value = ''] = parameter.split('=').map((part) => part.trim())
    if (name?.toLowerCase() !== 'charset') continue
    const charset = value.replace(/^"|"$/g, '').toLowerCase()
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError(415, `charset ${charset} is not supported: send the body in UTF-8`)
    }
  }
  return mediaType
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Decodes a body as UTF-8, dropping a byte-order mark; invalid bytes are refused, not replaced. */
export function decodeUtf8(body: Buffer): string {
  try {
    return strictUtf8.decode(body)
  } catch {
    throw new HttpError(400, 'the body is not valid UTF-8')
  }
}
