import type { SpendView, ViewQuery } from '../processors/windows/spend-windows.ts'
import { DIMENSIONS, isDimension } from '../processors/windows/spend-windows.ts'
import { WINDOWS, isWindowName } from '../processors/windows/window-spans.ts'
import { HttpError } from './http-error.ts'

/** Items answered when the request names no limit; at most MAX_LIMIT. */
const DEFAULT_LIMIT = 20
const MAX_LIMIT = 1_000_000

/**
 * The query of `GET /v1/spend?dimension=user&window=15m&limit=20[&tenant=T][&key=K][&as_of=ISO]`:
 * each bad or unknown parameter is a 400 naming it. A token bound to a tenant sees only that
 * tenant. `as_of` (default now) fixes the windows' end, so two reads can be compared.
 */
export function parseSpendQuery(
  search: URLSearchParams,
  asOf: number,
  boundTenant: string | undefined,
): ViewQuery {
  for (const name of search.keys())
    if (!['dimension', 'window', 'limit', 'tenant', 'key', 'as_of'].includes(name))
      throw new HttpError(400, `unknown parameter "${name}"`)
  const dimension = search.get('dimension') ?? 'agent'
  if (!isDimension(dimension))
    throw new HttpError(400, `dimension must be one of ${DIMENSIONS.join(', ')}`)
  const window = search.get('window') ?? '15m'
  if (!isWindowName(window)) throw new HttpError(400, `window must be one of ${WINDOWS.join(', ')}`)
  const limitText = search.get('limit') ?? String(DEFAULT_LIMIT)
  const limit = Number(limitText)
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT)
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_LIMIT}`)
  const tenant = search.get('tenant') ?? boundTenant
  if (boundTenant !== undefined && tenant !== boundTenant)
    throw new HttpError(403, `this token may read tenant "${boundTenant}" only`)
  const key = search.get('key') ?? undefined
  const asOfText = search.get('as_of')
  const at = asOfText === null ? asOf : Date.parse(asOfText)
  if (Number.isNaN(at)) throw new HttpError(400, 'as_of must be an ISO-8601 time')
  return { dimension, window, asOf: at, limit, tenant, key }
}

/** Answers GET /v1/spend from the live windows. */
export function answerSpend(
  url: string,
  asOf: number,
  boundTenant: string | undefined,
  view: (query: ViewQuery) => SpendView,
) {
  const search = new URL(url, 'http://localhost').searchParams
  return { status: 200, body: view(parseSpendQuery(search, asOf, boundTenant)) }
}
