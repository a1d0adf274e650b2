import { formatUsd, parseUsd, type Femtos } from './money.ts'

/** The tenant and key of the series that sums every key beyond the bound. */
export const OTHER_KEYS = '__other__'

/** One spend series of a window and dimension, as exposed. */
export interface SpendSeries {
  tenant: string
  key: string
  /** USD as a float: converted from the exact sum here, at exposition, and nowhere else. */
  usd: number
}

/**
 * Bounds the series of one window and dimension: the `maxKeys` most expensive keys (ties by
 * tenant, then key) keep a series of their own, and the rest are summed, exactly, into one
 * series whose tenant and key are `__other__`. That series is there only when something was
 * left out, so a view holds at most `maxKeys + 1` series whatever the traffic, and the series
 * always add up to the view's total.
 */
export function boundedSpend(
  items: ReadonlyArray<{ tenant: string; key: string; cost_usd: string }>,
  maxKeys: number,
): SpendSeries[] {
  const costed = items.map((item) => ({ ...item, femtos: parseUsd(item.cost_usd) }))
  costed.sort(
    (a, b) => compare(b.femtos, a.femtos) || compare(a.tenant, b.tenant) || compare(a.key, b.key),
  )
  const series = costed
    .slice(0, maxKeys)
    .map(({ tenant, key, femtos }) => ({ tenant, key, usd: toUsd(femtos) }))
  const rest = costed.slice(maxKeys)
  if (rest.length > 0) {
    const sum = rest.reduce((total, item) => total + item.femtos, 0n)
    series.push({ tenant: OTHER_KEYS, key: OTHER_KEYS, usd: toUsd(sum) })
  }
  return series
}

/** The float nearest to an exact amount. */
function toUsd(femtos: Femtos): number {
  return Number(formatUsd(femtos))
}

function compare<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0
}
