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

/** What a budget reads of one key's spend. */
export interface KeySpend {
  key: string
  tenant: string
  cost_usd: string
}

/** Spend per key of one dimension and window, read from somewhere other than the windows. */
export type KeySpendLookup = (query: ViewQuery) => Promise<KeySpend[]>

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
  const usage = budgetQueries(budgets, now, perBudget, tenant).flatMap(({ budget, query }) =>
    usageOf(budget, spend(query).items),
  )
  return usage.sort((a, b) => b.used_permille - a.used_permille)
}

/**
 * `budgetUsage` read through an asynchronous lookup: the audit's rollups, which hold every
 * key, where the live windows of one Kafka instance hold only the keys it owns.
 */
export async function budgetUsageFrom(
  budgets: readonly Budget[],
  spend: KeySpendLookup,
  now: number,
  perBudget = 20,
): Promise<BudgetUsage[]> {
  const usage: BudgetUsage[] = []
  for (const { budget, query } of budgetQueries(budgets, now, perBudget))
    usage.push(...usageOf(budget, await spend(query)))
  return usage.sort((a, b) => b.used_permille - a.used_permille)
}

type PeriodBudget = Budget & { period: 'day' | 'month' }

/** The spend each day and month USD budget is compared with, as a window query. */
function budgetQueries(
  budgets: readonly Budget[],
  now: number,
  perBudget: number,
  tenant?: string,
): Array<{ budget: PeriodBudget; query: ViewQuery }> {
  const queries: Array<{ budget: PeriodBudget; query: ViewQuery }> = []
  for (const budget of budgets) {
    if ((budget.period !== 'day' && budget.period !== 'month') || !budget.limit_usd) continue
    queries.push({
      budget: budget as PeriodBudget,
      query: {
        dimension: budget.scope.kind,
        window: budget.period,
        asOf: now,
        limit: perBudget,
        ...(tenant === undefined ? {} : { tenant }),
        ...(budget.scope.value === '*' ? {} : { key: budget.scope.value }),
      },
    })
  }
  return queries
}

function usageOf(budget: PeriodBudget, items: readonly KeySpend[]): BudgetUsage[] {
  const limit = parseUsd(budget.limit_usd!)
  return items.map((item) => ({
    budget: budget.id,
    scope: budget.scope.kind,
    key: item.key,
    tenant: item.tenant,
    period: budget.period,
    limit_usd: formatUsd(limit),
    spent_usd: item.cost_usd,
    used_permille: Number((parseUsd(item.cost_usd) * 1000n) / limit),
    on_exceed: budget.on_exceed,
  }))
}
