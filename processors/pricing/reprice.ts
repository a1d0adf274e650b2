import { createHash } from 'node:crypto'
import { formatUsd, parseUsd, type Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { Pricer } from './pricer.ts'

/**
 * Repricing without rewriting history. An audited call that was unpriced, or whose price under
 * the current catalogs differs from the cost the audit gives it (its row plus earlier
 * adjustments), gets an adjustment row: the new cost and the difference. Nothing is updated or
 * deleted; spend is the audit's costs plus the adjustments' differences.
 */

/** An audited call as repricing reads it: what prices it, and what the audit says it costs. */
export interface AuditedCall {
  call: LlmCall
  /** The cost the audit gives the call now (row plus adjustments); undefined while unpriced. */
  costUsd?: string
  /** The price version behind that cost (the row's, or the latest adjustment's). */
  priceVersion?: string
  /** The latest adjustment of the call, if any: the next one is derived from it. */
  lastAdjustmentId?: string
  unpricedReason?: string
}

export interface Adjustment {
  adjustment_id: string
  event_id: string
  occurred_at: number
  tenant_id: string
  agent_id: string
  feature_id: string | null
  user_id: string | null
  team_id: string | null
  model: string
  previous_price_version: string | null
  price_version: string
  priced_model: string
  cost_usd: string
  cost_delta_usd: string
  reason: string
  actor: string
  adjusted_at: number
}

export interface RepriceSummary {
  examined: number
  /** Adjustments appended (or that would be, in a dry run). */
  adjusted: number
  /** Unpriced before and priced now. */
  newlyPriced: number
  /** Still unpriced: no price source knows them yet. */
  stillUnpriced: number
  /** Sum of the differences, exact decimal USD. */
  deltaUsd: string
  adjustments: Adjustment[]
}

/**
 * A UUID derived from the call, the adjustment it had last (or its audited price) and the cost
 * it gets, so the same repricing appends nothing twice while a later change back and forth
 * (A, B, A, B) is a new row each time.
 */
function adjustmentId(eventId: string, from: string, to: string): string {
  const hex = createHash('sha256').update(`${eventId}|${from}|${to}`).digest('hex')
  // Version 8 (custom) UUID layout, variant 10.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** A summary of nothing examined yet. */
export function emptySummary(): RepriceSummary {
  return {
    examined: 0,
    adjusted: 0,
    newlyPriced: 0,
    stillUnpriced: 0,
    deltaUsd: '0',
    adjustments: [],
  }
}

export function reprice(
  calls: Iterable<AuditedCall>,
  options: { pricer: Pricer; actor: string; now: number },
): RepriceSummary {
  const summary = emptySummary()
  let delta: Femtos = 0n
  for (const audited of calls) {
    summary.examined++
    const price = options.pricer.price(audited.call)
    if (price.status === 'unpriced') {
      if (audited.costUsd === undefined) summary.stillUnpriced++
      continue
    }
    const newCost = price.cost.total
    const oldCost = audited.costUsd === undefined ? undefined : parseUsd(audited.costUsd)
    if (oldCost === newCost) continue
    const { call } = audited
    const costText = formatUsd(newCost)
    const change = newCost - (oldCost ?? 0n)
    delta += change
    if (oldCost === undefined) summary.newlyPriced++
    summary.adjustments.push({
      adjustment_id: adjustmentId(
        call.event_id,
        audited.lastAdjustmentId ??
          `${audited.priceVersion ?? 'unpriced'}=${audited.costUsd ?? ''}`,
        `${price.priceVersion}=${costText}`,
      ),
      event_id: call.event_id,
      occurred_at: call.occurred_at,
      tenant_id: call.tenant_id,
      agent_id: call.agent_id,
      feature_id: call.feature_id ?? null,
      user_id: call.user_id ?? null,
      team_id: call.team_id ?? null,
      model: call.model,
      previous_price_version: audited.priceVersion ?? null,
      price_version: price.priceVersion,
      priced_model: price.entry.id,
      cost_usd: costText,
      cost_delta_usd: formatUsd(change),
      reason:
        oldCost === undefined
          ? `was unpriced (${audited.unpricedReason ?? 'no reason recorded'}); priced by ${price.why}`
          : `cost under ${audited.priceVersion ?? 'an earlier catalog'} was ${formatUsd(oldCost)}; now priced by ${price.why}`,
      actor: options.actor,
      adjusted_at: options.now,
    })
  }
  summary.adjusted = summary.adjustments.length
  summary.deltaUsd = formatUsd(delta)
  return summary
}
