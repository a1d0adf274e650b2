import { formatUsd, parseUsd } from '../../platform/money.ts'
import type { SpendView, ViewQuery } from '../windows/spend-windows.ts'
import type { Budget } from './rules.ts'

/** How much of a day or month USD budget one key of its scope has spent in the period now. */
export interface BudgetUsage {
  budget: string
  scope: string
  key: string
  tenant: string
  period: 'day' | 'month'
  limit_usd: string
  spent_usd: string
  /** Tenths of a percent, rounded down: exact enough to sort and to read. */
  used_permille: number
  on_exceed: Budget['on_exceed']
}

/** Live spend of one dimension and window (the running pipeline's windows). */
export type SpendLookup = (query: ViewQuery) => SpendView

/**
 * The use of each day and month USD budget by the keys of its scope (the most spent first, at
 * most `perBudget` keys each, of one tenant when given), read from the live windows at `now`. Budgets of other periods
 * (per call, session, token rate, total) have no window to read and are left out.
 */
export function budgetUsage(
  budgets: readonly Budget[],
  spend: SpendLookup,
  now: number,
  perBudget = 20,
  tenant?: string,
): BudgetUsage[] {
  const usage: BudgetUsage[] = []
  for (const budget of budgets) {
    if ((budget.period !== 'day' && budget.period !== 'month') || !budget.limit_usd) continue
    const limit = parseUsd(budget.limit_usd)
    const view = spend({
      dimension: budget.scope.kind,
      window: budget.period,
      asOf: now,
      limit: perBudget,
      ...(tenant === undefined ? {} : { tenant }),
      ...(budget.scope.value === '*' ? {} : { key: budget.scope.value }),
    })
    for (const item of view.items) {
      const spent = parseUsd(item.cost_usd)
      usage.push({
        budget: budget.id,
        scope: budget.scope.kind,
        key: item.key,
        tenant: item.tenant,
        period: budget.period,
        limit_usd: formatUsd(limit),
        spent_usd: item.cost_usd,
        used_permille: Number((spent * 1000n) / limit),
        on_exceed: budget.on_exceed,
      })
    }
  }
  return usage.sort((a, b) => b.used_permille - a.used_permille)
}
